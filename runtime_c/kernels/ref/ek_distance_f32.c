/* Reference distance kernels. The sums run in feature order (the remainder last) so every
 * storage type gives bit-identical distances; unrolled by 4 to halve loop overhead. */
#include <math.h>
#include "ek_distance.h"
#include "ek_parallel.h"
#include "ek_topk.h"

#define EK_DISTANCE_BODY(LOAD)                                                     \
    float acc = 0.0f;                                                              \
    uint32_t i = 0;                                                                \
    if (metric == EK_METRIC_MANHATTAN) {                                           \
        for (; i < n; i++) acc += fabsf(LOAD(i) - b[i]);                           \
        return acc;                                                                \
    }                                                                              \
    for (; i + 4u <= n; i += 4u) {                                                 \
        const float d0 = LOAD(i) - b[i], d1 = LOAD(i + 1u) - b[i + 1u];            \
        const float d2 = LOAD(i + 2u) - b[i + 2u], d3 = LOAD(i + 3u) - b[i + 3u];  \
        acc += d0 * d0;                                                            \
        acc += d1 * d1;                                                            \
        acc += d2 * d2;                                                            \
        acc += d3 * d3;                                                            \
    }                                                                              \
    for (; i < n; i++) {                                                           \
        const float d = LOAD(i) - b[i];                                            \
        acc += d * d;                                                              \
    }                                                                              \
    return acc;

#define LOAD_F32(i) a[i]
#define LOAD_INT(i) ((float)a[i])

float ek_distance_f32(ek_metric_t metric, const float *a, const float *b, uint32_t n)
{
    EK_DISTANCE_BODY(LOAD_F32)
}

float ek_distance_u8_f32(ek_metric_t metric, const uint8_t *a, const float *b, uint32_t n)
{
    EK_DISTANCE_BODY(LOAD_INT)
}

float ek_distance_i16_f32(ek_metric_t metric, const int16_t *a, const float *b, uint32_t n)
{
    EK_DISTANCE_BODY(LOAD_INT)
}

typedef struct {
    ek_metric_t metric;
    const void *points;
    ek_elem_t elem;
    uint32_t n_points, n_features, k;
    const float *x;
    float *dist;     /* nearest: one distance per point; knn: n_cores lists of k */
    int32_t *idx;    /* knn: n_cores lists of k row indices */
    uint32_t *filled;
} distance_job_t;

static float point_distance(ek_metric_t metric, const void *points, ek_elem_t elem, uint32_t p, uint32_t nf,
                            const float *x)
{
    switch (elem) {
    case EK_ELEM_U8:
        return ek_distance_u8_f32(metric, &((const uint8_t *)points)[p * nf], x, nf);
    case EK_ELEM_I16:
        return ek_distance_i16_f32(metric, &((const int16_t *)points)[p * nf], x, nf);
    default:
        return ek_distance_f32(metric, &((const float *)points)[p * nf], x, nf);
    }
}

/* Every point's distance, the points split across the team (the heap kNN pushes them in order). */
static void all_distances(void *arg)
{
    const distance_job_t *j = (const distance_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->n_points, &begin, &end);
    for (uint32_t p = begin; p < end; p++)
        j->dist[p] = point_distance(j->metric, j->points, j->elem, p, j->n_features, j->x);
}

/* One core's nearest point of its slice (the first on ties), as the 1-core loop picks it:
 * slices are contiguous and combined in core order, so the result is the same point.
 * k: the team size. */
static void slice_nearest(void *arg)
{
    const distance_job_t *j = (const distance_job_t *)arg;
    const uint32_t core = ek_core_id(), cores = j->k, nf = j->n_features;
    const uint32_t base = j->n_points / cores, extra = j->n_points % cores;
    const uint32_t begin = core * base + (core < extra ? core : extra), end = begin + base + (core < extra ? 1u : 0u);
    const float *points = (const float *)j->points;
    int32_t best = -1;
    float best_d = 0.0f;
    for (uint32_t p = begin; p < end; p++) {
        const float d = ek_distance_f32(j->metric, &points[p * nf], j->x, nf);
        if (best < 0 || d < best_d) {
            best_d = d;
            best = (int32_t)p;
        }
    }
    j->dist[core] = best_d;
    j->idx[core] = best; /* -1: an empty slice */
}

