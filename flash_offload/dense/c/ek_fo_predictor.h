/* ek_fo_predictor.h - the per-layer sparsity predictor: a low-rank
 * Linear(d->r) -> Linear(r->f) on the FFN input (LN2(x)); neuron j is predicted active
 * when its logit exceeds the threshold. */
#ifndef EK_FO_PREDICTOR_H
#define EK_FO_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int r, f;
    const float *w1, *b1;       /* (d,r), (r): z = h @ w1 + b1 */
    const float *w2, *b2;       /* (r,f), (f): logit = z @ w2 + b2 */
    float threshold;            /* on the logit */
    const float *freq;          /* (f): training activation rate, ranks static neurons; may be NULL */
} ek_fo_pred_layer;

typedef struct {
    int L, d, max_r;
    ek_fo_pred_layer *layers;
    float *blob;                /* one block holding every predictor tensor */
    uint64_t bytes;
} ek_fo_predictor;

/* Writes the ids (ascending) of neurons predicted active in layer l into ids; returns the
 * count. scratch: max_r + f floats. */
int ek_fo_predict(const ek_fo_predictor *p, int l, const float *h, int32_t *ids, float *scratch, double *acc);

#endif
