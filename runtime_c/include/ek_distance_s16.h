/* ek_distance_q.h - fixed-point distances to stored int16 points (nearest centroid, kNN).
 * Every feature shares one Q format, so squared euclidean and manhattan distances are
 * exact integers in ek_qacc_t (64 bits when the training ranges say 32 could overflow). */
#ifndef EK_DISTANCE_Q_H
#define EK_DISTANCE_Q_H
#include "ek_knn.h" /* ek_metric_t, ek_knn_t */
#include "ek_fixed.h"

ek_qacc_t ek_distance_q(ek_metric_t metric, const int16_t *p, const int32_t *x, uint32_t n);

/* Index of the nearest of n_points rows, first on ties. Scratch: n_points ek_qacc_t. */
int32_t ek_nearest_q(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points, uint32_t n_points,
                     uint32_t n_features, const int32_t *x);

/* The k nearest rows, ascending, earlier rows first on ties (the same rule as ek_knn_f32).
 * work: ek_knn_q_work_bytes(k, n_cores) bytes for the per-core lists. */
void ek_knn_q(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points, uint32_t n_points,
              uint32_t n_features, const int32_t *x, uint32_t k, int32_t *idx, ek_qacc_t *dist, void *work);
uint32_t ek_knn_q_work_bytes(uint32_t k, uint32_t n_cores);

/* Uniform-weight kNN on top of ek_knn_q: majority class (first on ties), or the mean target. */
int32_t ek_knn_classify_q(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x, float *proba);
float ek_knn_regress_q(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x);
uint32_t ek_knn_q_scratch_bytes(uint32_t k, uint32_t n_classes, uint32_t n_cores);

#endif