int32_t ek_nearest_f32(const ek_ctx_t *ctx, ek_metric_t metric, const float *points, uint32_t n_points,
                       uint32_t n_features, const float *x)
{
    if (ctx->n_cores <= 1u) {
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
    /* Each core finds the nearest of its slice; core 0 compares the team's candidates. */
    const uint32_t max = ek_team_max_cores(), team = ctx->n_cores < max ? ctx->n_cores : max;
    float *dist = (float *)ctx->scratch;        /* one per core */
    int32_t *idx = (int32_t *)&dist[team];      /* one per core */
    distance_job_t job = {metric, points, EK_ELEM_F32, n_points, n_features, team, x, dist, idx, NULL};
    ek_team_fork(team, slice_nearest, &job);
    int32_t best = idx[0];
    float best_d = dist[0];
    for (uint32_t c = 1; c < team; c++) {
        if (idx[c] >= 0 && dist[c] < best_d) {
            best_d = dist[c];
            best = idx[c];
        }
    }
    return best;
}

EK_DEFINE_TOPK_INSERT(topk_insert, float)

static void slice_topk(void *arg)
{
    const distance_job_t *j = (const distance_job_t *)arg;
    const uint32_t core = ek_core_id();
    uint32_t begin, end;
    ek_team_slice(j->n_points, &begin, &end);
    float *dist = &j->dist[core * j->k];
    int32_t *idx = &j->idx[core * j->k];
    j->filled[core] = 0u;
    for (uint32_t p = begin; p < end; p++)
        topk_insert(dist, idx, &j->filled[core], j->k,
                    point_distance(j->metric, j->points, j->elem, p, j->n_features, j->x), (int32_t)p);
}

uint32_t ek_knn_work_bytes(uint32_t k, uint32_t n_cores)
{
    return n_cores * (2u * k + 1u) * 4u;
}

void ek_knn_f32(const ek_ctx_t *ctx, ek_metric_t metric, const void *points, ek_elem_t elem,
                uint32_t n_points, uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist,
                void *work)
{
    uint32_t filled = 0;
    if (ctx->n_cores <= 1u) {
        for (uint32_t p = 0; p < n_points; p++)
            topk_insert(dist, idx, &filled, k, point_distance(metric, points, elem, p, n_features, x), (int32_t)p);
        return;
    }
    /* Each core keeps the top k of its contiguous slice; merging the lists in core order
     * with the same strict rule gives exactly the single-core list. */
    const uint32_t n = ctx->n_cores;
    float *core_dist = (float *)work;
    int32_t *core_idx = (int32_t *)&core_dist[n * k];
    uint32_t *core_filled = (uint32_t *)&core_idx[n * k];
    distance_job_t job = {metric, points, elem, n_points, n_features, k, x, core_dist, core_idx, core_filled};
    ek_team_fork(n, slice_topk, &job);
    for (uint32_t c = 0; c < n; c++) {
        for (uint32_t i = 0; i < core_filled[c]; i++)
            topk_insert(dist, idx, &filled, k, core_dist[c * k + i], core_idx[c * k + i]);
    }
}

static void sort_neighbours(int32_t *idx, float *dist, uint32_t k);

/* scikit-learn's heap_push (sklearn/utils/_heap.pyx), the same comparisons in the same order. */
static void heap_push(float *values, int32_t *indices, uint32_t size, float val, int32_t val_idx)
{
    if (!(val < values[0])) return;
    uint32_t cur = 0;
    for (;;) {
        const uint32_t l = 2u * cur + 1u, r = l + 1u;
        uint32_t swap;
        if (l >= size) break;
        if (r >= size) {
            if (values[l] > val) swap = l;
            else break;
        } else if (values[l] >= values[r]) {
            if (val < values[l]) swap = l;
            else break;
        } else {
            if (val < values[r]) swap = r;
            else break;
        }
        values[cur] = values[swap];
        indices[cur] = indices[swap];
        cur = swap;
    }
    values[cur] = val;
    indices[cur] = val_idx;
}

uint32_t ek_knn_heap_work_bytes(uint32_t n_points, uint32_t n_cores)
{
    return n_cores > 1u ? n_points * 4u : 0u;
}

void ek_knn_heap_f32(const ek_ctx_t *ctx, ek_metric_t metric, const void *points, ek_elem_t elem,
                     uint32_t n_points, uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist,
                     void *work)
{
    for (uint32_t i = 0; i < k; i++) {
        dist[i] = INFINITY;
        idx[i] = -1;
    }
    if (ctx->n_cores <= 1u) {
        for (uint32_t p = 0; p < n_points; p++)
            heap_push(dist, idx, k, point_distance(metric, points, elem, p, n_features, x), (int32_t)p);
    } else {
        float *all = (float *)work; /* n_points */
        distance_job_t job = {metric, points, elem, n_points, n_features, 0u, x, all, NULL, NULL};
        ek_team_fork(ctx->n_cores, all_distances, &job);
        for (uint32_t p = 0; p < n_points; p++) heap_push(dist, idx, k, all[p], (int32_t)p);
    }
    sort_neighbours(idx, dist, k);
}

/* min_rdist of scikit-learn's KDTree: the reduced distance from x to the node's box. */
static float box_rdist(const ek_kdtree_t *t, ek_metric_t metric, uint32_t node, uint32_t nf, const float *x)
{
    const float *lo = &t->bounds[node * nf], *hi = &t->bounds[(t->n_nodes + node) * nf];
    float r = 0.0f;
    for (uint32_t j = 0; j < nf; j++) {
        const float d_lo = lo[j] - x[j], d_hi = x[j] - hi[j];
        const float d = 0.5f * ((d_lo + fabsf(d_lo)) + (d_hi + fabsf(d_hi)));
        r += metric == EK_METRIC_MANHATTAN ? d : d * d;
    }
    return r;
}

#define EK_KDTREE_MAX_DEPTH 64u

void ek_knn_kdtree_f32(const ek_kdtree_t *tree, ek_metric_t metric, const void *points, ek_elem_t elem,
                       uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist)
{
    uint32_t stack_node[EK_KDTREE_MAX_DEPTH + 1u];
    float stack_lb[EK_KDTREE_MAX_DEPTH + 1u];
    uint32_t top = 0;
    for (uint32_t i = 0; i < k; i++) {
        dist[i] = INFINITY;
        idx[i] = -1;
    }
    stack_node[0] = 0u;
    stack_lb[0] = box_rdist(tree, metric, 0u, n_features, x);
    top = 1u;
    while (top > 0u) { /* the recursion of _query_single_depthfirst, as a stack */
        top--;
        const uint32_t node = stack_node[top];
        if (stack_lb[top] > dist[0]) continue; /* trimmed: the box is beyond the heap's top */
        if (tree->node_leaf[node]) {
            for (int32_t i = tree->node_start[node]; i < tree->node_end[node]; i++) {
                const uint32_t row = (uint32_t)tree->idx_array[i];
                heap_push(dist, idx, k, point_distance(metric, points, elem, row, n_features, x), (int32_t)row);
            }
            continue;
        }
        const uint32_t c1 = 2u * node + 1u, c2 = c1 + 1u;
        const float lb1 = box_rdist(tree, metric, c1, n_features, x), lb2 = box_rdist(tree, metric, c2, n_features, x);
        const uint32_t first = lb1 <= lb2 ? c1 : c2, second = lb1 <= lb2 ? c2 : c1;
        if (top + 2u > EK_KDTREE_MAX_DEPTH) break; /* deeper than any tree scikit-learn builds */
        stack_node[top] = second;
        stack_lb[top] = lb1 <= lb2 ? lb2 : lb1;
        stack_node[top + 1u] = first;
        stack_lb[top + 1u] = lb1 <= lb2 ? lb1 : lb2;
        top += 2u;
    }
    sort_neighbours(idx, dist, k);
}

static void sort_neighbours(int32_t *idx, float *dist, uint32_t k)
{
    /* ascending by (distance, row): insertion sort of k */
    for (uint32_t i = 1; i < k; i++) {
        const float d = dist[i];
        const int32_t r = idx[i];
        uint32_t j = i;
        while (j > 0u && (dist[j - 1u] > d || (dist[j - 1u] == d && idx[j - 1u] > r))) {
            dist[j] = dist[j - 1u];
            idx[j] = idx[j - 1u];
            j--;
        }
        dist[j] = d;
        idx[j] = r;
    }
}
