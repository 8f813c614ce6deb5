/* ek_tree.h - decision trees, forests and boosted trees (float32 features).
 *
 * Only split nodes are stored, as parallel arrays over all trees of the ensemble. A child
 * index >= 0 is another split node; a negative index c is leaf ~c in a deduplicated leaf
 * table. Thresholds are the largest float32 <= scikit-learn's float64 threshold, so
 * `x <= threshold` decides exactly as scikit-learn does. */
#ifndef EK_TREE_H
#define EK_TREE_H
#include <string.h>
#include "ek_common.h"

/* Index and feature widths are chosen per node by the generator to keep flash small; each
 * (index, feature) pair has its own struct and functions, suffixed _i16_u8, _i16_u16,
 * _i32_u8 or _i32_u16, so two models in one firmware may use different widths. */
/* v / 2^m for v = 0 or v >= 1 (a vote total): subtracting m from the exponent is exact there
 * (the result stays normal for m < 127), and far cheaper than a soft-float division. */
static inline float ek_f32_scale_down(float v, uint32_t m)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if (u != 0u) u -= m << 23;
    memcpy(&v, &u, sizeof v);
    return v;
}

#define EK_DECLARE_TREE(sfx, index_t, feature_t)                                                   \
    typedef struct {                                                                            \
        const feature_t *feature;                                                               \
        const float *threshold;                                                                 \
        const index_t *left;                                                                    \
        const index_t *right;                                                                   \
        const uint8_t *nan_left;   /* bitmap: where scikit-learn sends NaN left */              \
        const index_t *roots;      /* one per tree */                                           \
        uint32_t n_trees;                                                                       \
        const float *leaves;       /* n_leaves x leaf_width */                                  \
        uint32_t leaf_width;       /* n_classes (probabilities) or 1 (regression) */            \
        const index_t *leaf_class; /* argmax of each leaf row; classifiers only */              \
    } ek_tree_ensemble_##sfx##_t;                                                               \
    /* Leaf index reached by one tree. */                                                       \
    int32_t ek_tree_leaf_f32_##sfx(const ek_tree_ensemble_##sfx##_t *t, uint32_t tree, const float *x); \
    /* Classifier: returns the class index; writes mean probabilities to proba if not NULL. */   \
    int32_t ek_tree_classify_f32_##sfx(const ek_ctx_t *ctx, const ek_tree_ensemble_##sfx##_t *t, \
                                       const float *x, float *proba);                           \
    /* Forest classifier with integer votes: leaf l < leaf_width (n_classes) is pure and adds \
     * `one` to class l, leaf l >= n_classes adds row l - n_classes of `votes` (each a row of \
     * probabilities times `one`). proba[c] = votes of c / denom (n_trees * one) if not NULL; \
     * denom_log2 != 0 says denom = 2^denom_log2 (then an exact exponent shift, no division). \
     * Runs on ctx->n_cores: trees, then classes split across the team. */                    \
    int32_t ek_tree_vote_f32_##sfx(const ek_ctx_t *ctx, const ek_tree_ensemble_##sfx##_t *t,    \
                                   const int32_t *votes, int32_t one, float denom, uint32_t denom_log2, \
                                   const float *x,                                              \
                                   float *proba);                                               \
    /* Regressor: mean of the trees' leaf values. */                                            \
    float ek_tree_regress_f32_##sfx(const ek_ctx_t *ctx, const ek_tree_ensemble_##sfx##_t *t, const float *x); \
    /* Boosting (additive): margin[k] = base[k] + the leaf values of trees k, k+K, k+2K, ... \
     * (K = n_outputs), added in tree order. */                                                 \
    void ek_tree_boost_f32_##sfx(const ek_ctx_t *ctx, const ek_tree_ensemble_##sfx##_t *t, const float *x, \
                                 const float *base, uint32_t n_outputs, float *margin);

EK_DECLARE_TREE(i16_u8, int16_t, uint8_t)
EK_DECLARE_TREE(i16_u16, int16_t, uint16_t)
EK_DECLARE_TREE(i32_u8, int32_t, uint8_t)
EK_DECLARE_TREE(i32_u16, int32_t, uint16_t)

/* Scratch: class accumulators, then one leaf per tree when trees run on several cores. */
uint32_t ek_tree_classify_f32_scratch_bytes(uint32_t n_classes, uint32_t n_trees);
/* Scratch of ek_tree_vote_f32_*: the class totals, then one row of votes per core. */
uint32_t ek_tree_vote_f32_scratch_bytes(uint32_t n_classes, uint32_t n_cores);

#endif
