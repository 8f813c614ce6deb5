/* ek_distance_s16_body.h - the s16 distance, nearest-centroid and kNN kernels for one
 * accumulator width; included by kernels/ref/ek_distance_s16.c once per EK_ACC_BITS
 * (see ek_acc.h). Not an API header. */
#include "ek_acc.h"

EK_ACC_T EK_ACC(ek_distance_s16)(ek_metric_t metric, const int16_t *p, const int32_t *x, uint32_t n)
{
    EK_ACC_T acc = 0;
    if (metric == EK_METRIC_MANHATTAN) {
        for (uint32_t i = 0; i < n; i++) {
            const int32_t d = x[i] - p[i];
            acc += (EK_ACC_T)(d < 0 ? -d : d);
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            const EK_ACC_T d = (EK_ACC_T)(x[i] - p[i]);
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
    EK_ACC_T *dist;
    int32_t *idx;
    uint32_t *filled;
} EK_ACC(distance_s16_job_t);

static void EK_ACC(all_distances_s16)(void *arg)
{
    const EK_ACC(distance_s16_job_t) *j = (const EK_ACC(distance_s16_job_t) *)arg;
    uint32_t begin, end;
    ek_team_slice(j->n_points, &begin, &end);
    for (uint32_t p = begin; p < end; p++)
        j->dist[p] = EK_ACC(ek_distance_s16)(j->metric, &j->points[p * j->n_features], j->x, j->n_features);
}

int32_t EK_ACC(ek_nearest_s16)(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points, uint32_t n_points,
                     uint32_t n_features, const int32_t *x)
{
    EK_ACC_T *dist = (EK_ACC_T *)ctx->scratch; /* n_points */
    EK_ACC(distance_s16_job_t) job = {metric, points, n_points, n_features, 0u, x, dist, NULL, NULL};
    ek_team_fork(ctx->n_cores, EK_ACC(all_distances_s16), &job);
    uint32_t best = 0;
    for (uint32_t p = 1; p < n_points; p++) {
        if (dist[p] < dist[best]) best = p; /* first nearest on ties */
    }
    return (int32_t)best;
}

EK_DEFINE_TOPK_INSERT(EK_ACC(topk_insert_s16), EK_ACC_T)

static void EK_ACC(slice_topk_s16)(void *arg)
{
    const EK_ACC(distance_s16_job_t) *j = (const EK_ACC(distance_s16_job_t) *)arg;
    const uint32_t core = ek_core_id();
    uint32_t begin, end;
    ek_team_slice(j->n_points, &begin, &end);
    EK_ACC_T *dist = &j->dist[core * j->k];
    int32_t *idx = &j->idx[core * j->k];
    j->filled[core] = 0u;
    for (uint32_t p = begin; p < end; p++)
        EK_ACC(topk_insert_s16)(dist, idx, &j->filled[core], j->k,
                      EK_ACC(ek_distance_s16)(j->metric, &j->points[p * j->n_features], j->x, j->n_features), (int32_t)p);
}

uint32_t EK_ACC(ek_knn_s16_work_bytes)(uint32_t k, uint32_t n_cores)
{
    return n_cores * (k * (uint32_t)(sizeof(EK_ACC_T) + 4u) + 4u);
}

void EK_ACC(ek_knn_s16)(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points, uint32_t n_points,
              uint32_t n_features, const int32_t *x, uint32_t k, int32_t *idx, EK_ACC_T *dist, void *work)
{
    uint32_t filled = 0;
    const uint32_t n = ctx->n_cores;
    /* Per-core top k of contiguous slices, merged in core order: the single-core list. */
    EK_ACC_T *core_dist = (EK_ACC_T *)work;
    int32_t *core_idx = (int32_t *)&core_dist[n * k];
    uint32_t *core_filled = (uint32_t *)&core_idx[n * k];
    EK_ACC(distance_s16_job_t) job = {metric, points, n_points, n_features, k, x, core_dist, core_idx, core_filled};
    ek_team_fork(n, EK_ACC(slice_topk_s16), &job);
    for (uint32_t c = 0; c < n; c++) {
        for (uint32_t i = 0; i < core_filled[c]; i++)
            EK_ACC(topk_insert_s16)(dist, idx, &filled, k, core_dist[c * k + i], core_idx[c * k + i]);
    }
}

uint32_t EK_ACC(ek_knn_s16_scratch_bytes)(uint32_t k, uint32_t n_classes, uint32_t n_cores)
{
    return k * (uint32_t)(sizeof(EK_ACC_T) + 4u) + n_classes * 4u + EK_ACC(ek_knn_s16_work_bytes)(k, n_cores) + 8u;
}

/* Scratch layout: dist[k] (EK_ACC_T, first for alignment), idx[k], votes[n_classes], work. */
static void EK_ACC(neighbours_s16)(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x, int32_t **idx, uint32_t **votes)
{
    EK_ACC_T *dist = (EK_ACC_T *)ctx->scratch;
    *idx = (int32_t *)&dist[m->k];
    *votes = (uint32_t *)&(*idx)[m->k];
    uint32_t tail = m->k + m->n_classes;
    if (sizeof(EK_ACC_T) == 8u && (tail & 1u)) tail++; /* keep the work lists 8-byte aligned */
    EK_ACC(ek_knn_s16)(ctx, m->metric, (const int16_t *)m->points, m->n_points, m->n_features, x, m->k, *idx, dist,
             &(*idx)[tail]);
}

int32_t EK_ACC(ek_knn_classify_s16)(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x, float *proba)
{
    int32_t *idx;
    uint32_t *votes;
    EK_ACC(neighbours_s16)(ctx, m, x, &idx, &votes);
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

float EK_ACC(ek_knn_regress_s16)(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x)
{
    int32_t *idx;
    uint32_t *votes;
    EK_ACC(neighbours_s16)(ctx, m, x, &idx, &votes);
    float num = 0.0f;
    for (uint32_t i = 0; i < m->k; i++) num += m->values[idx[i]];
    return num / (float)m->k;
}
