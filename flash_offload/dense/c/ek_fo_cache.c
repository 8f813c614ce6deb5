/* ek_fo_cache.c - windowing cache: batch delete into holes, append, LRU by (last, row). */
#include "ek_fo_cache.h"

#include <stdlib.h>
#include <string.h>

size_t ek_fo_cache_bytes(int cap, int f, size_t stride)
{
    return (size_t)cap * (stride + sizeof(int32_t) + 1) + 2 * (size_t)f * sizeof(int32_t);
}

int ek_fo_cache_alloc(ek_fo_cache *c, int cap, int f, size_t stride)
{
    size_t rows = (size_t)(cap > 0 ? cap : 1);
    memset(c, 0, sizeof *c);
    c->rows = malloc(rows * stride);
    c->row_neuron = malloc(sizeof(int32_t) * rows);
    c->gone = calloc(rows, 1);
    c->slot = malloc(sizeof(int32_t) * (size_t)f);
    c->last = calloc((size_t)f, sizeof(int32_t));
    if (!c->rows || !c->row_neuron || !c->gone || !c->slot || !c->last) {
        ek_fo_cache_free(c);
        return -1;
    }
    for (int j = 0; j < f; j++)
        c->slot[j] = -1;
    c->stride = stride;
    c->cap = cap;
    c->f = f;
    return 0;
}

void ek_fo_cache_free(ek_fo_cache *c)
{
    free(c->rows); free(c->row_neuron); free(c->gone); free(c->slot); free(c->last);
    memset(c, 0, sizeof *c);
}

int ek_fo_cache_delete_marked(ek_fo_cache *c)
{
    int n_gone = 0;
    for (int r = 0; r < c->used; r++)
        if (c->gone[r]) {
            c->slot[c->row_neuron[r]] = -1;
            n_gone++;
        }
    int new_used = c->used - n_gone, mover = new_used;
    for (int r = 0; r < new_used; r++) {
        if (!c->gone[r])
            continue;
        while (c->gone[mover])
            mover++;
        memcpy(c->rows + (size_t)r * c->stride, c->rows + (size_t)mover * c->stride, c->stride);
        c->row_neuron[r] = c->row_neuron[mover];
        c->slot[c->row_neuron[r]] = r;
        mover++;
    }
    memset(c->gone, 0, (size_t)c->used);
    c->used = new_used;
    return n_gone;
}

int ek_fo_cache_admit(ek_fo_cache *c, const int32_t *want, int n, int t, int k, int32_t *need, int *n_need,
                     int *evicted)
{
    int missing = 0, ev = 0;
    for (int i = 0; i < n; i++) {
        if (c->slot[want[i]] >= 0)
            c->last[want[i]] = t;
        else
            need[missing++] = want[i];
    }
    for (int r = 0; r < c->used; r++)
        c->gone[r] = c->last[c->row_neuron[r]] < t - k;
    ev += ek_fo_cache_delete_marked(c);
    int room = c->cap - c->used;
    if (missing > room) {
        /* Least recently used first, ties by row; every live row has last in [t-k, t]. */
        int todo = missing - room;
        for (int v = t - k > 0 ? t - k : 0; v < t && todo > 0; v++)
            for (int r = 0; r < c->used && todo > 0; r++)
                if (c->last[c->row_neuron[r]] == v) {
                    c->gone[r] = 1;
                    todo--;
                }
        ev += ek_fo_cache_delete_marked(c);
        room = c->cap - c->used;
    }
    int dropped = missing > room ? missing - room : 0;
    missing -= dropped;
    for (int i = 0; i < missing; i++) {
        int r = c->used + i;
        c->row_neuron[r] = need[i];
        c->slot[need[i]] = r;
        c->last[need[i]] = t;
    }
    c->used += missing;
    *n_need = missing;
    *evicted = ev;
    return dropped;
}

int ek_fo_cache_check(const ek_fo_cache *c)
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
