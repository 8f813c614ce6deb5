/* riscv_virt_team.c (gap8, pulp-open) - ek_parallel.h on QEMU virt's harts, and the loop the
 * cluster cores park in. Core 0 of a team is the caller, hart 0 (the fabric controller);
 * core c > 0 is hart c. Until a fork, cores sleep in wfi and cost the host nothing.
 *
 * No atomics (rv32imc has none): every shared word has a single writer.
 *   fork (core 0):  fn, arg, size; fence; generation += 1; fence; wake cores 1..size-1;
 *                   run fn itself; then join: sleep until done[c] == generation for each.
 *   worker (c):     sleep until woken; if generation is new and c < size: run fn
 *                   between the profiling markers (one plugin interval per fork on this
 *                   hart); fence; done[c] = generation; fence; wake hart 0.
 *   barrier:        each core writes its own arrived[c] = tag and wakes core 0; core 0
 *                   sleeps until all tags are there, writes released = tag and wakes the
 *                   others, who sleep until they see it. tag = generation and barrier
 *                   number, compared for equality, so stale values never match.
 * Waking is a machine software interrupt through the CLINT (msip), left pending with
 * global interrupts off so wfi returns; on GAP8/PULP silicon the event unit does this.
 * A sleeper clears its msip *before* reading shared words and a waker writes them *before*
 * setting msip, so no wake-up is lost between the check and the wfi. A core reads no
 * shared word before its first wake-up, which comes after hart 0 zeroed .bss. */
#include <stdint.h>

#include "ek_common.h"
#include "ek_markers.h"
#include "ek_parallel.h"

#define EK_CLUSTER_CORES 8u                 /* = riscv_virt_startup.c, target.toml cores */
#define EK_CLINT_MSIP(hart) (*(volatile uint32_t *)(0x02000000u + 4u * (hart)))
#define EK_MIP_MSIP 0x8u

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
static uint32_t barriers_passed[EK_CLUSTER_CORES]; /* per core, only core c touches [c] */

void ek_team_worker(uint32_t hart) __attribute__((noreturn));

static inline void fence(void)
{
    __asm__ volatile("fence iorw, iorw" ::: "memory");
}

/* wfi may return for no reason, hence the loop on mip; msip is cleared before returning. */
static void sleep_until_woken(uint32_t hart)
{
    __asm__ volatile("csrs mie, %0" ::"r"(EK_MIP_MSIP));
    for (;;) {
        uint32_t mip;
        __asm__ volatile("csrr %0, mip" : "=r"(mip));
        if (mip & EK_MIP_MSIP)
            break;
        __asm__ volatile("wfi");
    }
    EK_CLINT_MSIP(hart) = 0u;
    fence();
}

uint32_t ek_team_max_cores(void)
{
    return EK_N_CORES < EK_CLUSTER_CORES ? EK_N_CORES : EK_CLUSTER_CORES;
}

/* Per hart: how deep it is in one-core teams. A kernel called inside a batch-mode worker
 * forks a team of one; that must look like a team of one to it, and leave the outer
 * team's state alone. Only hart h touches solo[h]. */
static uint32_t solo[EK_CLUSTER_CORES + 1u];

static uint32_t hart_id(void)
{
    uint32_t hart;
    __asm__ volatile("csrr %0, mhartid" : "=r"(hart));
    return hart;
}

uint32_t ek_core_id(void)
{
    const uint32_t hart = hart_id();
    return solo[hart] != 0u ? 0u : hart;
}

uint32_t ek_team_size(void)
{
    if (solo[hart_id()] != 0u) return 1u;
    return team.size == 0u ? 1u : team.size;  /* 0 = .bss before the first fork */
}

/* Entered from _start on the core's own stack (riscv_virt_startup.c). */
void ek_team_worker(uint32_t hart)
{
    uint32_t seen = 0u;                     /* the first fork is generation 1 */
    for (;;) {
        sleep_until_woken(hart);
        const uint32_t gen = team.generation;
        if (gen == seen)
            continue;                       /* a repeated wake-up */
        seen = gen;
        if (hart >= team.size)
            continue;                       /* not in this (smaller) team */
        barriers_passed[hart] = 0u;
        ek_mark_begin();                    /* the plugin counts this hart's share */
        team.fn(team.arg);
        ek_mark_end();
        fence();
        team.done[hart] = gen;
        fence();
        EK_CLINT_MSIP(0u) = 1u;
    }
}

void ek_team_fork(uint32_t n_cores, ek_team_fn_t fn, void *arg)
{
    const uint32_t max = ek_team_max_cores();
    const uint32_t n = n_cores < 1u ? 1u : (n_cores > max ? max : n_cores);
    if (n == 1u) {
        const uint32_t hart = hart_id();
        solo[hart]++;
        fn(arg);
        solo[hart]--;
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
    for (uint32_t h = 1u; h < n; h++)
        EK_CLINT_MSIP(h) = 1u;
    fn(arg);
    ek_mark_wait_begin();                   /* join: reported apart from the work */
    for (uint32_t c = 1u; c < n; ) {
        if (team.done[c] == gen)
            c++;
        else
            sleep_until_woken(0u);
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
                sleep_until_woken(0u);
        }
        fence();
        team.released = tag;
        fence();
        for (uint32_t h = 1u; h < n; h++)
            EK_CLINT_MSIP(h) = 1u;
    } else {
        EK_CLINT_MSIP(0u) = 1u;
        while (team.released != tag)
            sleep_until_woken(id);
    }
    fence();
    ek_mark_wait_end();
}
