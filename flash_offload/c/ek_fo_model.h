/* ek_fo_model.h - the decoder forward pass of the flash-offload model (docs/flash_offload.md).
 * Byte vocabulary, pre-LN blocks, causal attention with a KV cache, ReLU FFN whose neurons
 * are computed one bundle at a time (so any subset can be streamed from the file). */
#ifndef EK_FO_MODEL_H
#define EK_FO_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const float *ln1_g, *ln1_b;
    const float *wq, *wk, *wv, *wo;      /* (d,d), used as x @ W */
    const float *bq, *bk, *bv, *bo;
    const float *ln2_g, *ln2_b;
    const float *b_down;
} ekfo_layer_w;

typedef struct {
    int V, d, L, h, f, T;
    const float *tok_emb, *pos_emb;      /* (V,d), (T,d); logits = x @ tok_emb.T */
    const float *lnf_g, *lnf_b;
    ekfo_layer_w *layers;                /* L entries */
} ekfo_model;

/* Per-token activations and the KV cache; every buffer allocated once (ekfo_state_alloc). */
typedef struct {
    float *x, *hbuf, *q, *att, *tmp, *logits;
    float *kcache, *vcache;              /* (L,T,d) */
    float *scores;                       /* (T) */
    double *acc;                         /* (d) matmul accumulators */
    double *ffn;                         /* (d) FFN output accumulator of the current layer */
    int ffn_active;                      /* neurons with relu(.) > 0 in the current layer */
} ekfo_state;

size_t ekfo_state_bytes(const ekfo_model *m);
int ekfo_state_alloc(ekfo_state *s, const ekfo_model *m);
void ekfo_state_free(ekfo_state *s);

/* x = tok_emb[tok] + pos_emb[pos] */
void ekfo_embed(const ekfo_model *m, ekfo_state *s, int tok, int pos);
/* Attention half of layer l at position pos (fills the KV cache), then hbuf = LN2(x)
 * and clears the FFN accumulator. */
void ekfo_attention(const ekfo_model *m, ekfo_state *s, int l, int pos);
/* One neuron: a = relu(up . hbuf + b_up); ffn += a * down. Returns 1 if a > 0. */
int ekfo_neuron(const ekfo_model *m, ekfo_state *s, const float *up, const float *down, float b_up);
/* x = (x + ffn) + b_down for layer l. */
void ekfo_ffn_finish(const ekfo_model *m, ekfo_state *s, int l);
/* Final LayerNorm and tied logits; returns the greedy token (lowest index on ties) and
 * the gap between the best and second-best logit in *margin. */
int ekfo_logits(const ekfo_model *m, ekfo_state *s, float *margin);

/* LayerNorm over n values, eps 1e-5 (exposed for the predictor). */
void ekfo_layernorm(const float *x, const float *g, const float *b, int n, float *out);

#endif
