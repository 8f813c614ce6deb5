/* ek_distance.h - distances to stored points: nearest centroid and k nearest neighbours. */
#ifndef EK_DISTANCE_H
#define EK_DISTANCE_H
#include "ek_common.h"

typedef enum { EK_METRIC_EUCLIDEAN = 0, EK_METRIC_MANHATTAN = 1 } ek_metric_t;

/* Storage of stored points: float32, or integers when every stored value is an integer in
 * range (exact, 4x or 2x less flash; chosen by the generator). */
typedef enum { EK_ELEM_F32 = 0, EK_ELEM_U8 = 1, EK_ELEM_I16 = 2 } ek_elem_t;

/* Squared euclidean or manhattan distance (monotone in the true distance). */
float ek_distance_f32(ek_metric_t metric, const float *a, const float *b, uint32_t n);

/* Index of the nearest of n_points rows (first one on ties). Scratch: n_points floats. */
int32_t ek_nearest_f32(const ek_ctx_t *ctx, ek_metric_t metric, const float *points, uint32_t n_points,
                       uint32_t n_features, const float *x);

/* Distance from x to an integer-stored point (same value as ek_distance_f32 on the floats). */
float ek_distance_u8_f32(ek_metric_t metric, const uint8_t *a, const float *b, uint32_t n);
float ek_distance_i16_f32(ek_metric_t metric, const int16_t *a, const float *b, uint32_t n);

/* The k nearest rows, ascending by distance, earlier rows first on ties.
 * idx[k] and dist[k] receive them (dist as ek_distance_f32 returns it). With several cores,
 * work holds per-core lists: ek_knn_work_bytes(k, n_cores) bytes (unused on one core). */
void ek_knn_f32(const ek_ctx_t *ctx, ek_metric_t metric, const void *points, ek_elem_t elem,
                uint32_t n_points, uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist,
                void *work);
uint32_t ek_knn_work_bytes(uint32_t k, uint32_t n_cores);

/* Tie rules of the k nearest rows. LOWER_INDEX: ek_knn_f32. SKLEARN_BRUTE: scikit-learn's
 * brute-force search as one thread runs it (sklearn/utils/_heap.pyx heap_push: a max-heap of
 * k over the rows in order, a row entering only when strictly nearer than the heap's top);
 * ek_knn_heap_f32, then ascending (distance, row). With several cores the distances are
 * computed in parallel into work (ek_knn_heap_work_bytes) and pushed in row order by core 0. */
#define EK_TIES_LOWER_INDEX 0u
#define EK_TIES_SKLEARN_BRUTE 1u
/* SKLEARN_KD_TREE: scikit-learn's KDTree query (sklearn/neighbors/_binary_tree.pxi.tp,
 * _query_single_depthfirst): from the root, the nearer child first by min_rdist (the lower
 * bound from the node's box; the first on equal bounds), a node trimmed when its bound is
 * above the heap's top, a leaf's rows pushed in the tree's idx_array order with heap_push. */
#define EK_TIES_SKLEARN_KD_TREE 2u

/* scikit-learn's fitted KDTree: nodes in heap order (children of i: 2i+1, 2i+2). */
typedef struct {
    const int32_t *idx_array;  /* training rows in tree order */
    const int32_t *node_start; /* per node: [start, end) in idx_array */
    const int32_t *node_end;
    const uint8_t *node_leaf;
    const float *bounds;       /* 2 x n_nodes x n_features: lower, then upper corners */
    uint32_t n_nodes;
} ek_kdtree_t;

void ek_knn_kdtree_f32(const ek_kdtree_t *tree, ek_metric_t metric, const void *points, ek_elem_t elem,
                       uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist);
void ek_knn_heap_f32(const ek_ctx_t *ctx, ek_metric_t metric, const void *points, ek_elem_t elem,
                     uint32_t n_points, uint32_t n_features, const float *x, uint32_t k, int32_t *idx, float *dist,
                     void *work);
uint32_t ek_knn_heap_work_bytes(uint32_t n_points, uint32_t n_cores);

#endif
