/* gvsoc_port.c (pulp-open --sim gvsoc) - the port seam on GVSoC: console and inputs through
 * RISC-V semihosting (host files in the simulator's working directory), exit through
 * semihosting, cycles from the performance counters, stack high-water of cluster core 0
 * (which runs the harness) by painting.
 *
 * Semihosting on RISC-V: a0 = operation, a1 = argument (a pointer to an argument block),
 * then `slli zero,zero,0x1f; ebreak; srai zero,zero,7`, uncompressed and not crossing a
 * 16-byte boundary (GVSoC recognizes the ebreak by the instruction before it). */
#include <stdint.h>

#include "ek_cluster.h"
#include "ek_port.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_FLEN 0x0C
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026  /* exit status 0 */
#define ADP_STOPPED_RUNTIME_ERROR 0x20023     /* GVSoC: exit status 1 */
#define OPEN_READ_BINARY 1                    /* fopen mode "rb" */
#define HOST_STDOUT 1

/* Where the runner's samples are loaded: GVSoC's L2 beyond the chip's 512 KiB (the model
 * never sees these addresses). Must agree with target.toml [variants.gvsoc.simulator]. */
#define BULK_INPUT_ADDR 0x1C080000u
#define BULK_INPUT_SIZE 0x00100000u
#define BULK_INPUT_FILE "ek_inputs.bin"
#define CONSOLE_FILE "ek_console.txt"      /* the text protocol, when samples do not fit */

__attribute__((noinline)) static int32_t semihost(int32_t op, const void *arg)
{
    register int32_t a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    __asm__ volatile(
        ".option push\n\t"
        ".option norvc\n\t"
        ".balign 16\n\t"
        "slli zero, zero, 0x1f\n\t"
        "ebreak\n\t"
        "srai zero, zero, 7\n\t"
        ".option pop"
        : "+r"(a0)
        : "r"(a1)
        : "memory");
    return a0;
}

static int32_t host_open(const char *name, uint32_t len)
{
    const uint32_t args[3] = {(uint32_t)(uintptr_t)name, OPEN_READ_BINARY, len};
    return semihost(SYS_OPEN, args);
}

/* Bytes actually read (SYS_READ returns how many were not). */
static uint32_t host_read(int32_t fd, void *buf, uint32_t len)
{
    const uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, len};
    return len - (uint32_t)semihost(SYS_READ, args);
}

/* GVSoC takes the descriptor itself in a1 for SYS_CLOSE and SYS_FLEN (not a block). */
static void host_close(int32_t fd)
{
    (void)semihost(SYS_CLOSE, (const void *)(uintptr_t)fd);
}

static void host_write(const char *buf, uint32_t len)
{
    const uint32_t args[3] = {HOST_STDOUT, (uint32_t)(uintptr_t)buf, len};
    (void)semihost(SYS_WRITE, args);
}

/* Core 0's output, a line at a time (one semihosting call per line, not per byte). */
static char out_buf[128];
static uint32_t out_len;

static void flush(void)
{
    if (out_len > 0u)
        host_write(out_buf, out_len);
    out_len = 0u;
}

void ek_port_setup(void)
{
    out_len = 0u;
}

void ek_port_putc(char c)
{
    if (ek_cluster_core() != 0u) {              /* a trap report from another core: unbuffered */
        host_write(&c, 1u);
        return;
    }
    out_buf[out_len++] = c;
    if (c == '\n' || out_len == sizeof out_buf)
        flush();
}

static int32_t console_fd = -2;         /* -2: not opened yet */
static char in_buf[128];
static uint32_t in_len, in_pos;

void ek_port_flush(void)
{
    flush();
}

int ek_port_getc(void)
{
    if (console_fd == -2)
        console_fd = host_open(CONSOLE_FILE, sizeof CONSOLE_FILE - 1u);
    if (console_fd < 0)
        return -1;
    if (in_pos == in_len) {
        in_len = host_read(console_fd, in_buf, sizeof in_buf);
        in_pos = 0u;
        if (in_len == 0u)
            return -1;
    }
    return (int)(uint8_t)in_buf[in_pos++];
}

/* The calling core's cycle counter (performance counter 0). */
uint32_t ek_port_cycles(void)
{
    uint32_t v;
    __asm__ volatile("csrr %0, 0x780" : "=r"(v));
    return v;
}

void ek_port_exit(int code)
{
    flush();
    __asm__ volatile("" ::: "memory");
    (void)semihost(SYS_EXIT, (const void *)(uintptr_t)(code == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                  : ADP_STOPPED_RUNTIME_ERROR));
    for (;;)
        __asm__ volatile("wfi");
}

/* The runner writes BULK_INPUT_FILE (an ek_bulk_input_t, or a bare header with magic 0 when
 * the samples exceed the area: then the harness reads CONSOLE_FILE). */
const ek_bulk_input_t *ek_port_bulk_input(void)
{
    const int32_t fd = host_open(BULK_INPUT_FILE, sizeof BULK_INPUT_FILE - 1u);
    if (fd < 0)
        return 0;
    const int32_t size = semihost(SYS_FLEN, (const void *)(uintptr_t)fd);
    const uint32_t got = size > 0 && (uint32_t)size <= BULK_INPUT_SIZE
                             ? host_read(fd, (void *)BULK_INPUT_ADDR, (uint32_t)size) : 0u;
    host_close(fd);
    return got == (uint32_t)size && got >= sizeof(ek_bulk_input_t) ? (const ek_bulk_input_t *)BULK_INPUT_ADDR : 0;
}

