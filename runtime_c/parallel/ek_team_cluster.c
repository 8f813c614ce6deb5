/* ek_team_cluster.c - ek_parallel.h on a PULP-style cluster (target.toml `parallel =
 * "cluster"`: gap8 and pulp-open on QEMU virt, pulp-open on GVSoC), and the loop the
 * cluster cores park in. Core 0 of a team is the core that runs the harness and forks;
 * core c > 0 is the cluster core the port numbers c. Until a fork, cores sleep.
 *
 * The hardware is the target's `ek_cluster.h` (a port file, copied to runtime/port/):
 *   EK_CLUSTER_CORES              the largest team (target.toml `cores`);
 *   EK_CLUSTER_PARKED             the cores that park in ek_team_worker (1..PARKED);
 *   ek_cluster_core()             this core's number;
 *   ek_cluster_wake(first, end)   wake cores first..end-1 (0..1: core 0 alone);
 *   ek_cluster_sleep(core)        return when woken, or at once where that core polls;
 *                                 may return for an older wake-up: callers re-check.
 * A port makes sure no wake-up is lost between a check and the sleep (the QEMU virt port
 * clears its msip before reading shared words, GVSoC's event unit buffers events).
 *
 * No atomics (rv32imc has none): every shared word has a single writer.
 *   fork (core 0):  fn, arg, size; fence; generation += 1; fence; wake cores 1..size-1;
 *                   run fn itself; then join: sleep until done[c] == generation for each.
 *   worker (c):     sleep until woken; if generation is new and c < size: run fn
 *                   between the profiling markers (one interval per fork on this core);
 *                   fence; done[c] = generation; fence; wake core 0.
 *   barrier:        each core writes its own arrived[c] = tag and wakes core 0; core 0
 *                   sleeps until all tags are there, writes released = tag and wakes the
 *                   others, who sleep until they see it. tag = generation and barrier
 *                   number, compared for equality, so stale values never match.
 * A core reads no shared word before its first wake-up, which comes after core 0 zeroed
 * .bss. */
#include <stdint.h>

#include "ek_cluster.h"
#include "ek_common.h"
#include "ek_markers.h"
#include "ek_parallel.h"

#define TEAM_MAX ((uint32_t)EK_CLUSTER_CORES)

/* In .bss, so in L1 next to the data a parallel kernel shares. */
static struct {
    ek_team_fn_t volatile fn;
    void *volatile arg;
    volatile uint32_t size;                 /* cores in the running fork, 1 outside */
    volatile uint32_t generation;           /* one per fork */
    volatile uint32_t done[TEAM_MAX];
    volatile uint32_t arrived[TEAM_MAX];
    volatile uint32_t released;
} team;
static uint32_t barriers_passed[TEAM_MAX]; /* per core, only core c touches [c] */

/* Per core: how deep it is in one-core teams. A kernel called inside a batch-mode worker
 * forks a team of one; that must look like a team of one to it, and leave the outer
 * team's state alone. Only core c touches solo[c]. */
static uint32_t solo[EK_CLUSTER_PARKED + 1];

void ek_team_worker(uint32_t core) __attribute__((noreturn));

static inline void fence(void)
{
    __asm__ volatile("fence iorw, iorw" ::: "memory");
}

uint32_t ek_team_max_cores(void)
{
    return EK_N_CORES < TEAM_MAX ? EK_N_CORES : TEAM_MAX;
}

uint32_t ek_core_id(void)
{
    const uint32_t core = ek_cluster_core();
    return solo[core] != 0u ? 0u : core;
}

uint32_t ek_team_size(void)
{
    if (solo[ek_cluster_core()] != 0u) return 1u;
    return team.size == 0u ? 1u : team.size;  /* 0 = .bss before the first fork */
}

/* Entered from _start on the core's own stack (targets/common/riscv_startup.c). */
void ek_team_worker(uint32_t core)
{
    if (core == 0u)
        __builtin_unreachable();            /* core 0 never parks (lets a port drop its check) */
    uint32_t seen = 0u;                     /* the first fork is generation 1 */
    for (;;) {
        ek_cluster_sleep(core);
        const uint32_t gen = team.generation;
        if (gen == seen)
            continue;                       /* a repeated wake-up */
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
        ek_cluster_wake(0u, 1u);
    }
}

void ek_team_fork(uint32_t n_cores, ek_team_fn_t fn, void *arg)
{
    const uint32_t max = ek_team_max_cores();
    const uint32_t n = n_cores < 1u ? 1u : (n_cores > max ? max : n_cores);
    if (n == 1u) {
        const uint32_t core = ek_cluster_core();
        solo[core]++;
        fn(arg);
        solo[core]--;
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
    ek_cluster_wake(1u, n);
    fn(arg);
    ek_mark_wait_begin();                   /* join: reported apart from the work */
    for (uint32_t c = 1u; c < n; ) {
        if (team.done[c] == gen)
            c++;
        else
            ek_cluster_sleep(0u);
    }
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
        for (uint32_t c = 1u; c < n; ) {
            if (team.arrived[c] == tag)
                c++;
            else
                ek_cluster_sleep(0u);
        }
        fence();
        team.released = tag;
        fence();
        ek_cluster_wake(1u, n);
    } else {
        ek_cluster_wake(0u, 1u);
        while (team.released != tag)
            ek_cluster_sleep(id);
    }
    fence();
    ek_mark_wait_end();
}
