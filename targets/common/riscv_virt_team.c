/* riscv_virt_team.c (gap8, pulp-open) - where the cluster cores wait, and the fork/join a
 * parallel runtime will drive them with. Today the harness never forks, so the cores
 * sleep in wfi for the whole run and cost the host nothing.
 *
 * Protocol, without atomics (rv32imc has none): every shared word has a single writer.
 *   hart 0 (fork):   fn, arg; fence; generation += 1; fence; wake every cluster core.
 *   core c (worker): wait to be woken; if generation differs from the last it ran,
 *                    run fn(arg, c); fence; done[c] = generation; fence; wake hart 0.
 *   hart 0 (join):   sleep until done[c] == generation for every core.
 * Waking is a machine software interrupt through the CLINT (msip), left pending (global
 * interrupts stay off) so wfi returns; on GAP8/PULP silicon the event unit plays this role
 * (cluster cores sleep in the event unit and the FC triggers an event).
 * A sleeper clears its own msip *before* reading the shared words, and a waker writes them
 * *before* setting msip, so a wake-up can never be lost between the check and the wfi.
 * A core reads no shared word before its first wake-up, which hart 0 sends only after its
 * startup zeroed .bss (see riscv_virt_startup.c). */
#include <stdint.h>

#define EK_CLUSTER_CORES 8u                 /* = riscv_virt_startup.c, target.toml cores */
#define EK_CLINT_MSIP(hart) (*(volatile uint32_t *)(0x02000000u + 4u * (hart)))
#define EK_MIP_MSIP 0x8u

typedef void (*ek_team_fn_t)(void *arg, uint32_t core);

/* The mailbox; in .bss, so in L1 next to the data a parallel kernel shares. */
static struct {
    ek_team_fn_t volatile fn;
    void *volatile arg;
    volatile uint32_t generation;
    volatile uint32_t done[EK_CLUSTER_CORES];
} team;

void ek_team_worker(uint32_t hart) __attribute__((noreturn));
void ek_team_fork(ek_team_fn_t fn, void *arg);
void ek_team_join(void);

static inline void fence(void)
{
    __asm__ volatile("fence iorw, iorw" ::: "memory");
}

/* Sleeps until this hart's msip is pending, then clears it. wfi may also return for no
 * reason, hence the loop on mip. */
static void sleep_until_woken(uint32_t hart)
{
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

/* Entered from _start on the core's own stack; core c = hart - 1. */
void ek_team_worker(uint32_t hart)
{
    const uint32_t core = hart - 1u;
    uint32_t seen = 0u;                     /* hart 0's first fork is generation 1 */
    __asm__ volatile("csrs mie, %0" ::"r"(EK_MIP_MSIP));
    for (;;) {
        sleep_until_woken(hart);
        const uint32_t gen = team.generation;
        if (gen == seen)
            continue;                       /* a repeated or early wake-up */
        seen = gen;
        team.fn(team.arg, core);
        fence();
        team.done[core] = gen;
        fence();
        EK_CLINT_MSIP(0u) = 1u;
    }
}

/* Hart 0: start fn(arg, core) on every cluster core. Call ek_team_join() before the next. */
void ek_team_fork(ek_team_fn_t fn, void *arg)
{
    team.fn = fn;
    team.arg = arg;
    fence();
    team.generation = team.generation + 1u;
    fence();
    for (uint32_t h = 1u; h <= EK_CLUSTER_CORES; h++)
        EK_CLINT_MSIP(h) = 1u;
}

/* Hart 0: sleep until every core finished the last fork. */
void ek_team_join(void)
{
    __asm__ volatile("csrs mie, %0" ::"r"(EK_MIP_MSIP));
    for (;;) {
        EK_CLINT_MSIP(0u) = 0u;
        fence();
        uint32_t finished = 0u;
        for (uint32_t c = 0u; c < EK_CLUSTER_CORES; c++)
            finished += team.done[c] == team.generation;
        if (finished == EK_CLUSTER_CORES)
            break;
        __asm__ volatile("wfi");
    }
    fence();
}
