/* ek_iforest.h - IsolationForest (scikit-learn): path lengths through isolation trees.
 *
 * Split nodes only, per tree in preorder; `left`/`right` hold a child code: below
 * EK_IFOREST_LEAF it is a split node of the same tree (relative to tree_base[t]), from
 * EK_IFOREST_LEAF on it is a leaf whose path length (depth + c(n_leaf) - 1, float64, as
 * scikit-learn computes it) is path[code - EK_IFOREST_LEAF]. A split sends float32 x left
 * when x <= threshold (the largest float32 <= scikit-learn's float64 threshold) and NaN
 * left where the tree learned it (nan_left bitmap; NULL: never). The path lengths are
 * added in tree order in double, so the sum is scikit-learn's, bit for bit. */
#ifndef EK_IFOREST_H
#define EK_IFOREST_H
#include "ek_common.h"

#define EK_IFOREST_LEAF 0x8000u

typedef struct {
    const uint16_t *feature;
    const float *threshold;
    const uint16_t *left;
    const uint16_t *right;
    const uint8_t *nan_left;   /* bitmap over all split nodes, or NULL */
    const uint32_t *tree_base; /* first split node of each tree */
    const uint16_t *tree_root; /* child code of each tree's root */
    uint32_t n_trees;
    const double *path;        /* distinct leaf path lengths */
    double denominator;        /* n_trees * c(max_samples) */
    double offset;             /* scikit-learn's offset_ */
    double depth_threshold;    /* decision < 0 exactly when depth < this (found at export with
                                * numpy's own arithmetic, so labels need no pow) */
} ek_iforest_t;

/* Sum over the trees of the path length of x (scikit-learn's `depths`). */
double ek_iforest_depth_f32(const ek_ctx_t *ctx, const ek_iforest_t *m, const float *x);

/* Returns 0 (outlier, -1) where decision_function < 0, else 1 (inlier, +1). When decision is
 * not NULL it receives decision_function = score_samples - offset, score_samples =
 * -2^(-depth / denominator) (double, then float). */
int32_t ek_iforest_predict_f32(const ek_ctx_t *ctx, const ek_iforest_t *m, const float *x, float *decision);

/* Scratch: one double per tree when several cores share the trees. */
uint32_t ek_iforest_scratch_bytes(uint32_t n_trees, uint32_t n_cores);

#endif
