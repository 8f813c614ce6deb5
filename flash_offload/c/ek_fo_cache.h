/* ek_fo_cache.h - the windowing neuron cache of one layer (LLM in a flash, section 3.3):
 * a preallocated matrix of bundles, the neuron id of each row, and per neuron its row and
 * the last token it was predicted active. Delete moves the last row into the hole; insert
 * appends. Nothing is reallocated after ekfo_cache_alloc. */
#ifndef EK_FO_CACHE_H
#define EK_FO_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned char *rows;        /* cap * stride bytes */
    int32_t *row_neuron;        /* cap: neuron id of each live row */
    int32_t *slot;              /* f: row of each neuron, or -1 */
    int32_t *last;              /* f: last token the neuron was predicted active */
    size_t stride;
    int cap, used, f;
} ekfo_cache;

size_t ekfo_cache_bytes(int cap, int f, size_t stride);
int ekfo_cache_alloc(ekfo_cache *c, int cap, int f, size_t stride);
void ekfo_cache_free(ekfo_cache *c);

/* Deletes row r: the last live row moves into it. */
void ekfo_cache_delete(ekfo_cache *c, int r);
/* Drops every neuron not predicted in tokens now-k..now; returns how many. */
int ekfo_cache_evict_window(ekfo_cache *c, int now, int k);
/* Drops the least recently predicted neuron not predicted at token now; -1 if none. */
int ekfo_cache_evict_lru(ekfo_cache *c, int now);
/* Appends n rows for neurons first..first+n-1 (caller fills them); returns the first row. */
int ekfo_cache_append(ekfo_cache *c, int first, int n);
/* Checks the invariants (row/slot maps agree, ids unique and in range); 0 if they hold. */
int ekfo_cache_check(const ekfo_cache *c);

#endif
