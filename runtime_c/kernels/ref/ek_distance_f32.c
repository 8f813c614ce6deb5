/* Reference distance kernels. The sums run in feature order (the remainder last) so every
 * storage type gives bit-identical distances; unrolled by 4 to halve loop overhead. */
#include <math.h>
#include "ek_distance.h"

#define EK_DISTANCE_BODY(LOAD)                                                     \
    float acc = 0.0f;                                                              \
    uint32_t i = 0;                                                                \
    if (metric == EK_METRIC_MANHATTAN) {                                           \
        for (; i < n; i++) acc += fabsf(LOAD(i) - b[i]);                           \
        return acc;                                                                \
    }                                                                              \
    for (; i + 4u <= n; i += 4u) {                                                 \
        const float d0 = LOAD(i) - b[i], d1 = LOAD(i + 1u) - b[i + 1u];            \
        const float d2 = LOAD(i + 2u) - b[i + 2u], d3 = LOAD(i + 3u) - b[i + 3u];  \
        acc += d0 * d0;                                                            \
        acc += d1 * d1;                                                            \
        acc += d2 * d2;                                                            \
        acc += d3 * d3;                                                            \
    }                                                                              \
    for (; i < n; i++) {                                                           \
        const float d = LOAD(i) - b[i];                                            \
        acc += d * d;                                                              \
    }                                                                              \
    return acc;

#define LOAD_F32(i) a[i]
#define LOAD_INT(i) ((float)a[i])

float ek_distance_f32(ek_metric_t metric, const float *a, const float *b, uint32_t n)
{
    EK_DISTANCE_BODY(LOAD_F32)
}

float ek_distance_u8_f32(ek_metric_t metric, const uint8_t *a, const float *b, uint32_t n)
{
    EK_DISTANCE_BODY(LOAD_INT)
}

float ek_distance_i16_f32(ek_metric_t metric, const int16_t *a, const float *b, uint32_t n)
{
    EK_DISTANCE_BODY(LOAD_INT)
}

int32_t ek_nearest_f32(const ek_ctx_t *ctx, ek_metric_t metric, const float *points, uint32_t n_points,
                       uint32_t n_features, const float *x)
{
    (void)ctx;
    uint32_t best = 0;
    float best_d = ek_distance_f32(metric, points, x, n_features);
    for (uint32_t p = 1; p < n_points; p++) {
        const float d = ek_distance_f32(metric, &points[p * n_features], x, n_features);
        if (d < best_d) {
            best_d = d;
            best = p;
        }
    }
    return (int32_t)best;
}

static float point_distance(ek_metric_t metric, const void *points, ek_elem_t elem, uint32_t p, uint32_t nf,
                            const float *x)
{
    switch (elem) {
    case EK_ELEM_U8:
        return ek_distance_u8_f32(metric, &((const uint8_t *)points)[p * nf], x, nf);
    case EK_ELEM_I16:
        return ek_distance_i16_f32(metric, &((const int16_t *)points)[p * nf], x, nf);
    default:
        return ek_distance_f32(metric, &((const float *)points)[p * nf], x, nf);
    }
}

void ek_knn_f32(const ek_ctx_t *ctx, ek_metric_t metric, const void *points, ek_elem_t elem,
                uint32_t n_points, uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist)
{
    (void)ctx;
    uint32_t filled = 0;
    for (uint32_t p = 0; p < n_points; p++) {
        const float d = point_distance(metric, points, elem, p, n_features, x);
        if (filled == k && !(d < dist[k - 1u])) continue;
        /* Insertion into the sorted top-k; strict < keeps earlier rows ahead on ties. */
        uint32_t pos = filled < k ? filled++ : k - 1u;
        while (pos > 0u && d < dist[pos - 1u]) {
            dist[pos] = dist[pos - 1u];
            idx[pos] = idx[pos - 1u];
            pos--;
        }
        dist[pos] = d;
        idx[pos] = (int32_t)p;
    }
}
