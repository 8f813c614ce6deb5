/* ek_fo_engine.h - the token loop of the flash-offload runtime: resident weights in DRAM,
 * FFN neuron bundles read from the EKF file with pread each token (runs of adjacent neurons
 * coalesced into one read). Modes, as the rows of flash_offload/engine.py:
 *   naive      every neuron of every layer, read each token;
 *   hybrid     `static_rows` most frequently active neurons per layer stay in DRAM, the
 *              rest is read each token;
 *   predictor  static neurons + the neurons the low-rank predictor marks active, through
 *              the per-layer cache with a window of 0 (neurons predicted again are reused);
 *   window     the same with a window of k tokens: neurons stay cached (and computed)
 *              while used in the last k tokens, so only neurons new to the window are read.
 * Every buffer is allocated in ek_fo_engine_init; ek_fo_engine_step allocates nothing. */
#ifndef EK_FO_ENGINE_H
#define EK_FO_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "ek_fo_cache.h"
#include "ek_fo_file.h"
#include "ek_fo_io.h"
#include "ek_fo_model.h"
#include "ek_fo_predictor.h"

typedef enum { EK_FO_NAIVE, EK_FO_HYBRID, EK_FO_PREDICTOR, EK_FO_WINDOW } ek_fo_mode;

typedef struct {
    uint64_t bytes_read, reads, neurons_loaded, neurons_predicted, neurons_used, neurons_active;
    uint64_t cache_hits, evicted, dropped;
    uint64_t bridged;           /* bundles read only to bridge a gap (--gap-bytes), not computed */
    uint64_t io_bytes;          /* bytes the device transferred (O_DIRECT rounds to 4 KiB) */
    uint64_t io_ns, mm_ns, total_ns;
} ek_fo_counters;

typedef struct {
    ek_fo_mode mode;
    int window_k;
    uint64_t budget;            /* DRAM budget in bytes (0: none) */
    size_t staging_cap_bytes;   /* naive/hybrid: bound on the staging buffer (0: a whole layer) */
    int static_rows;            /* per layer; -1: what the budget leaves (0 without a budget) */
    int cache_rows;             /* per layer; -1: f/8 */
    size_t gap_bytes;           /* naive/hybrid: read through holes up to this size (one read, not two) */
    int threads;                /* threads issuing a layer's reads together (1: the caller alone) */
} ek_fo_options;

/* Bounce buffer of O_DIRECT reads (when the file has an O_DIRECT descriptor). */
#define EK_FO_BOUNCE_BYTES (256u << 10)

typedef struct {
    ek_fo_file *file;
    const ek_fo_predictor *pred;
    ek_fo_options opt;
    ek_fo_state st;
    ek_fo_cache *caches;         /* predictor/window: one per layer */
    unsigned char *staging;     /* naive/hybrid */
    ek_fo_io io;                /* read pool */
    ek_fo_read *jobs;           /* f: the reads of one batch */
    int n_jobs;
    size_t bounce_bytes;        /* O_DIRECT bounce buffer per thread */
    int staging_bundles;
    unsigned char *static_data; /* L * static_rows bundles */
    int32_t *static_ids;        /* L * static_rows, ascending per layer */
    unsigned char *is_static;   /* L * f */
    int static_rows, cache_rows;
    int32_t *ids, *need;        /* f each: neurons of the current layer */
    float *pred_buf;            /* predictor scratch (max_r + f floats) */
    double *pred_acc;           /* predictor accumulators (max_r + f) */
    uint64_t dram_bytes, static_bytes, cache_bytes;
    char err[EK_FO_ERR_BYTES];
} ek_fo_engine;

/* Sizes every buffer from the file's header and the options; -1 with e->err on failure
 * (e.g. the budget is below the minimum, which the message states). */
int ek_fo_engine_init(ek_fo_engine *e, ek_fo_file *f, const ek_fo_predictor *p, const ek_fo_options *opt);
/* Runs token tok at position pos; returns the greedy next token, or -1 with e->err. */
int ek_fo_engine_step(ek_fo_engine *e, int tok, int pos, ek_fo_counters *c, float *margin);
void ek_fo_engine_free(ek_fo_engine *e);

#endif
