/* riscv_boot.c - the C half of reset shared by the RISC-V bare-metal ports (QEMU virt and
 * GVSoC; the assembly half is riscv_startup.c): the boot core's .data/.bss
 * set-up before main(), the trap handler, and the parked cluster core's default loop.
 * The linker scripts define the __ek_* symbols. */
#include <stdint.h>

#include "ek_port.h"
#include "ek_protocol.h"

/* Exit code when a core takes a trap (illegal instruction, bad address...), so a crashed
 * firmware ends the simulation instead of jumping to address 0 and hanging. */
#define EK_EXIT_FAULT 250

extern uint32_t __ek_data_load[], __ek_data_start[], __ek_data_end[];
extern uint32_t __ek_tdata_load[], __ek_tls_base[], __ek_tdata_end[];
extern uint32_t __ek_bss_start[], __ek_bss_end[];

int main(void);
void ek_boot(void) __attribute__((noreturn));
void ek_trap(void) __attribute__((noreturn));
void ek_team_worker(uint32_t core) __attribute__((noreturn));

/* A cluster core's life when no team port is linked: sleep for good. */
__attribute__((weak, noreturn))
void ek_team_worker(uint32_t core)
{
    (void)core;
    for (;;)
        __asm__ volatile("wfi");
}

/* The boot core: the .data/.tdata images from L2 to L1, zero .tbss/.bss, run the harness.
 * no-tree-loop-distribute-patterns keeps the loops from becoming memcpy/memset calls. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns")))
void ek_boot(void)
{
    const uint32_t *src = __ek_data_load;
    for (uint32_t *dst = __ek_data_start; dst < __ek_data_end; )
        *dst++ = *src++;
    src = __ek_tdata_load;
    for (uint32_t *dst = __ek_tls_base; dst < __ek_tdata_end; )
        *dst++ = *src++;
    for (uint32_t *dst = __ek_bss_start; dst < __ek_bss_end; )
        *dst++ = 0;
    ek_port_exit(main());
}

/* Direct-mode mtvec needs a 4-byte aligned handler. Global interrupts stay off (mstatus.MIE
 * = 0), so only synchronous exceptions land here. "EKERR" makes the runner show it. */
__attribute__((aligned(4), noreturn))
void ek_trap(void)
{
    uint32_t cause, epc, hart;
    __asm__ volatile("csrr %0, mcause\n\tcsrr %1, mepc\n\tcsrr %2, mhartid"
                     : "=r"(cause), "=r"(epc), "=r"(hart));
    ek_write_str("EKERR trap on hart ");
    ek_write_int((int32_t)hart);
    ek_write_str(": mcause 0x");
    ek_write_hex32(cause);
    ek_write_str(" mepc 0x");
    ek_write_hex32(epc);
    ek_write_str("\n");
    ek_port_exit(EK_EXIT_FAULT);
}
