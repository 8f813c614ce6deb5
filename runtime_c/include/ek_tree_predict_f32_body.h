/* ek_tree_predict_f32_body.h - the table-layout tree kernels for one (index, feature) width
 * pair; included by kernels/ref/ek_tree_predict_f32.c once per width pair, with
 * EK_TREE(name) appending its suffix and EK_TREE_T its struct (see ek_tree.h). Not an API header. */
int32_t EK_TREE(ek_tree_leaf_f32)(const EK_TREE_T *t, uint32_t tree, const float *x)
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

typedef struct {
    const EK_TREE_T *t;
    const float *x;
    int32_t *leaf;
} EK_TREE(tree_job);

/* Trees split across the team; each writes its leaf, reduced in tree order afterwards. */
static void EK_TREE(tree_leaves)(void *arg)
{
    const EK_TREE(tree_job) *j = (const EK_TREE(tree_job) *)arg;
    uint32_t begin, end;
    ek_team_slice(j->t->n_trees, &begin, &end);
    for (uint32_t i = begin; i < end; i++) j->leaf[i] = EK_TREE(ek_tree_leaf_f32)(j->t, i, j->x);
}

/* Leaf of tree i: computed now on one core, or read from the parallel pass. */
static int32_t EK_TREE(leaf_of)(const int32_t *leaves, const EK_TREE_T *t, uint32_t i, const float *x)
{
    return leaves != NULL ? leaves[i] : EK_TREE(ek_tree_leaf_f32)(t, i, x);
}

static const int32_t *EK_TREE(parallel_leaves)(const ek_ctx_t *ctx, const EK_TREE_T *t, const float *x,
                                      int32_t *buffer)
{
    if (ctx->n_cores <= 1u || t->n_trees == 1u) return NULL;
    EK_TREE(tree_job) job = {t, x, buffer};
    ek_team_fork(ctx->n_cores, EK_TREE(tree_leaves), &job);
    return buffer;
}

int32_t EK_TREE(ek_tree_classify_f32)(const ek_ctx_t *ctx, const EK_TREE_T *t, const float *x,
                             float *proba)
{
    const uint32_t k = t->leaf_width;
    if (t->n_trees == 1) {
        const int32_t leaf = EK_TREE(ek_tree_leaf_f32)(t, 0, x);
        if (proba != NULL) {
            for (uint32_t c = 0; c < k; c++) proba[c] = t->leaves[(uint32_t)leaf * k + c];
        }
        return t->leaf_class[leaf];
    }
    /* Soft voting as scikit-learn does: sum the trees' probability rows, argmax the sum. */
    float *acc = (float *)ctx->scratch;
    const int32_t *leaves = EK_TREE(parallel_leaves)(ctx, t, x, (int32_t *)&acc[k]);
    for (uint32_t c = 0; c < k; c++) acc[c] = 0.0f;
    for (uint32_t i = 0; i < t->n_trees; i++) {
        const float *row = &t->leaves[(uint32_t)EK_TREE(leaf_of)(leaves, t, i, x) * k];
        for (uint32_t c = 0; c < k; c++) acc[c] += row[c];
    }
    const int32_t label = ek_argmax_f32(acc, k);
    if (proba != NULL) {
        const float n = (float)t->n_trees;
        for (uint32_t c = 0; c < k; c++) proba[c] = acc[c] / n;
    }
    return label;
}

typedef struct {
    const EK_TREE_T *t;
    const int32_t *votes;
    const float *x;
    int32_t *partial; /* team size x n_classes: each core's votes */
    int32_t *total;   /* n_classes */
    float *proba;
    int32_t one;
    float denom;
    uint32_t denom_log2; /* denom = 2^denom_log2, or 0: divide */
    uint32_t cores;      /* the team */
} EK_TREE(vote_job);

/* One core's share of a forest vote: its slice of the trees into its own row of partial
 * counts, then (after a barrier) its slice of the classes summed over the rows. Integer
 * sums are exact, so neither the split nor the order of the additions changes a bit. */
