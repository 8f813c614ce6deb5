/* Reference kNN classifier/regressor on top of ek_knn_f32 (top-k search). */
#include <math.h>
#include "ek_knn.h"

uint32_t ek_knn_scratch_bytes(uint32_t k, uint32_t n_classes, uint32_t n_cores)
{
    return (3u * k + n_classes) * 4u + ek_knn_work_bytes(k, n_cores);
}

/* Neighbour weights as scikit-learn's _get_weights: 1/d, except that when some neighbour
 * is at distance 0 those get weight 1 and all others 0. */
static void neighbour_weights(const ek_knn_t *m, const float *dist, float *w)
{
    uint32_t zero = 0;
    for (uint32_t i = 0; i < m->k; i++) zero |= dist[i] == 0.0f;
    for (uint32_t i = 0; i < m->k; i++) {
        if (!m->distance_weighted) w[i] = 1.0f;
        else if (zero) w[i] = dist[i] == 0.0f ? 1.0f : 0.0f;
        else w[i] = 1.0f / (m->metric == EK_METRIC_EUCLIDEAN ? sqrtf(dist[i]) : dist[i]);
    }
}

static void neighbours(const ek_ctx_t *ctx, const ek_knn_t *m, const float *x, int32_t *idx, float *dist, void *work)
{
    if (m->tie_rule == EK_TIES_SKLEARN_KD_TREE && m->tree != NULL)
        ek_knn_kdtree_f32(m->tree, m->metric, m->points, m->elem, m->n_features, x, m->k, idx, dist);
    else if (m->tie_rule == EK_TIES_SKLEARN_BRUTE)
        ek_knn_heap_f32(ctx, m->metric, m->points, m->elem, m->n_points, m->n_features, x, m->k, idx, dist, work);
    else
        ek_knn_f32(ctx, m->metric, m->points, m->elem, m->n_points, m->n_features, x, m->k, idx, dist, work);
}

int32_t ek_knn_classify_f32(const ek_ctx_t *ctx, const ek_knn_t *m, const float *x, float *proba)
{
    int32_t *idx = (int32_t *)ctx->scratch;
    float *dist = (float *)&idx[m->k];
    float *w = &dist[m->k];
    float *votes = &w[m->k];
    neighbours(ctx, m, x, idx, dist, &votes[m->n_classes]);
    neighbour_weights(m, dist, w);
    for (uint32_t c = 0; c < m->n_classes; c++) votes[c] = 0.0f;
    float total = 0.0f;
    for (uint32_t i = 0; i < m->k; i++) {
        votes[m->labels[idx[i]]] += w[i];
        total += w[i];
    }
    uint32_t best = 0;
    for (uint32_t c = 1; c < m->n_classes; c++) {
        if (votes[c] > votes[best]) best = c;
    }
    if (proba != NULL) {
        for (uint32_t c = 0; c < m->n_classes; c++) proba[c] = votes[c] / total;
    }
    return (int32_t)best;
}

float ek_knn_regress_f32(const ek_ctx_t *ctx, const ek_knn_t *m, const float *x)
{
    int32_t *idx = (int32_t *)ctx->scratch;
    float *dist = (float *)&idx[m->k];
    float *w = &dist[m->k];
    neighbours(ctx, m, x, idx, dist, &w[m->k]);
    neighbour_weights(m, dist, w);
    float num = 0.0f, den = 0.0f;
    for (uint32_t i = 0; i < m->k; i++) {
        num += w[i] * m->values[idx[i]];
        den += w[i];
    }
    return num / den;
}
