/* Kernel test firmware: runs each case of the generated nn_cases.h (benchmarks/nn_kernels/
 * nn_cases.h.j2, rendered by benchmarks/nn_kernel_fw.py) between the profiling markers and
 * prints its status, the scratch its kernel asks for and its output bytes in hex:
 *     EKCASE <index> <status> <scratch bytes> <hex bytes>
 * then EKDONE. The same file builds for the host, QEMU user mode and bare metal. */
#include <stdint.h>

#include "ek_markers.h"
#include "ek_nn.h"
#include "ek_parallel.h"
#include "ek_port.h"
#include "nn_cases.h"

static uint8_t out_buf[EK_OUT_BYTES] __attribute__((aligned(8)));
static uint8_t scratch[EK_SCRATCH_BYTES] __attribute__((aligned(8)));

static void put_str(const char *s)
{
    while (*s) ek_port_putc(*s++);
}

static void put_u32(uint32_t v)
{
    char buf[11];
    int i = 10;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u && i > 0);
    put_str(buf + i);
}

static void put_hex(const uint8_t *p, uint32_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (uint32_t i = 0; i < n; i++) {
        ek_port_putc(digits[p[i] >> 4]);
        ek_port_putc(digits[p[i] & 15u]);
    }
}

int main(void)
{
    ek_port_setup();
    for (uint32_t i = 0; i < EK_N_CASES; i++) {
        const ek_case_t *c = &ek_cases[i];
        const uint32_t need = c->scratch();
        const uint32_t have = (uint32_t)sizeof scratch;
        ek_ctx_t ctx = {ek_team_max_cores(), scratch, c->scratch_limit < have ? c->scratch_limit : have};
        ek_mark_begin();
        const ek_status_t st = c->run(&ctx, out_buf);
        ek_mark_end();
        put_str("EKCASE ");
        put_u32(i);
        ek_port_putc(' ');
        put_u32((uint32_t)(-(int32_t)st)); /* 0 = EK_OK, 1 = EK_ERR_ARG, 2 = EK_ERR_SCRATCH */
        ek_port_putc(' ');
        put_u32(need);
        ek_port_putc(' ');
        put_hex(out_buf, c->out_bytes);
        ek_port_putc('\n');
    }
    put_str("EKDONE\n");
    ek_port_flush();
    return 0;
}
