/* ek_knn.h - k nearest neighbours by brute force, scikit-learn's voting rules. */
#ifndef EK_KNN_H
#define EK_KNN_H
#include "ek_distance.h"

typedef struct {
    ek_metric_t metric;
    const void *points;       /* n_points x n_features training rows, stored as `elem` */
    ek_elem_t elem;
    uint32_t n_points, n_features, k;
    uint32_t distance_weighted; /* 0: uniform, 1: 1/distance */
    const uint8_t *labels;    /* class index per row (classifier) */
    const float *values;      /* target per row (regressor) */
    uint32_t n_classes;
    uint32_t tie_rule;        /* which of equally far rows counts at the k-th place: EK_TIES_LOWER_INDEX,
                               * _SKLEARN_BRUTE or _SKLEARN_KD_TREE (ek_distance.h) */
    const ek_kdtree_t *tree;  /* SKLEARN_KD_TREE: the fitted tree; else NULL */
} ek_knn_t;

/* Returns the class with the largest (weighted) vote, first on ties; proba may be NULL. */
int32_t ek_knn_classify_f32(const ek_ctx_t *ctx, const ek_knn_t *m, const float *x, float *proba);
float ek_knn_regress_f32(const ek_ctx_t *ctx, const ek_knn_t *m, const float *x);
/* Scratch: idx[k], dist[k], weights[k], votes[n_classes], then per-core top-k lists. */
uint32_t ek_knn_scratch_bytes(uint32_t k, uint32_t n_classes, uint32_t n_cores);

#endif
