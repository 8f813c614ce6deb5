/* ek_fo_engine.c - token loop over the EKF file: static neurons, predictor, window cache,
 * coalesced preads. Compute order per layer: static neurons (ascending id), then the
 * cache's live rows (row order) or the staged runs (ascending id). */
#define _POSIX_C_SOURCE 200809L
#include "ek_fo_engine.h"

#include <stdarg.h>
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

static int layer_f(const ek_fo_engine *e, int l)
{
    return (int)e->file->bundled[l]->dims[0];
}

static int fail(ek_fo_engine *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Queues one read of n consecutive bundles starting at neuron j of layer l. */
static void batch_add(ek_fo_engine *e, int l, int j, int n, unsigned char *dst, ek_fo_counters *c)
{
    const ek_fo_section *s = e->file->bundled[l];
    size_t bytes = (size_t)n * (size_t)s->stride;
    ek_fo_read *r = &e->jobs[e->n_jobs++];
    r->off = s->offset + (uint64_t)j * s->stride;
    r->n = bytes;
    r->dst = dst;
    c->bytes_read += bytes;
    c->reads++;
    c->neurons_loaded += (uint64_t)n;
}

/* Issues the queued reads (on the pool's threads) and waits for them. */
static int batch_flush(ek_fo_engine *e, ek_fo_counters *c)
{
    if (e->n_jobs == 0)
        return 0;
    uint64_t t0 = now_ns(), dev = 0;
    int rc = ek_fo_io_run(&e->io, e->jobs, e->n_jobs, &dev);
    e->n_jobs = 0;
    if (rc != 0) {
        snprintf(e->err, sizeof e->err, "%s", e->file->err);
        return -1;
    }
    c->io_ns += now_ns() - t0;
    c->io_bytes += dev;
    return 0;
}

/* ids[0..n) ascending -> rows dst[0..n): one read per run of consecutive ids, all at once. */
static int read_runs(ek_fo_engine *e, int l, const int32_t *ids, int n, unsigned char *dst, ek_fo_counters *c)
{
    size_t stride = (size_t)e->file->bundle_stride;
    for (int i = 0; i < n;) {
        int run = 1;
        while (i + run < n && ids[i + run] == ids[i] + run)
            run++;
        batch_add(e, l, ids[i], run, dst + (size_t)i * stride, c);
        i += run;
    }
    return batch_flush(e, c);
}

/* Static set of each layer: the static_rows most frequently active neurons in training
 * (ties: lower id), as predictor.ranking(); neuron order without a predictor. */
static const float *rank_freq;
static int by_freq(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (rank_freq && rank_freq[i] != rank_freq[j])
        return rank_freq[i] > rank_freq[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static int by_id(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    return (i > j) - (i < j);
}

static int load_static(ek_fo_engine *e)
{
    const ek_fo_model *m = &e->file->model;
    size_t stride = (size_t)e->file->bundle_stride;
    int s = e->static_rows;
    for (int l = 0; l < m->L; l++) {
        int fl = layer_f(e, l), sl = s < fl ? s : fl;
        for (int j = 0; j < fl; j++)
            e->ids[j] = j;
        rank_freq = e->pred && e->pred->layers[l].freq ? e->pred->layers[l].freq : NULL;
        qsort(e->ids, (size_t)fl, sizeof(int32_t), by_freq);
        qsort(e->ids, (size_t)sl, sizeof(int32_t), by_id);
        int32_t *sid = e->static_ids + (size_t)l * (size_t)s;
        memcpy(sid, e->ids, sizeof(int32_t) * (size_t)sl);
        for (int k = sl; k < s; k++)
            sid[k] = -1;
        for (int k = 0; k < sl; k++)
            e->is_static[(size_t)l * (size_t)m->f + (size_t)sid[k]] = 1;
        ek_fo_counters unused;
        memset(&unused, 0, sizeof unused);
        if (read_runs(e, l, sid, sl, e->static_data + (size_t)l * (size_t)s * stride, &unused) != 0)
            return -1;
    }
    return 0;
}

int ek_fo_engine_init(ek_fo_engine *e, ek_fo_file *f, const ek_fo_predictor *p, const ek_fo_options *opt)
{
    const ek_fo_model *m = &f->model;
    uint64_t stride = f->bundle_stride;
    int cached = opt->mode == EK_FO_PREDICTOR || opt->mode == EK_FO_WINDOW;
    memset(e, 0, sizeof *e);
    e->file = f;
    e->pred = p;
    e->opt = *opt;
    if (cached && p == NULL)
        return fail(e, "predictor and window modes need a predictor file (--predictor P.npz)");
    if (p && (p->L != m->L || p->d != m->d))
        return fail(e, "the predictor has %d layers of width %d, not this model's; train one for this model",
                    p->L, p->d);
    if (opt->mode != EK_FO_WINDOW)
        e->opt.window_k = 0;
    int pred_floats = p && cached ? p->max_r + m->f : 0;
    if (f->dfd >= 0) {              /* O_DIRECT bounce buffer: one bundle rounded out to blocks, at least */
        uint64_t want = (stride + EK_FO_ALIGN - 1) / EK_FO_ALIGN * EK_FO_ALIGN + EK_FO_ALIGN;
        e->bounce_bytes = want > EK_FO_BOUNCE_BYTES ? (size_t)want : EK_FO_BOUNCE_BYTES;
    }
    /* Fixed part: resident tensors, activations + KV cache, id lists, predictor, bounce buffer. */
    uint64_t fixed = f->resident_bytes + ek_fo_state_bytes(m) + 2 * sizeof(int32_t) * (uint64_t)m->f +
                     (uint64_t)m->L * (uint64_t)m->f +
                     (p ? p->bytes : 0) + (uint64_t)pred_floats * (sizeof(float) + sizeof(double)) +
                     ek_fo_io_bytes(opt->threads > 0 ? opt->threads : 1, e->bounce_bytes) +
                     sizeof(ek_fo_read) * (uint64_t)m->f;
    e->cache_rows = !cached ? 0 : opt->cache_rows >= 0 ? opt->cache_rows : (m->f / 8 > 0 ? m->f / 8 : 1);
    if (e->cache_rows > m->f)
        e->cache_rows = m->f;
    uint64_t cache = 0;
    for (int l = 0; cached && l < m->L; l++)
        cache += ek_fo_cache_bytes(e->cache_rows, layer_f(e, l), (size_t)stride);
    int staging = 0;
    if (!cached) {
        staging = m->f;
        if (opt->staging_cap_bytes && (uint64_t)staging * stride > opt->staging_cap_bytes)
            staging = (int)(opt->staging_cap_bytes / stride) > 0 ? (int)(opt->staging_cap_bytes / stride) : 1;
    }
    uint64_t minimum = fixed + cache + (cached ? 0 : stride);
    if (opt->budget && opt->budget < minimum) {
        snprintf(e->err, sizeof e->err,
                 "DRAM budget %llu bytes is below the minimum for this model and mode: %llu bytes "
                 "(resident weights %llu, activations and KV cache %llu, neuron cache %llu, I/O buffers); "
                 "raise --budget",
                 (unsigned long long)opt->budget, (unsigned long long)minimum,
                 (unsigned long long)f->resident_bytes, (unsigned long long)ek_fo_state_bytes(m),
                 (unsigned long long)cache);
        return -1;
    }
    uint64_t left = opt->budget ? opt->budget - fixed - cache : UINT64_MAX;
    if (opt->mode == EK_FO_NAIVE) {
        e->static_rows = 0;
    } else if (opt->static_rows >= 0) {
        e->static_rows = opt->static_rows > m->f ? m->f : opt->static_rows;
    } else {
        /* What the budget leaves after a staging buffer of up to 512 bundles (as the engine's
         * CHUNK_NEURONS), so the streamed neurons still come in large reads. */
        uint64_t per_row = (uint64_t)m->L * (stride + sizeof(int32_t));
        uint64_t reserve = cached ? 0 : (uint64_t)(staging < 512 ? staging : 512) * stride;
        uint64_t after_staging = left == UINT64_MAX ? 0 : left > reserve ? left - reserve : 0;
        e->static_rows = (int)(after_staging / per_row < (uint64_t)m->f ? after_staging / per_row : (uint64_t)m->f);
    }
    e->static_bytes = (uint64_t)m->L * (uint64_t)e->static_rows * (stride + sizeof(int32_t));
    if (opt->budget && e->static_bytes > left)
        return fail(e, "%d static neurons per layer do not fit the DRAM budget; at most %llu fit",
                    e->static_rows,
                    (unsigned long long)(left / ((uint64_t)m->L * (stride + sizeof(int32_t)))));
    if (!cached && opt->budget) {
        uint64_t fit = (left - e->static_bytes) / stride;
        if ((uint64_t)staging > fit)
            staging = fit > 0 ? (int)fit : 1;
        if (fit == 0)
            return fail(e, "the DRAM budget leaves no room to stage one neuron (%llu bytes); raise --budget",
                        (unsigned long long)stride);
    }
    e->staging_bundles = staging;
    e->cache_bytes = cache;
    e->dram_bytes = fixed + cache + e->static_bytes + (uint64_t)staging * stride;

    size_t L = (size_t)m->L, s = (size_t)e->static_rows;
    e->staging = malloc(staging > 0 ? (size_t)staging * stride : 1);
    e->jobs = malloc(sizeof(ek_fo_read) * (size_t)m->f);
    if (ek_fo_io_init(&e->io, f, opt->threads, e->bounce_bytes) != 0)
        return fail(e, "cannot start %d read threads", opt->threads);
    e->static_data = malloc(s > 0 ? L * s * stride : 1);
    e->static_ids = malloc(sizeof(int32_t) * (s > 0 ? L * s : 1));
    e->is_static = calloc(L * (size_t)m->f, 1);
    e->ids = malloc(sizeof(int32_t) * (size_t)m->f);
    e->need = malloc(sizeof(int32_t) * (size_t)m->f);
    if (pred_floats) {
        e->pred_buf = malloc(sizeof(float) * (size_t)pred_floats);
        e->pred_acc = malloc(sizeof(double) * (size_t)pred_floats);
    }
    if (cached)
        e->caches = calloc(L, sizeof *e->caches);
    if (!e->staging || !e->jobs || !e->static_data || !e->static_ids || !e->is_static ||
        !e->ids || !e->need ||
        (pred_floats && (!e->pred_buf || !e->pred_acc)) || (cached && !e->caches) || ek_fo_state_alloc(&e->st, m) != 0)
        return fail(e, "out of memory allocating the engine buffers (%llu bytes)",
                    (unsigned long long)e->dram_bytes);
    for (int l = 0; cached && l < m->L; l++)
        if (ek_fo_cache_alloc(&e->caches[l], e->cache_rows, layer_f(e, l), (size_t)stride) != 0)
            return fail(e, "cannot allocate the window cache (%d rows)", e->cache_rows);
    return load_static(e);
}

void ek_fo_engine_free(ek_fo_engine *e)
{
    if (e->caches)
        for (int l = 0; l < e->file->model.L; l++)
            ek_fo_cache_free(&e->caches[l]);
    ek_fo_io_free(&e->io);
    free(e->caches); free(e->staging); free(e->jobs);
    free(e->static_data); free(e->static_ids); free(e->is_static);
    free(e->ids); free(e->need); free(e->pred_buf); free(e->pred_acc);
    ek_fo_state_free(&e->st);
    memset(e, 0, sizeof *e);
}

static void neuron(ek_fo_engine *e, const unsigned char *bundle, ek_fo_counters *c)
{
    const float *b = (const float *)(const void *)bundle;
    int d = e->file->model.d;
    c->neurons_active += (uint64_t)ek_fo_neuron(&e->file->model, &e->st, b, b + d, b[2 * d]);
    c->neurons_used++;
}

/* naive/hybrid: every non-static neuron. Spans of ids (going on across holes of static
 * neurons up to gap_bytes, read but not computed) are packed into the staging buffer, read
 * together, then computed; e->need[q] is neuron q's row in staging. */
static int ffn_streamed(ek_fo_engine *e, int l, ek_fo_counters *c)
{
    const unsigned char *is_static = e->is_static + (size_t)l * (size_t)e->file->model.f;
    size_t stride = (size_t)e->file->bundle_stride;
    int n = 0, fl = layer_f(e, l), cap = e->staging_bundles;
    for (int j = 0; j < fl; j++)
        if (!is_static[j])
            e->ids[n++] = j;
    for (int i = 0; i < n;) {
        int i0 = i, used = 0;
        while (i < n && used < cap) {
            int first = e->ids[i], k = i + 1;
            while (k < n && e->ids[k] - first < cap - used &&
                   (size_t)(e->ids[k] - e->ids[k - 1] - 1) * stride <= e->opt.gap_bytes)
                k++;
            int span = e->ids[k - 1] - first + 1;
            batch_add(e, l, first, span, e->staging + (size_t)used * stride, c);
            c->neurons_loaded -= (uint64_t)(span - (k - i));
            c->bridged += (uint64_t)(span - (k - i));
            for (int q = i; q < k; q++)
                e->need[q] = used + e->ids[q] - first;
            used += span;
            i = k;
        }
        if (batch_flush(e, c) != 0)
            return -1;
        for (int q = i0; q < i; q++)
            neuron(e, e->staging + (size_t)e->need[q] * stride, c);
    }
    return 0;
}

/* predictor/window: admit the predicted non-static neurons into the cache, read the new
 * ones straight into the appended rows, compute every live row. */
static int ffn_cached(ek_fo_engine *e, int l, int pos, ek_fo_counters *c)
{
    const ek_fo_model *m = &e->file->model;
    const unsigned char *is_static = e->is_static + (size_t)l * (size_t)m->f;
    ek_fo_cache *ca = &e->caches[l];
    int n = ek_fo_predict(e->pred, l, e->st.hbuf, e->ids, e->pred_buf, e->pred_acc), want = 0;
    c->neurons_predicted += (uint64_t)n;
    for (int i = 0; i < n; i++)
        if (!is_static[e->ids[i]])
            e->ids[want++] = e->ids[i];
    uint64_t t0 = now_ns();
    int n_need, evicted;
    int dropped = ek_fo_cache_admit(ca, e->ids, want, pos, e->opt.window_k, e->need, &n_need, &evicted);
    int first = ca->used - n_need;
    c->dropped += (uint64_t)dropped;
    c->evicted += (uint64_t)evicted;
    c->cache_hits += (uint64_t)(want - n_need - dropped);
    c->mm_ns += now_ns() - t0;
    if (read_runs(e, l, e->need, n_need, ca->rows + (size_t)first * ca->stride, c) != 0)
        return -1;
    for (int r = 0; r < ca->used; r++)
        neuron(e, ca->rows + (size_t)r * ca->stride, c);
    return 0;
}

int ek_fo_engine_step(ek_fo_engine *e, int tok, int pos, ek_fo_counters *c, float *margin)
{
    const ek_fo_model *m = &e->file->model;
    size_t stride = (size_t)e->file->bundle_stride, s = (size_t)e->static_rows;
    uint64_t t0 = now_ns();
    memset(c, 0, sizeof *c);
    if (tok < 0 || tok >= m->V || pos < 0 || pos >= m->T)
        return fail(e, "token %d or position %d out of range", tok, pos);
    ek_fo_embed(m, &e->st, tok, pos);
    for (int l = 0; l < m->L; l++) {
        ek_fo_attention(m, &e->st, l, pos);
        const int32_t *sid = e->static_ids + (size_t)l * s;
        for (size_t k = 0; k < s && sid[k] >= 0; k++)
            neuron(e, e->static_data + ((size_t)l * s + k) * stride, c);
        int rc = e->caches ? ffn_cached(e, l, pos, c) : ffn_streamed(e, l, c);
        if (rc != 0)
            return -1;
        ek_fo_ffn_finish(m, &e->st, l);
    }
    int next = ek_fo_logits(m, &e->st, margin);
    c->total_ns = now_ns() - t0;
    return next;
}
