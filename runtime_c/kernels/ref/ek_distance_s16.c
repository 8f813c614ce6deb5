/* Reference fixed-point distances, nearest centroid and k nearest neighbours. The same
 * slicing and merge rules as ek_distance_f32.c; integer distances make them exact. */
#include "ek_distance_q.h"
#include "ek_parallel.h"
#include "ek_topk.h"

ek_qacc_t ek_distance_q(ek_metric_t metric, const int16_t *p, const int32_t *x, uint32_t n)
{
    ek_qacc_t acc = 0;
    if (metric == EK_METRIC_MANHATTAN) {
        for (uint32_t i = 0; i < n; i++) {
            const int32_t d = x[i] - p[i];
            acc += (ek_qacc_t)(d < 0 ? -d : d);
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            const ek_qacc_t d = (ek_qacc_t)(x[i] - p[i]);
            acc += d * d;
        }
    }
    return acc;
}

typedef struct {
    ek_metric_t metric;
    const int16_t *points;
    uint32_t n_points, n_features, k;
    const int32_t *x;
    ek_qacc_t *dist;
    int32_t *idx;
    uint32_t *filled;
} distance_q_job_t;

static void all_distances_q(void *arg)
{
    const distance_q_job_t *j = (const distance_q_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->n_points, &begin, &end);
    for (uint32_t p = begin; p < end; p++)
        j->dist[p] = ek_distance_q(j->metric, &j->points[p * j->n_features], j->x, j->n_features);
}

int32_t ek_nearest_q(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points, uint32_t n_points,
                     uint32_t n_features, const int32_t *x)
{
    ek_qacc_t *dist = (ek_qacc_t *)ctx->scratch; /* n_points */
    distance_q_job_t job = {metric, points, n_points, n_features, 0u, x, dist, NULL, NULL};
    ek_team_fork(ctx->n_cores, all_distances_q, &job);
    uint32_t best = 0;
    for (uint32_t p = 1; p < n_points; p++) {
        if (dist[p] < dist[best]) best = p; /* first nearest on ties */
    }
    return (int32_t)best;
}

EK_DEFINE_TOPK_INSERT(topk_insert_q, ek_qacc_t)

static void slice_topk_q(void *arg)
{
    const distance_q_job_t *j = (const distance_q_job_t *)arg;
    const uint32_t core = ek_core_id();
    uint32_t begin, end;
    ek_team_slice(j->n_points, &begin, &end);
    ek_qacc_t *dist = &j->dist[core * j->k];
    int32_t *idx = &j->idx[core * j->k];
    j->filled[core] = 0u;
    for (uint32_t p = begin; p < end; p++)
        topk_insert_q(dist, idx, &j->filled[core], j->k,
                      ek_distance_q(j->metric, &j->points[p * j->n_features], j->x, j->n_features), (int32_t)p);
}

uint32_t ek_knn_q_work_bytes(uint32_t k, uint32_t n_cores)
{
    return n_cores * (k * (uint32_t)(sizeof(ek_qacc_t) + 4u) + 4u);
}

void ek_knn_q(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points, uint32_t n_points,
              uint32_t n_features, const int32_t *x, uint32_t k, int32_t *idx, ek_qacc_t *dist, void *work)
{
    uint32_t filled = 0;
    const uint32_t n = ctx->n_cores;
    /* Per-core top k of contiguous slices, merged in core order: the single-core list. */
    ek_qacc_t *core_dist = (ek_qacc_t *)work;
    int32_t *core_idx = (int32_t *)&core_dist[n * k];
    uint32_t *core_filled = (uint32_t *)&core_idx[n * k];
    distance_q_job_t job = {metric, points, n_points, n_features, k, x, core_dist, core_idx, core_filled};
    ek_team_fork(n, slice_topk_q, &job);
    for (uint32_t c = 0; c < n; c++) {
        for (uint32_t i = 0; i < core_filled[c]; i++)
            topk_insert_q(dist, idx, &filled, k, core_dist[c * k + i], core_idx[c * k + i]);
    }
}

uint32_t ek_knn_q_scratch_bytes(uint32_t k, uint32_t n_classes, uint32_t n_cores)
{
    return k * (uint32_t)(sizeof(ek_qacc_t) + 4u) + n_classes * 4u + ek_knn_q_work_bytes(k, n_cores) + 8u;
}

/* Scratch layout: dist[k] (ek_qacc_t, first for alignment), idx[k], votes[n_classes], work. */
static void neighbours_q(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x, int32_t **idx, uint32_t **votes)
{
    ek_qacc_t *dist = (ek_qacc_t *)ctx->scratch;
    *idx = (int32_t *)&dist[m->k];
    *votes = (uint32_t *)&(*idx)[m->k];
    uint32_t tail = m->k + m->n_classes;
    if (sizeof(ek_qacc_t) == 8u && (tail & 1u)) tail++; /* keep the work lists 8-byte aligned */
    ek_knn_q(ctx, m->metric, (const int16_t *)m->points, m->n_points, m->n_features, x, m->k, *idx, dist,
             &(*idx)[tail]);
}

int32_t ek_knn_classify_q(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x, float *proba)
{
    int32_t *idx;
    uint32_t *votes;
    neighbours_q(ctx, m, x, &idx, &votes);
    for (uint32_t c = 0; c < m->n_classes; c++) votes[c] = 0u;
    for (uint32_t i = 0; i < m->k; i++) votes[m->labels[idx[i]]]++;
    uint32_t best = 0;
    for (uint32_t c = 1; c < m->n_classes; c++) {
        if (votes[c] > votes[best]) best = c;
    }
    if (proba != NULL) {
        for (uint32_t c = 0; c < m->n_classes; c++) proba[c] = (float)votes[c] / (float)m->k;
    }
    return (int32_t)best;
}

float ek_knn_regress_q(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x)
{
    int32_t *idx;
    uint32_t *votes;
    neighbours_q(ctx, m, x, &idx, &votes);
    float num = 0.0f;
    for (uint32_t i = 0; i < m->k; i++) num += m->values[idx[i]];
    return num / (float)m->k;
}
