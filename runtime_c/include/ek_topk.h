/* ek_topk.h - the ascending top-k list of the kNN kernels, for any distance type (float
 * distances in ek_distance_f32.c, integer ones in ek_distance_s16.c). */
#ifndef EK_TOPK_H
#define EK_TOPK_H
#include <stdint.h>

/* Defines `static void NAME(dist_t *dist, int32_t *idx, uint32_t *filled, uint32_t k,
 * dist_t d, int32_t p)`: inserts (d, p) into the ascending list of at most k; strict <
 * keeps earlier rows first, so merging per-core lists in core order gives the 1-core list. */
#define EK_DEFINE_TOPK_INSERT(NAME, dist_t)                                                  \
    static void NAME(dist_t *dist, int32_t *idx, uint32_t *filled, uint32_t k, dist_t d, int32_t p) \
    {                                                                                        \
        if (*filled == k && !(d < dist[k - 1u])) return;                                     \
        uint32_t pos = *filled < k ? (*filled)++ : k - 1u;                                   \
        while (pos > 0u && d < dist[pos - 1u]) {                                             \
            dist[pos] = dist[pos - 1u];                                                      \
            idx[pos] = idx[pos - 1u];                                                        \
            pos--;                                                                           \
        }                                                                                    \
        dist[pos] = d;                                                                       \
        idx[pos] = p;                                                                        \
    }

#endif
