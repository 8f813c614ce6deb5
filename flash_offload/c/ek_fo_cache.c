/* ek_fo_cache.c - windowing cache: O(1) delete and append on preallocated rows. */
#include "ek_fo_cache.h"

#include <stdlib.h>
#include <string.h>

size_t ekfo_cache_bytes(int cap, int f, size_t stride)
{
    return (size_t)cap * (stride + sizeof(int32_t)) + 2 * (size_t)f * sizeof(int32_t);
}

int ekfo_cache_alloc(ekfo_cache *c, int cap, int f, size_t stride)
{
    memset(c, 0, sizeof *c);
    c->rows = malloc((size_t)(cap > 0 ? cap : 1) * stride);
    c->row_neuron = malloc(sizeof(int32_t) * (size_t)(cap > 0 ? cap : 1));
    c->slot = malloc(sizeof(int32_t) * (size_t)f);
    c->last = malloc(sizeof(int32_t) * (size_t)f);
    if (!c->rows || !c->row_neuron || !c->slot || !c->last) {
        ekfo_cache_free(c);
        return -1;
    }
    for (int j = 0; j < f; j++) {
        c->slot[j] = -1;
        c->last[j] = INT32_MIN / 2;
    }
    c->stride = stride;
    c->cap = cap;
    c->f = f;
    return 0;
}

void ekfo_cache_free(ekfo_cache *c)
{
    free(c->rows); free(c->row_neuron); free(c->slot); free(c->last);
    memset(c, 0, sizeof *c);
}

void ekfo_cache_delete(ekfo_cache *c, int r)
{
    int last = c->used - 1;
    c->slot[c->row_neuron[r]] = -1;
    if (r != last) {
        memcpy(c->rows + (size_t)r * c->stride, c->rows + (size_t)last * c->stride, c->stride);
        c->row_neuron[r] = c->row_neuron[last];
        c->slot[c->row_neuron[r]] = r;
    }
    c->used--;
}

int ekfo_cache_evict_window(ekfo_cache *c, int now, int k)
{
    int n = 0;
    /* Downwards: the row moved into a hole has already been looked at. */
    for (int r = c->used - 1; r >= 0; r--)
        if (c->last[c->row_neuron[r]] < now - k) {
            ekfo_cache_delete(c, r);
            n++;
        }
    return n;
}

int ekfo_cache_evict_lru(ekfo_cache *c, int now)
{
    int best = -1;
    for (int r = 0; r < c->used; r++) {
        int32_t t = c->last[c->row_neuron[r]];
        if (t < now && (best < 0 || t < c->last[c->row_neuron[best]]))
            best = r;
    }
    if (best >= 0)
        ekfo_cache_delete(c, best);
    return best;
}

int ekfo_cache_append(ekfo_cache *c, int first, int n)
{
    int r0 = c->used;
    for (int i = 0; i < n; i++) {
        c->row_neuron[r0 + i] = first + i;
        c->slot[first + i] = r0 + i;
    }
    c->used += n;
    return r0;
}

int ekfo_cache_check(const ekfo_cache *c)
{
    if (c->used < 0 || c->used > c->cap)
        return -1;
    int live = 0;
    for (int j = 0; j < c->f; j++) {
        int r = c->slot[j];
        if (r < 0)
            continue;
        if (r >= c->used || c->row_neuron[r] != j)
            return -1;
        live++;
    }
    for (int r = 0; r < c->used; r++) {
        int j = c->row_neuron[r];
        if (j < 0 || j >= c->f || c->slot[j] != r)
            return -1;
    }
    return live == c->used ? 0 : -1;
}
