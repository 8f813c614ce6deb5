/* posix_port.c - the port seam for Linux user mode and the host: stdio console, exit().
 * Shared by the host and arm targets (their target.toml lists it). */
#include <stdio.h>
#include <stdlib.h>

#include "ek_port.h"

/* Line-buffered even into a pipe, so a runner talking request/response over stdin and
 * stdout sees each reply line at once (full buffering would hold it until exit). */
void ek_port_setup(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void ek_port_exit(int code)
{
    exit(code);                         /* flushes stdout */
}

void ek_port_putc(char c)
{
    putchar((unsigned char)c);
}

void ek_port_flush(void)
{
    fflush(stdout);
}

int ek_port_getc(void)
{
    int c = getchar();
    return c == EOF ? -1 : c;
}

/* No cycle counter worth reporting on the host: figures come from instruction counts. */
uint32_t ek_port_cycles(void)
{
    return 0;
}

void ek_port_stack_paint(void)
{
}

int32_t ek_port_stack_used(void)
{
    return -1;
}

/* stdin is a pipe here, fast enough for any batch: no preloaded input area. */
const ek_bulk_input_t *ek_port_bulk_input(void)
{
    return NULL;
}
