/* ek_cluster.h (gap8, pulp-open on QEMU virt) - the cluster under runtime_c/parallel/
 * ek_team_cluster.c (its header comment says what a port provides). Core c is hart c:
 * hart 0 is the fabric controller, which runs the harness and is core 0 of every team;
 * harts 1..8 are the cluster cores and park until a fork wakes them.
 *
 * Waking is a machine software interrupt through the CLINT (msip), left pending with
 * global interrupts off so wfi returns; on GAP8/PULP silicon the event unit does this.
 * A sleeper clears its msip *before* reading shared words and a waker writes them *before*
 * setting msip, so no wake-up is lost between the check and the wfi. */
#ifndef EK_CLUSTER_H
#define EK_CLUSTER_H
#include <stdint.h>

/* GAP8 and PULP-OPEN: 8 cluster cores (target.toml `cores`). No `u` suffix: the start-up
 * code also uses these in assembly. */
#define EK_CLUSTER_CORES 8
#define EK_CLUSTER_PARKED 8                 /* harts 1..8 park (QEMU runs -smp 9) */

#define EK_CLINT_MSIP(hart) (*(volatile uint32_t *)(0x02000000u + 4u * (hart)))
#define EK_MIP_MSIP 0x8u

static inline uint32_t ek_cluster_core(void)
{
    uint32_t hart;
    __asm__ volatile("csrr %0, mhartid" : "=r"(hart));
    return hart;
}

static inline void ek_cluster_wake(uint32_t first, uint32_t end)
{
    for (uint32_t h = first; h < end; h++)
        EK_CLINT_MSIP(h) = 1u;
}

/* wfi may return for no reason, hence the loop on mip; msip is cleared before returning. */
static inline void ek_cluster_sleep(uint32_t core)
{
    __asm__ volatile("csrs mie, %0" ::"r"(EK_MIP_MSIP));
    for (;;) {
        uint32_t mip;
        __asm__ volatile("csrr %0, mip" : "=r"(mip));
        if (mip & EK_MIP_MSIP)
            break;
        __asm__ volatile("wfi");
    }
    EK_CLINT_MSIP(core) = 0u;
    __asm__ volatile("fence iorw, iorw" ::: "memory");
}

/* Start-up (targets/common/riscv_startup.c): QEMU virt (-bios none) starts every hart at
 * once at the start of DRAM, hart number = core number; nothing to add. */
#define EK_CLUSTER_START_EVERY ""
#define EK_CLUSTER_START_PARKED ""
#define EK_CLUSTER_START_TAIL ""

#endif
