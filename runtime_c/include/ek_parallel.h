/* ek_parallel.h - fork/join teams for parallel kernels (PULP cluster, pthreads, one core).
 *
 * The caller of ek_team_fork is core 0 of the team; fn(arg) runs on cores 0..n-1 and
 * ek_team_fork returns when all have finished. Inside fn, ek_core_id() and ek_team_size()
 * say which slice of the work is this core's, and ek_barrier() waits for the whole team.
 * Ports (runtime_c/parallel/ek_team_<port>.c, chosen by the target's `parallel` key) need
 * no atomic instructions: every shared flag has one writer (rv32imc has no 'A').
 *
 * Results must not depend on the core count: kernels split work so that every float sum
 * keeps its order (per-item results in scratch, reduced in item order by core 0). Integer
 * sums (forest votes) are exact in any order: per-core partial rows, then each core sums
 * its slice of the classes after an ek_barrier(); an argmin/argmax keeps one candidate per
 * contiguous slice, compared in core order (first on ties, as one core). */
#ifndef EK_PARALLEL_H
#define EK_PARALLEL_H
#include <stdint.h>

typedef void (*ek_team_fn_t)(void *arg);

/* Cores this build may use (EK_N_CORES from ek_config.h, at most the target's). */
uint32_t ek_team_max_cores(void);
void ek_team_fork(uint32_t n_cores, ek_team_fn_t fn, void *arg);
uint32_t ek_core_id(void);
uint32_t ek_team_size(void);
void ek_barrier(void);

/* [begin, end) of n items for this core: contiguous, sizes differ by at most one. */
static inline void ek_team_slice(uint32_t n, uint32_t *begin, uint32_t *end)
{
    const uint32_t cores = ek_team_size(), id = ek_core_id();
    const uint32_t base = n / cores, extra = n % cores;
    *begin = id * base + (id < extra ? id : extra);
    *end = *begin + base + (id < extra ? 1u : 0u);
}

#endif
