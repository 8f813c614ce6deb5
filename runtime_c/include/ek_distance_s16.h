/* ek_distance_s16.h - fixed-point distances to stored int16 points (nearest centroid, kNN).
 * Every feature shares one Q format, so squared euclidean and manhattan distances are
 * exact integers; each function exists per accumulator width (_acc32, _acc64: ek_acc.h),
 * 64 bits where the training ranges say 32 could overflow. */
#ifndef EK_DISTANCE_S16_H
#define EK_DISTANCE_S16_H
#include "ek_knn.h" /* ek_metric_t, ek_knn_t */
#include "ek_fixed.h"

#define EK_DECLARE_DISTANCE_S16(acc_t, sfx)                                                              \
    acc_t ek_distance_s16_##sfx(ek_metric_t metric, const int16_t *p, const int32_t *x, uint32_t n);     \
    /* Index of the nearest of n_points rows, first on ties. Scratch: n_points distances. */            \
    int32_t ek_nearest_s16_##sfx(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points,         \
                                 uint32_t n_points, uint32_t n_features, const int32_t *x);              \
    /* The k nearest rows, ascending, earlier rows first on ties (the rule of ek_knn_f32).               \
     * work: ek_knn_s16_work_bytes_<sfx>(k, n_cores) bytes for the per-core lists. */                   \
    void ek_knn_s16_##sfx(const ek_ctx_t *ctx, ek_metric_t metric, const int16_t *points, uint32_t n_points, \
                          uint32_t n_features, const int32_t *x, uint32_t k, int32_t *idx, acc_t *dist,  \
                          void *work);                                                                   \
    uint32_t ek_knn_s16_work_bytes_##sfx(uint32_t k, uint32_t n_cores);                                  \
    /* Uniform-weight kNN: majority class (first on ties), or the mean target. */                        \
    int32_t ek_knn_classify_s16_##sfx(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x, float *proba); \
    float ek_knn_regress_s16_##sfx(const ek_ctx_t *ctx, const ek_knn_t *m, const int32_t *x);           \
    uint32_t ek_knn_s16_scratch_bytes_##sfx(uint32_t k, uint32_t n_classes, uint32_t n_cores);

EK_DECLARE_DISTANCE_S16(int32_t, acc32)
EK_DECLARE_DISTANCE_S16(int64_t, acc64)

#endif
