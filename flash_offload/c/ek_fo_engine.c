/* ek_fo_engine.c - token loop over the EKF file: neuron selection, coalesced preads into
 * the window cache or a staging buffer, FFN over the selected neurons in ascending id
 * order (so predictor and window modes add the same terms in the same order). */
#define _POSIX_C_SOURCE 200809L
#include "ek_fo_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int layer_f(const ekfo_engine *e, int l)
{
    return (int)e->file->bundled[l]->dims[0];
}

static int fail(ekfo_engine *e, const char *msg)
{
    snprintf(e->err, sizeof e->err, "%s", msg);
    return -1;
}

int ekfo_engine_init(ekfo_engine *e, ekfo_file *f, const ekfo_predictor *p, const ekfo_options *opt)
{
    const ekfo_model *m = &f->model;
    size_t stride = (size_t)f->bundle_stride;
    memset(e, 0, sizeof *e);
    e->file = f;
    e->pred = p;
    e->opt = *opt;
    if (opt->mode != EKFO_NAIVE && p == NULL)
        return fail(e, "predictor and window modes need a predictor file (--predictor)");
    if (p && (p->L != m->L || p->d != m->d))
        return fail(e, "the predictor was trained for a different model (layers or d_model differ)");
    int pred_floats = p ? p->max_r + m->f : 0;
    /* Fixed part: resident tensors, activations + KV cache, neuron ids, predictor. */
    uint64_t fixed = f->resident_bytes + ekfo_state_bytes(m) + sizeof(int32_t) * (uint64_t)m->f +
                     (p ? p->bytes + (uint64_t)pred_floats * (sizeof(float) + sizeof(double)) : 0);
    int want = opt->mode == EKFO_WINDOW ? (m->f < 32 ? m->f : 32) : m->f;
    if (opt->staging_cap_bytes && (size_t)want * stride > opt->staging_cap_bytes)
        want = (int)(opt->staging_cap_bytes / stride) > 0 ? (int)(opt->staging_cap_bytes / stride) : 1;
    uint64_t min_total = fixed + stride * (opt->mode == EKFO_WINDOW ? 2u : 1u) +
                         (opt->mode == EKFO_WINDOW ? (uint64_t)m->L * ekfo_cache_bytes(0, m->f, 0) : 0);
    if (opt->budget && opt->budget < min_total) {
        snprintf(e->err, sizeof e->err,
                 "DRAM budget %llu bytes is below the minimum for this model and mode: %llu bytes "
                 "(resident weights %llu, activations and KV cache %llu, one neuron bundle %zu); raise --budget",
                 (unsigned long long)opt->budget, (unsigned long long)min_total,
                 (unsigned long long)f->resident_bytes, (unsigned long long)ekfo_state_bytes(m), stride);
        return -1;
    }
    if (opt->budget && opt->mode != EKFO_WINDOW) {
        uint64_t fit = (opt->budget - fixed) / stride;
        if ((uint64_t)want > fit)
            want = (int)fit;
    }
    e->staging_bundles = want;
    uint64_t staging_bytes = (uint64_t)want * stride;
    e->dram_bytes = fixed + staging_bytes;
    if (opt->mode == EKFO_WINDOW) {
        uint64_t index = (uint64_t)m->L * ekfo_cache_bytes(0, m->f, 0);
        uint64_t per_row = (uint64_t)m->L * (stride + sizeof(int32_t));
        uint64_t rows = opt->budget ? (opt->budget - e->dram_bytes - index) / per_row : (uint64_t)m->f;
        e->cache_rows = rows > (uint64_t)m->f ? m->f : (int)rows;
        if (e->cache_rows < 1)
            return fail(e, "DRAM budget leaves no room for the window cache; raise --budget");
        e->caches = calloc((size_t)m->L, sizeof *e->caches);
        if (!e->caches)
            return fail(e, "out of memory");
        for (int l = 0; l < m->L; l++) {
            int fl = layer_f(e, l), cap = e->cache_rows < fl ? e->cache_rows : fl;
            if (ekfo_cache_alloc(&e->caches[l], cap, fl, stride) != 0)
                return fail(e, "cannot allocate the window cache");
            e->cache_bytes += ekfo_cache_bytes(cap, fl, stride);
        }
        e->dram_bytes += e->cache_bytes;
    }
    e->staging = malloc((size_t)staging_bytes);
    e->ids = malloc(sizeof(int32_t) * (size_t)m->f);
    if (p) {
        e->pred_buf = malloc(sizeof(float) * (size_t)pred_floats);
        e->pred_acc = malloc(sizeof(double) * (size_t)pred_floats);
    }
    if (!e->staging || !e->ids || (p && (!e->pred_buf || !e->pred_acc)) || ekfo_state_alloc(&e->st, m) != 0)
        return fail(e, "out of memory allocating the engine buffers");
    return 0;
}

void ekfo_engine_free(ekfo_engine *e)
{
    if (e->caches)
        for (int l = 0; l < e->file->model.L; l++)
            ekfo_cache_free(&e->caches[l]);
    free(e->caches); free(e->staging); free(e->ids); free(e->pred_buf); free(e->pred_acc);
    ekfo_state_free(&e->st);
    e->caches = NULL; e->staging = NULL; e->ids = NULL; e->pred_buf = NULL; e->pred_acc = NULL;
}

