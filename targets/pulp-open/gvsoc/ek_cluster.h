/* ek_cluster.h (pulp-open --sim gvsoc) - the cluster under runtime_c/parallel/
 * ek_team_cluster.c (its header comment says what a port provides). Core c of a team is
 * cluster core c (mhartid = cluster << 5 | core); core 0 runs the harness and forks, cores
 * 1..7 park. Every team member is a cluster core working on L1, as a PMSIS cluster task.
 *
 * Sleeping and waking use the cluster event unit: software event 0, triggered for a mask
 * of cores; a core sleeps (clock-gated) by reading its EVENT_WAIT_CLEAR register. An event
 * sent before the core sleeps stays buffered, so no wake-up is lost. Core 0 polls instead
 * of sleeping, so its cycle counter spans the whole inference (a clock-gated core's
 * counter stops): sleeping is a no-op for it and it is never woken. */
#ifndef EK_CLUSTER_H
#define EK_CLUSTER_H
#include <stdint.h>

/* No `u` suffix: the start-up code also uses these in assembly. */
#define EK_CLUSTER_CORES 8
#define EK_CLUSTER_PARKED 7                  /* cores 1..7 */

#define EK_EU_BASE 0x10204000u               /* event unit, this core's view (demux) */
#define EK_EU_MASK_OR_ADDR 0x10204008    /* no `u`: also used in assembly */
#define EK_EU_WAIT_CLEAR (*(volatile uint32_t *)(EK_EU_BASE + 0x3Cu))
#define EK_EU_TRIGGER_SW0 (*(volatile uint32_t *)(EK_EU_BASE + 0x100u))  /* write a core mask */
#define EK_SW_EVENT0 1                       /* its bit in the masks */

static inline uint32_t ek_cluster_core(void)
{
    uint32_t hart;
    __asm__ volatile("csrr %0, mhartid" : "=r"(hart));
    return hart & 0x1Fu;
}

static inline void ek_cluster_wake(uint32_t first, uint32_t end)
{
    if (first == 0u)
        return;                              /* core 0 polls: never asleep */
    EK_EU_TRIGGER_SW0 = ((1u << end) - 1u) & ~((1u << first) - 1u);
}

static inline void ek_cluster_sleep(uint32_t core)
{
    if (core == 0u)
        return;                              /* core 0 polls */
    (void)EK_EU_WAIT_CLEAR;
    __asm__ volatile("fence iorw, iorw" ::: "memory");
}

/* Start-up (targets/common/riscv_startup.c). GVSoC's ELF loader starts only the fabric
 * controller (mhartid = 31 << 5), at the ELF entry. It enables the cluster's shared
 * instruction cache (the PULP runtimes do; without it every fetch goes to L2), writes each
 * cluster core's boot address to the cluster controller and then the fetch-enable mask, and
 * sleeps for good (the run ends by semihosting exit from cluster core 0); it needs no
 * stack. Every cluster core switches its performance counters on (event mask CSR 0xCC0:
 * cycles and instructions; mode CSR 0xCC1: active; writing CSR 0x79F resets them all;
 * ek_markers.c reads them); a parked one listens to software event 0. */
#define EK_CLUSTER_STR_(x) #x
#define EK_CLUSTER_STR(x) EK_CLUSTER_STR_(x)
#define EK_FC_CLUSTER_ID 31
#define EK_CLUSTER_CTRL 0x10200000           /* fetch enable at +0x08, boot addresses at +0x40 */
#define EK_CLUSTER_ICACHE_CTRL 0x10201400    /* +0x00: enable (off at reset, as on silicon) */

#define EK_CLUSTER_START_EVERY \
    "srli t1, a0, 5\n\t" \
    "li t2, " EK_CLUSTER_STR(EK_FC_CLUSTER_ID) "\n\t" \
    "beq t1, t2, 3f\n\t" \
    "andi a0, a0, 0x1f\n\t" \
    "li t0, 3\n\t" \
    "csrw 0xCC0, t0\n\t"                     /* count event 0 (cycles) and 1 (instructions) */ \
    "li t0, 1\n\t" \
    "csrw 0xCC1, t0\n\t"                     /* counting on */ \
    "csrw 0x79F, zero\n\t"                   /* all counters to 0 */

#define EK_CLUSTER_START_PARKED \
    "li t0, " EK_CLUSTER_STR(EK_EU_MASK_OR_ADDR) "\n\t" \
    "li t1, " EK_CLUSTER_STR(EK_SW_EVENT0) "\n\t" \
    "sw t1, 0(t0)\n\t"                       /* wake on software event 0 */

#define EK_CLUSTER_START_TAIL \
    "3:\n\t"                                 /* fabric controller */ \
    "li t1, " EK_CLUSTER_STR(EK_CLUSTER_ICACHE_CTRL) "\n\t" \
    "li t2, -1\n\t" \
    "sw t2, 0(t1)\n\t" \
    "la t0, _start\n\t" \
    "li t1, " EK_CLUSTER_STR(EK_CLUSTER_CTRL) "\n\t" \
    "li t2, 0\n\t" \
    "li t3, " EK_CLUSTER_STR(EK_CLUSTER_CORES) "\n" \
    "4:\n\t" \
    "sw t0, 0x40(t1)\n\t" \
    "addi t1, t1, 4\n\t" \
    "addi t2, t2, 1\n\t" \
    "bltu t2, t3, 4b\n\t" \
    "li t1, " EK_CLUSTER_STR(EK_CLUSTER_CTRL) "\n\t" \
    "li t2, 0xFF\n\t" \
    "sw t2, 0x08(t1)\n" \
    "5:\n\t" \
    "wfi\n\t" \
    "j 5b\n"

#endif
