/* Reference tree/forest kernels. */
#include "ek_tree.h"
#include "ek_argmax.h"

int32_t ek_tree_leaf_f32(const ek_tree_ensemble_t *t, uint32_t tree, const float *x)
{
    int32_t n = t->roots[tree];
    while (n >= 0) {
        const float v = x[t->feature[n]];
        if (v <= t->threshold[n]) {
            n = t->left[n];
        } else if (v != v && t->nan_left != NULL &&
                   ((t->nan_left[(uint32_t)n >> 3] >> ((uint32_t)n & 7u)) & 1u)) {
            n = t->left[n]; /* NaN: scikit-learn's learned missing-value direction */
        } else {
            n = t->right[n];
        }
    }
    return ~n;
}

uint32_t ek_tree_classify_f32_scratch_bytes(uint32_t n_classes)
{
    return n_classes * (uint32_t)sizeof(float);
}

int32_t ek_tree_classify_f32(const ek_ctx_t *ctx, const ek_tree_ensemble_t *t, const float *x,
                             float *proba)
{
    const uint32_t k = t->leaf_width;
    if (t->n_trees == 1) {
        const int32_t leaf = ek_tree_leaf_f32(t, 0, x);
        if (proba != NULL) {
            for (uint32_t c = 0; c < k; c++) proba[c] = t->leaves[(uint32_t)leaf * k + c];
        }
        return t->leaf_class[leaf];
    }
    /* Soft voting as scikit-learn does: sum the trees' probability rows, argmax the sum. */
    float *acc = (float *)ctx->scratch;
    for (uint32_t c = 0; c < k; c++) acc[c] = 0.0f;
    for (uint32_t i = 0; i < t->n_trees; i++) {
        const float *row = &t->leaves[(uint32_t)ek_tree_leaf_f32(t, i, x) * k];
        for (uint32_t c = 0; c < k; c++) acc[c] += row[c];
    }
    const int32_t label = ek_argmax_f32(acc, k);
    if (proba != NULL) {
        const float n = (float)t->n_trees;
        for (uint32_t c = 0; c < k; c++) proba[c] = acc[c] / n;
    }
    return label;
}

float ek_tree_regress_f32(const ek_ctx_t *ctx, const ek_tree_ensemble_t *t, const float *x)
{
    (void)ctx;
    float acc = 0.0f;
    for (uint32_t i = 0; i < t->n_trees; i++) acc += t->leaves[ek_tree_leaf_f32(t, i, x)];
    return t->n_trees == 1 ? acc : acc / (float)t->n_trees;
}
