/* ek_cluster.h (pulp-open --sim gvsoc) - the cluster under runtime_c/parallel/
 * ek_team_cluster.c (its header comment says what a port provides). Core c of a team is
 * cluster core c (mhartid = cluster << 5 | core); core 0 runs the harness and forks, cores
 * 1..7 park. Every team member is a cluster core working on L1, as a PMSIS cluster task.
 *
 * Sleeping and waking use the cluster event unit: software event 0, triggered for a mask
 * of cores; a core sleeps (clock-gated) by reading its EVENT_WAIT_CLEAR register. An event
 * sent before the core sleeps stays buffered, so no wake-up is lost. Core 0 polls instead
 * of sleeping, so its cycle counter spans the whole inference (a clock-gated core's
 * counter stops): sleeping is a no-op for it and it is never woken. A parked core listens
 * to software event 0 from reset (the start-up code sets its event mask before parking it). */
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
#define EK_SW_EVENT0 0x1u

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

#endif