/* One pread of n consecutive bundles starting at neuron j of layer l. */
static int read_bundles(ekfo_engine *e, int l, int j, int n, unsigned char *dst, ekfo_counters *c)
{
    const ekfo_section *s = e->file->bundled[l];
    size_t bytes = (size_t)n * (size_t)s->stride;
    uint64_t t0 = now_ns();
    if (ekfo_pread(e->file, dst, bytes, s->offset + (uint64_t)j * s->stride) != 0) {
        snprintf(e->err, sizeof e->err, "%s", e->file->err);
        return -1;
    }
    c->io_ns += now_ns() - t0;
    c->bytes_read += bytes;
    c->reads++;
    c->neurons_loaded += (uint64_t)n;
    return 0;
}

static void neuron(ekfo_engine *e, const unsigned char *bundle, ekfo_counters *c)
{
    const float *b = (const float *)(const void *)bundle;
    int d = e->file->model.d;
    c->neurons_active += (uint64_t)ekfo_neuron(&e->file->model, &e->st, b, b + d, b[2 * d]);
}

/* Window mode: update activity, evict, and append the missing neurons to the cache tail
 * (runs of consecutive ids in one read each). Neurons that do not fit stay uncached. */
static int window_load(ekfo_engine *e, int l, int n, int pos, ekfo_counters *c)
{
    ekfo_cache *ca = &e->caches[l];
    const int32_t *ids = e->ids;
    uint64_t t0 = now_ns(), io0 = c->io_ns;
    int missing = 0;
    for (int i = 0; i < n; i++) {
        ca->last[ids[i]] = pos;
        missing += ca->slot[ids[i]] < 0;
    }
    c->cache_hits += (uint64_t)(n - missing);
    c->evicted += (uint64_t)ekfo_cache_evict_window(ca, pos, e->opt.window_k);
    while (ca->cap - ca->used < missing && ekfo_cache_evict_lru(ca, pos) >= 0)
        c->evicted++;
    for (int i = 0; i < n && ca->used < ca->cap;) {
        int j = ids[i];
        if (ca->slot[j] >= 0) {
            i++;
            continue;
        }
        int run = 1;
        while (i + run < n && ids[i + run] == j + run && ca->slot[j + run] < 0 && ca->used + run < ca->cap)
            run++;
        if (read_bundles(e, l, j, run, ca->rows + (size_t)ca->used * ca->stride, c) != 0)
            return -1;
        ekfo_cache_append(ca, j, run);
        i += run;
    }
    c->mm_ns += (now_ns() - t0) - (c->io_ns - io0);
    return 0;
}

/* Window mode computes every neuron of the window (predicted now or in the k previous
 * tokens and still cached) plus the ones predicted now: ascending ids into e->ids. */
static int window_set(ekfo_engine *e, int l, int pos)
{
    const ekfo_cache *ca = &e->caches[l];
    int n = 0;
    for (int j = 0; j < ca->f; j++)
        if (ca->slot[j] >= 0 || ca->last[j] == pos)
            e->ids[n++] = j;
    return n;
}

/* FFN of layer l over ids[0..n) in ascending order: cached rows in place, the rest read in
 * coalesced runs through the staging buffer. */
static int ffn_layer(ekfo_engine *e, int l, int n, ekfo_counters *c)
{
    const ekfo_cache *ca = e->caches ? &e->caches[l] : NULL;
    const int32_t *ids = e->ids;
    for (int i = 0; i < n;) {
        int j = ids[i];
        if (ca && ca->slot[j] >= 0) {
            neuron(e, ca->rows + (size_t)ca->slot[j] * ca->stride, c);
            i++;
            continue;
        }
        int run = 1;
        while (i + run < n && run < e->staging_bundles && ids[i + run] == j + run &&
               !(ca && ca->slot[j + run] >= 0))
            run++;
        if (read_bundles(e, l, j, run, e->staging, c) != 0)
            return -1;
        for (int k = 0; k < run; k++)
            neuron(e, e->staging + (size_t)k * e->file->bundle_stride, c);
        i += run;
    }
    c->neurons_used += (uint64_t)n;
    return 0;
}

int ekfo_engine_step(ekfo_engine *e, int tok, int pos, ekfo_counters *c, float *margin)
{
    const ekfo_model *m = &e->file->model;
    uint64_t t0 = now_ns();
    memset(c, 0, sizeof *c);
    if (tok < 0 || tok >= m->V || pos < 0 || pos >= m->T)
        return fail(e, "token or position out of range");
    ekfo_embed(m, &e->st, tok, pos);
    for (int l = 0; l < m->L; l++) {
        ekfo_attention(m, &e->st, l, pos);
        int n, fl = layer_f(e, l);
        if (e->opt.mode == EKFO_NAIVE) {
            for (int j = 0; j < fl; j++)
                e->ids[j] = j;
            n = fl;
        } else {
            n = ekfo_predict(e->pred, l, e->st.hbuf, e->ids, e->pred_buf, e->pred_acc);
        }
        if (e->opt.mode == EKFO_WINDOW) {
            if (window_load(e, l, n, pos, c) != 0)
                return -1;
            n = window_set(e, l, pos);
        }
        if (ffn_layer(e, l, n, c) != 0)
            return -1;
        ekfo_ffn_finish(m, &e->st, l);
    }
    int next = ekfo_logits(m, &e->st, margin);
    c->total_ns = now_ns() - t0;
    return next;
}
