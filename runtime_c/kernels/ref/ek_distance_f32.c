/* Reference distance kernels. */
#include <math.h>
#include "ek_distance.h"

float ek_distance_f32(ek_metric_t metric, const float *a, const float *b, uint32_t n)
{
    float acc = 0.0f;
    if (metric == EK_METRIC_MANHATTAN) {
        for (uint32_t i = 0; i < n; i++) acc += fabsf(a[i] - b[i]);
    } else {
        for (uint32_t i = 0; i < n; i++) {
            const float d = a[i] - b[i];
            acc += d * d;
        }
    }
    return acc;
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

void ek_knn_f32(const ek_ctx_t *ctx, ek_metric_t metric, const float *points, uint32_t n_points,
                uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist)
{
    (void)ctx;
    uint32_t filled = 0;
    for (uint32_t p = 0; p < n_points; p++) {
        const float d = ek_distance_f32(metric, &points[p * n_features], x, n_features);
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
