/* ek_fo_cache.h - the windowing neuron cache of one layer (LLM in a flash, section 3.3):
 * a preallocated matrix of bundles, the neuron id of each live row, per neuron its row and
 * the last token it was used. Delete moves the last live rows into the holes; insert
 * appends. Nothing is (re)allocated after ek_fo_cache_alloc. Same policy, step for step,
 * as WindowCache in flash_offload/window_cache.py, so both engines compute the same neurons. */
#ifndef EK_FO_CACHE_H
#define EK_FO_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned char *rows;        /* cap * stride bytes */
    int32_t *row_neuron;        /* cap: neuron id of each live row */
    unsigned char *gone;        /* cap: scratch marks for a batch delete */
    int32_t *slot;              /* f: row of each neuron, or -1 */
    int32_t *last;              /* f: last token the neuron was used (valid while cached) */
    size_t stride;
    int cap, used, f;
} ek_fo_cache;

size_t ek_fo_cache_bytes(int cap, int f, size_t stride);
int ek_fo_cache_alloc(ek_fo_cache *c, int cap, int f, size_t stride);
void ek_fo_cache_free(ek_fo_cache *c);

/* Deletes the rows marked in c->gone[0..used): the last live rows move into the holes below
 * the new end, in ascending order. Clears the marks. Returns how many were deleted. */
int ek_fo_cache_delete_marked(ek_fo_cache *c);
/* Admits the neurons want[0..n) (ascending) for token t with window k: marks hits used,
 * drops rows unused for more than k tokens, evicts least recently used rows not used at t
 * to make room, and appends the missing neurons that fit (their rows are for the caller to
 * fill). need receives the appended ids (ascending); returns how many did not fit. */
int ek_fo_cache_admit(ek_fo_cache *c, const int32_t *want, int n, int t, int k, int32_t *need, int *n_need,
                     int *evicted);
/* Checks the invariants (row/slot maps agree, ids unique and in range); 0 if they hold. */
int ek_fo_cache_check(const ek_fo_cache *c);

#endif
