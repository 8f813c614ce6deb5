/* gvsoc_team.c (pulp-open --sim gvsoc) - ek_parallel.h on the pulp-open cluster under GVSoC,
 * and the loop the cluster cores park in. Core c of a team is cluster core c; core 0 runs
 * the harness and forks.
 *
 * No atomics (rv32imc has none): every shared word has a single writer, as in
 * common/riscv_virt_team.c, whose protocol this follows:
 *   fork (core 0):  fn, arg, size; fence; generation += 1; fence; wake cores 1..size-1;
 *                   run fn itself; then join: poll until done[c] == generation for each.
 *   worker (c):     sleep until woken; if generation is new and c < size: run fn between
 *                   the profiling markers; fence; done[c] = generation.
 *   barrier:        each core writes its own arrived[c] = tag; core 0 polls until all tags
 *                   are there, writes released = tag and wakes the others, who sleep until
 *                   they see it. tag = generation and barrier number, so stale values never
 *                   match.
 * Sleeping and waking use the cluster event unit: software event 0, triggered for a mask
 * of cores; a core sleeps (clock-gated) by reading its EVENT_WAIT_CLEAR register. An event
 * sent before the core sleeps stays buffered, so no wake-up is lost. Core 0 polls instead
 * of sleeping, so its cycle counter spans the whole inference (a clock-gated core's
 * counter stops). */
#include <stdint.h>

#include "ek_common.h"
#include "ek_markers.h"
#include "ek_parallel.h"

#define EK_CLUSTER_CORES 8u                       /* = gvsoc_startup.c, target.toml cores */
#define EK_EU_BASE 0x10204000u                    /* event unit, this core's view (demux) */
#define EK_EU_MASK_OR (*(volatile uint32_t *)(EK_EU_BASE + 0x08u))
#define EK_EU_WAIT_CLEAR (*(volatile uint32_t *)(EK_EU_BASE + 0x3Cu))
#define EK_EU_TRIGGER_SW0 (*(volatile uint32_t *)(EK_EU_BASE + 0x100u))  /* write a core mask */
#define EK_SW_EVENT0 0x1u

/* In .bss, so in L1 next to the data a parallel kernel shares. */
static struct {
    ek_team_fn_t volatile fn;
    void *volatile arg;
    volatile uint32_t size;                 /* cores in the running fork, 1 outside */
    volatile uint32_t generation;           /* one per fork */
    volatile uint32_t done[EK_CLUSTER_CORES];
    volatile uint32_t arrived[EK_CLUSTER_CORES];
    volatile uint32_t released;
} team;
static uint32_t barriers_passed[EK_CLUSTER_CORES]; /* only core c touches [c] */
/* Per core: how deep it is in one-core teams (a kernel inside a batch-mode worker forks a
 * team of one, which must look like one and leave the outer team alone). */
static uint32_t solo[EK_CLUSTER_CORES];

void ek_team_worker(uint32_t core) __attribute__((noreturn));

static inline void fence(void)
{
    __asm__ volatile("fence iorw, iorw" ::: "memory");
}

static uint32_t cluster_core(void)
{
    uint32_t hart;
    __asm__ volatile("csrr %0, mhartid" : "=r"(hart));
    return hart & 0x1Fu;
}

/* May return for an event meant for an earlier wait: callers re-check their condition. */
static void sleep_until_woken(void)
{
    (void)EK_EU_WAIT_CLEAR;
    fence();
}

static void wake(uint32_t n)                /* cores 1..n-1 */
{
    EK_EU_TRIGGER_SW0 = ((1u << n) - 1u) & ~1u;
}

uint32_t ek_team_max_cores(void)
{
    return EK_N_CORES < EK_CLUSTER_CORES ? EK_N_CORES : EK_CLUSTER_CORES;
}

uint32_t ek_core_id(void)
{
    const uint32_t c = cluster_core();
    return solo[c] != 0u ? 0u : c;
}

uint32_t ek_team_size(void)
{
    if (solo[cluster_core()] != 0u) return 1u;
    return team.size == 0u ? 1u : team.size;  /* 0 = .bss before the first fork */
}

/* Entered from _start on the core's own stack (gvsoc_startup.c). */
void ek_team_worker(uint32_t core)
{
    EK_EU_MASK_OR = EK_SW_EVENT0;           /* sleep until software event 0 */
    uint32_t seen = 0u;                     /* the first fork is generation 1 */
    for (;;) {
        sleep_until_woken();
        const uint32_t gen = team.generation;
        if (gen == seen)
            continue;                       /* a stale or repeated wake-up */
        seen = gen;
        if (core >= team.size)
            continue;                       /* not in this (smaller) team */
        barriers_passed[core] = 0u;
        ek_mark_begin();                    /* this core's share of the inference */
        team.fn(team.arg);
        ek_mark_end();
        fence();
        team.done[core] = gen;
        fence();
    }
}

void ek_team_fork(uint32_t n_cores, ek_team_fn_t fn, void *arg)
{
    const uint32_t max = ek_team_max_cores();
    const uint32_t n = n_cores < 1u ? 1u : (n_cores > max ? max : n_cores);
    if (n == 1u) {
        const uint32_t c = cluster_core();
        solo[c]++;
        fn(arg);
        solo[c]--;
        return;
    }
    barriers_passed[0] = 0u;
    team.fn = fn;
    team.arg = arg;
    team.size = n;
    fence();
    const uint32_t gen = team.generation + 1u;
    team.generation = gen;
    fence();
    wake(n);
    fn(arg);
    ek_mark_wait_begin();                   /* join: reported apart from the work */
    for (uint32_t c = 1u; c < n; )
        if (team.done[c] == gen)
            c++;
    ek_mark_wait_end();
    fence();
    team.size = 1u;
}

void ek_barrier(void)
{
    const uint32_t n = ek_team_size(), id = ek_core_id();
    if (n == 1u)
        return;
    const uint32_t tag = (team.generation << 8) | (++barriers_passed[id] & 0xFFu);
    ek_mark_wait_begin();
    fence();
    team.arrived[id] = tag;
    fence();
    if (id == 0u) {
        for (uint32_t c = 1u; c < n; )
            if (team.arrived[c] == tag)
                c++;
        fence();
        team.released = tag;
        fence();
        wake(n);
    } else {
        while (team.released != tag)
            sleep_until_woken();
    }
    fence();
    ek_mark_wait_end();
}
