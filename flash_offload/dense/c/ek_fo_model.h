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
} ek_fo_layer_w;

typedef struct {
    int V, d, L, h, f, T;
    const float *tok_emb, *pos_emb;      /* (V,d), (T,d); logits = x @ tok_emb.T */
    const float *lnf_g, *lnf_b;
    ek_fo_layer_w *layers;                /* L entries */
} ek_fo_model;

/* Per-token activations and the KV cache; every buffer allocated once (ek_fo_state_alloc). */
typedef struct {
    float *x, *hbuf, *q, *att, *tmp, *logits;
    float *kcache, *vcache;              /* (L,T,d) */
    float *scores;                       /* (T) */
    double *acc;                         /* (d) matmul accumulators */
    double *ffn;                         /* (d) FFN output accumulator of the current layer */
    int ffn_active;                      /* neurons with relu(.) > 0 in the current layer */
} ek_fo_state;

size_t ek_fo_state_bytes(const ek_fo_model *m);
int ek_fo_state_alloc(ek_fo_state *s, const ek_fo_model *m);
void ek_fo_state_free(ek_fo_state *s);

/* x = tok_emb[tok] + pos_emb[pos] */
void ek_fo_embed(const ek_fo_model *m, ek_fo_state *s, int tok, int pos);
/* Attention half of layer l at position pos (fills the KV cache), then hbuf = LN2(x)
 * and clears the FFN accumulator. */
void ek_fo_attention(const ek_fo_model *m, ek_fo_state *s, int l, int pos);
/* One neuron: a = relu(up . hbuf + b_up); ffn += a * down. Returns 1 if a > 0. */
int ek_fo_neuron(const ek_fo_model *m, ek_fo_state *s, const float *up, const float *down, float b_up);
/* x = (x + ffn) + b_down for layer l. */
void ek_fo_ffn_finish(const ek_fo_model *m, ek_fo_state *s, int l);
/* Final LayerNorm and tied logits; returns the greedy token (lowest index on ties) and
 * the gap between the best and second-best logit in *margin. */
int ek_fo_logits(const ek_fo_model *m, ek_fo_state *s, float *margin);

/* LayerNorm over n values, eps 1e-5 (exposed for the predictor). */
void ek_fo_layernorm(const float *x, const float *g, const float *b, int n, float *out);

#endif
