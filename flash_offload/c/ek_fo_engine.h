/* ek_fo_engine.h - the token loop of the flash-offload runtime: resident weights in DRAM,
 * FFN neuron bundles read from the EKF file with pread each token (adjacent neurons
 * coalesced into one read), in one of three modes:
 *   naive      every neuron of every layer, read each token (whole sections);
 *   predictor  only the neurons the low-rank predictor marks active;
 *   window     predictor + a per-layer cache of the neurons predicted at this token or
 *              the k before it; only neurons new to the window are read, and every
 *              neuron of the window is computed (it is in DRAM anyway).
 * Every buffer is allocated in ekfo_engine_init; ekfo_engine_step allocates nothing. */
#ifndef EK_FO_ENGINE_H
#define EK_FO_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "ek_fo_cache.h"
#include "ek_fo_file.h"
#include "ek_fo_model.h"
#include "ek_fo_predictor.h"

typedef enum { EKFO_NAIVE, EKFO_PREDICTOR, EKFO_WINDOW } ekfo_mode;

typedef struct {
    uint64_t bytes_read, reads, neurons_loaded, neurons_used, neurons_active, cache_hits, evicted;
    uint64_t io_ns, mm_ns, total_ns;
} ekfo_counters;

typedef struct {
    ekfo_mode mode;
    int window_k;
    uint64_t budget;            /* DRAM budget in bytes (0: none) */
    size_t staging_cap_bytes;   /* upper bound on the staging buffer (0: a whole layer) */
} ekfo_options;

typedef struct {
    ekfo_file *file;
    const ekfo_predictor *pred;
    ekfo_options opt;
    ekfo_state st;
    ekfo_cache *caches;         /* window mode: one per layer */
    unsigned char *staging;
    int staging_bundles;
    int32_t *ids;               /* neurons used in the current layer */
    float *pred_buf;            /* predictor scratch (max_r + f floats) */
    double *pred_acc;           /* predictor accumulators (max_r + f) */
    uint64_t dram_bytes;        /* everything this engine holds in DRAM */
    uint64_t cache_bytes;
    int cache_rows;             /* window mode: rows per layer */
    char err[EKFO_ERR_BYTES];
} ekfo_engine;

/* Sizes every buffer from the file's header and the budget; -1 with e->err on failure
 * (e.g. the budget is below the minimum, which the message states). */
int ekfo_engine_init(ekfo_engine *e, ekfo_file *f, const ekfo_predictor *p, const ekfo_options *opt);
/* Runs token tok at position pos; returns the greedy next token, or -1 with e->err. */
int ekfo_engine_step(ekfo_engine *e, int tok, int pos, ekfo_counters *c, float *margin);
void ekfo_engine_free(ekfo_engine *e);

#endif
