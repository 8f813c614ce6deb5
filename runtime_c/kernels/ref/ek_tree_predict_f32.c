/* Reference tree/forest kernels. */
#include "ek_tree.h"
#include "ek_argmax.h"
#include "ek_parallel.h"

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

uint32_t ek_tree_classify_f32_scratch_bytes(uint32_t n_classes, uint32_t n_trees)
{
    return (n_classes + n_trees) * (uint32_t)sizeof(float);
}

typedef struct {
    const ek_tree_ensemble_t *t;
    const float *x;
    int32_t *leaf;
} tree_job_t;

/* Trees split across the team; each writes its leaf, reduced in tree order afterwards. */
static void tree_leaves(void *arg)
{
    const tree_job_t *j = (const tree_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->t->n_trees, &begin, &end);
    for (uint32_t i = begin; i < end; i++) j->leaf[i] = ek_tree_leaf_f32(j->t, i, j->x);
}

/* Leaf of tree i: computed now on one core, or read from the parallel pass. */
static int32_t leaf_of(const int32_t *leaves, const ek_tree_ensemble_t *t, uint32_t i, const float *x)
{
    return leaves != NULL ? leaves[i] : ek_tree_leaf_f32(t, i, x);
}

static const int32_t *parallel_leaves(const ek_ctx_t *ctx, const ek_tree_ensemble_t *t, const float *x,
                                      int32_t *buffer)
{
    if (ctx->n_cores <= 1u || t->n_trees == 1u) return NULL;
    tree_job_t job = {t, x, buffer};
    ek_team_fork(ctx->n_cores, tree_leaves, &job);
    return buffer;
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
    const int32_t *leaves = parallel_leaves(ctx, t, x, (int32_t *)&acc[k]);
    for (uint32_t c = 0; c < k; c++) acc[c] = 0.0f;
    for (uint32_t i = 0; i < t->n_trees; i++) {
        const float *row = &t->leaves[(uint32_t)leaf_of(leaves, t, i, x) * k];
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
    const int32_t *leaves = parallel_leaves(ctx, t, x, (int32_t *)ctx->scratch);
    float acc = 0.0f;
    for (uint32_t i = 0; i < t->n_trees; i++) acc += t->leaves[leaf_of(leaves, t, i, x)];
    return t->n_trees == 1 ? acc : acc / (float)t->n_trees;
}
