/* Reference IsolationForest kernel (ek_iforest.h). */
#include <math.h>
#include "ek_iforest.h"
#include "ek_parallel.h"

static double tree_path(const ek_iforest_t *m, uint32_t t, const float *x)
{
    const uint32_t base = m->tree_base[t];
    uint32_t c = m->tree_root[t];
    while (c < EK_IFOREST_LEAF) {
        const uint32_t n = base + c;
        const float v = x[m->feature[n]];
        uint32_t go_left = v <= m->threshold[n];
        if (m->nan_left != NULL && v != v) go_left = (m->nan_left[n >> 3] >> (n & 7u)) & 1u;
        c = go_left ? m->left[n] : m->right[n];
    }
    return m->path[c - EK_IFOREST_LEAF];
}

typedef struct {
    const ek_iforest_t *m;
    const float *x;
    double *paths;
} iforest_job_t;

/* Trees split across the team, one path per tree in scratch; core 0 adds them in order. */
static void tree_rows(void *arg)
{
    const iforest_job_t *j = (const iforest_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->m->n_trees, &begin, &end);
    for (uint32_t t = begin; t < end; t++) j->paths[t] = tree_path(j->m, t, j->x);
}

double ek_iforest_depth_f32(const ek_ctx_t *ctx, const ek_iforest_t *m, const float *x)
{
    double depth = 0.0;
    if (ctx->n_cores > 1u && m->n_trees > 1u) {
        iforest_job_t job = {m, x, (double *)ctx->scratch};
        ek_team_fork(ctx->n_cores, tree_rows, &job);
        for (uint32_t t = 0; t < m->n_trees; t++) depth += job.paths[t];
    } else {
        for (uint32_t t = 0; t < m->n_trees; t++) depth += tree_path(m, t, x);
    }
    return depth;
}

int32_t ek_iforest_predict_f32(const ek_ctx_t *ctx, const ek_iforest_t *m, const float *x, float *decision)
{
    const double depth = ek_iforest_depth_f32(ctx, m, x);
    if (decision != NULL) {
        /* scikit-learn: 2 ** -(depths / denominator), 1 where the denominator is 0 */
        const double score = m->denominator != 0.0 ? -pow(2.0, -(depth / m->denominator)) : -1.0;
        *decision = (float)(score - m->offset);
    }
    return depth < m->depth_threshold ? 0 : 1;
}

uint32_t ek_iforest_scratch_bytes(uint32_t n_trees, uint32_t n_cores)
{
    return n_cores > 1u ? n_trees * (uint32_t)sizeof(double) : 0u;
}
