/* Team port for single-core targets (Cortex-M4): a team of one, run in place. */
#include "ek_common.h"
#include "ek_parallel.h"

uint32_t ek_team_max_cores(void)
{
    return 1u;
}

void ek_team_fork(uint32_t n_cores, ek_team_fn_t fn, void *arg)
{
    (void)n_cores; /* clamped to the one core there is */
    fn(arg);
}

uint32_t ek_core_id(void)
{
    return 0u;
}

uint32_t ek_team_size(void)
{
    return 1u;
}

void ek_barrier(void)
{
}
