/* ek_distance.h - distances to stored points: nearest centroid and k nearest neighbours. */
#ifndef EK_DISTANCE_H
#define EK_DISTANCE_H
#include "ek_common.h"

typedef enum { EK_METRIC_EUCLIDEAN = 0, EK_METRIC_MANHATTAN = 1 } ek_metric_t;

/* Squared euclidean or manhattan distance (monotone in the true distance). */
float ek_distance_f32(ek_metric_t metric, const float *a, const float *b, uint32_t n);

/* Index of the nearest of n_points rows (first one on ties). */
int32_t ek_nearest_f32(const ek_ctx_t *ctx, ek_metric_t metric, const float *points, uint32_t n_points,
                       uint32_t n_features, const float *x);

/* The k nearest rows, ascending by distance, earlier rows first on ties.
 * idx[k] and dist[k] receive them (dist as ek_distance_f32 returns it). */
void ek_knn_f32(const ek_ctx_t *ctx, ek_metric_t metric, const float *points, uint32_t n_points,
                uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist);

#endif