static void EK_TREE(vote)(void *arg)
{
    const EK_TREE(vote_job) *j = (const EK_TREE(vote_job) *)arg;
    const EK_TREE_T *t = j->t;
    const uint32_t k = t->leaf_width, cores = j->cores, id = cores == 1u ? 0u : ek_core_id();
    int32_t *acc = cores == 1u ? j->total : &j->partial[id * k];
    for (uint32_t c = 0; c < k; c++) acc[c] = 0;
    const uint32_t n = t->n_trees, base = n / cores, extra = n % cores;
    const uint32_t begin = id * base + (id < extra ? id : extra), end = begin + base + (id < extra ? 1u : 0u);
    const int32_t one = j->one;
    for (uint32_t i = begin; i < end; i++) {
        const uint32_t leaf = (uint32_t)EK_TREE(ek_tree_leaf_f32)(t, i, j->x);
        if (leaf < k) {
            acc[leaf] += one; /* a pure leaf: one vote */
        } else {
            const int32_t *row = &j->votes[(leaf - k) * k];
            for (uint32_t c = 0; c < k; c++) acc[c] += row[c];
        }
    }
    /* Classes: core 0 takes the last slice (the smallest), as it argmaxes after the join. */
    uint32_t cb = 0, ce = k;
    if (cores > 1u) {
        ek_barrier();
        const uint32_t r = cores - 1u - id, cbase = k / cores, cextra = k % cores;
        cb = r * cbase + (r < cextra ? r : cextra);
        ce = cb + cbase + (r < cextra ? 1u : 0u);
        for (uint32_t c = cb; c < ce; c++) {
            const int32_t *col = &j->partial[c];
            int32_t sum = 0;
            uint32_t p = 0;
            for (; p + 2u <= cores; p += 2u) sum += col[p * k] + col[(p + 1u) * k];
            if (p < cores) sum += col[p * k];
            j->total[c] = sum;
        }
    }
    if (j->proba != NULL) {
        for (uint32_t c = cb; c < ce; c++)
            j->proba[c] = j->denom_log2 != 0u ? ek_f32_scale_down((float)j->total[c], j->denom_log2)
                                              : (float)j->total[c] / j->denom;
    }
}

int32_t EK_TREE(ek_tree_vote_f32)(const ek_ctx_t *ctx, const EK_TREE_T *t, const int32_t *votes, int32_t one,
                                  float denom, uint32_t denom_log2, const float *x, float *proba)
{
    const uint32_t k = t->leaf_width;
    const uint32_t max = ek_team_max_cores(), want = ctx->n_cores < t->n_trees ? ctx->n_cores : t->n_trees;
    const uint32_t cores = want < max ? want : max;
    int32_t *total = (int32_t *)ctx->scratch;
    EK_TREE(vote_job) job = {t, votes, x, &total[k], total, proba, one, denom, denom_log2, cores};
    if (cores > 1u)
        ek_team_fork(cores, EK_TREE(vote), &job);
    else
        EK_TREE(vote)(&job);
    return ek_argmax_i32(total, k);
}

float EK_TREE(ek_tree_regress_f32)(const ek_ctx_t *ctx, const EK_TREE_T *t, const float *x)
{
    const int32_t *leaves = EK_TREE(parallel_leaves)(ctx, t, x, (int32_t *)ctx->scratch);
    float acc = 0.0f;
    for (uint32_t i = 0; i < t->n_trees; i++) acc += t->leaves[EK_TREE(leaf_of)(leaves, t, i, x)];
    return t->n_trees == 1 ? acc : acc / (float)t->n_trees;
}

void EK_TREE(ek_tree_boost_f32)(const ek_ctx_t *ctx, const EK_TREE_T *t, const float *x, const float *base,
                                uint32_t n_outputs, float *margin)
{
    const int32_t *leaves = EK_TREE(parallel_leaves)(ctx, t, x, (int32_t *)ctx->scratch);
    for (uint32_t k = 0; k < n_outputs; k++) margin[k] = base[k];
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->n_trees; i++) {
        margin[k] += t->leaves[EK_TREE(leaf_of)(leaves, t, i, x)];
        if (++k == n_outputs) k = 0;
    }
}
