/* Team port on POSIX threads (Linux targets: arm). Workers are created on the first fork
 * and kept; each fork bumps a generation counter under a mutex and waits for all to finish. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include "ek_common.h"
#include "ek_markers.h"
#include "ek_parallel.h"

#define MAX_TEAM 64u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t team_barrier;
static uint32_t generation, finished, team_size = 1u, started;
static ek_team_fn_t job_fn;
static void *job_arg;
static __thread uint32_t my_id;
/* Depth in one-core teams on this thread: a kernel inside a batch-mode worker forks a team
 * of one, which must not disturb the outer team. */
static __thread uint32_t solo;

uint32_t ek_team_max_cores(void)
{
    return EK_N_CORES < MAX_TEAM ? EK_N_CORES : MAX_TEAM;
}

static void *worker(void *p)
{
    my_id = (uint32_t)(uintptr_t)p;
    uint32_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (generation == seen) pthread_cond_wait(&wake, &lock);
        seen = generation;
        const int member = my_id < team_size;
        pthread_mutex_unlock(&lock);
        if (member) {
            ek_mark_begin(); /* per-core work, attributed to the current inference */
            job_fn(job_arg);
            ek_mark_end();
        }
        pthread_mutex_lock(&lock);
        if (member && ++finished == team_size - 1u) pthread_cond_signal(&done);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

void ek_team_fork(uint32_t n_cores, ek_team_fn_t fn, void *arg)
{
    const uint32_t n = n_cores < 1u ? 1u : (n_cores > ek_team_max_cores() ? ek_team_max_cores() : n_cores);
    if (n == 1u) {
        solo++;
        fn(arg);
        solo--;
        return;
    }
    for (; started + 1u < ek_team_max_cores(); started++) {
        pthread_t t;
        pthread_create(&t, NULL, worker, (void *)(uintptr_t)(started + 1u));
        pthread_detach(t);
    }
    pthread_barrier_init(&team_barrier, NULL, n);
    pthread_mutex_lock(&lock);
    job_fn = fn;
    job_arg = arg;
    team_size = n;
    finished = 0u;
    generation++;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    my_id = 0u;
    fn(arg);
    ek_mark_wait_begin();
    pthread_mutex_lock(&lock);
    while (finished < n - 1u) pthread_cond_wait(&done, &lock);
    pthread_mutex_unlock(&lock);
    ek_mark_wait_end();
    pthread_barrier_destroy(&team_barrier);
    team_size = 1u;
}

uint32_t ek_core_id(void)
{
    return solo != 0u ? 0u : my_id;
}

uint32_t ek_team_size(void)
{
    return solo != 0u ? 1u : team_size;
}

void ek_barrier(void)
{
    if (ek_team_size() <= 1u) return;
    ek_mark_wait_begin();
    pthread_barrier_wait(&team_barrier);
    ek_mark_wait_end();
}
