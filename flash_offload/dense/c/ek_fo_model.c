/* ek_fo_model.c - forward pass. Dot products accumulate in double (float*float products are
 * exact in double) in a fixed index order and round to float where numpy's float32 ops
 * would, so host and arm give bit-identical results and stay within float32 rounding of
 * numpy; greedy tokens can only differ from numpy on near-ties. */
#include "ek_fo_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ek_fo_state_bytes(const ek_fo_model *m)
{
    size_t d = (size_t)m->d;
    return sizeof(float) * (5 * d + (size_t)m->V + 2 * (size_t)m->L * (size_t)m->T * d + (size_t)m->T) +
           sizeof(double) * 2 * d;
}

int ek_fo_state_alloc(ek_fo_state *s, const ek_fo_model *m)
{
    size_t d = (size_t)m->d, kv = (size_t)m->L * (size_t)m->T * d;
    memset(s, 0, sizeof *s);
    s->x = calloc(d, sizeof(float));
    s->hbuf = calloc(d, sizeof(float));
    s->q = calloc(d, sizeof(float));
    s->att = calloc(d, sizeof(float));
    s->tmp = calloc(d, sizeof(float));
    s->logits = calloc((size_t)m->V, sizeof(float));
    s->kcache = calloc(kv, sizeof(float));
    s->vcache = calloc(kv, sizeof(float));
    s->scores = calloc((size_t)m->T, sizeof(float));
    s->acc = calloc(d, sizeof(double));
    s->ffn = calloc(d, sizeof(double));
    if (!s->x || !s->hbuf || !s->q || !s->att || !s->tmp || !s->logits || !s->kcache || !s->vcache ||
        !s->scores || !s->acc || !s->ffn) {
        ek_fo_state_free(s);
        return -1;
    }
    return 0;
}

void ek_fo_state_free(ek_fo_state *s)
{
    free(s->x); free(s->hbuf); free(s->q); free(s->att); free(s->tmp); free(s->logits);
    free(s->kcache); free(s->vcache); free(s->scores); free(s->acc); free(s->ffn);
    memset(s, 0, sizeof *s);
}

void ek_fo_layernorm(const float *x, const float *g, const float *b, int n, float *out)
{
    /* numpy: mean, var = mean((x-mean)^2), (x-mean)/sqrt(var+eps)*g + b, all float32. */
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    float mean = (float)(sum / n);
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
        float c = x[i] - mean;
        ss += (double)c * c;
    }
    float var = (float)(ss / n);
    float denom = sqrtf(var + 1e-5f);
    for (int i = 0; i < n; i++)
        out[i] = (x[i] - mean) / denom * g[i] + b[i];
}

/* out = x @ W + bias, W (n,n) row-major; i-outer keeps W reads sequential. */
static void matvec_bias(const float *x, const float *W, const float *bias, int n, double *acc, float *out)
{
    for (int j = 0; j < n; j++)
        acc[j] = 0.0;
    for (int i = 0; i < n; i++) {
        double xi = x[i];
        const float *row = W + (size_t)i * (size_t)n;
        for (int j = 0; j < n; j++)
            acc[j] += xi * row[j];
    }
    for (int j = 0; j < n; j++)
        out[j] = (float)acc[j] + bias[j];
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

void ek_fo_embed(const ek_fo_model *m, ek_fo_state *s, int tok, int pos)
{
    const float *te = m->tok_emb + (size_t)tok * (size_t)m->d;
    const float *pe = m->pos_emb + (size_t)pos * (size_t)m->d;
    for (int i = 0; i < m->d; i++)
        s->x[i] = te[i] + pe[i];
}

void ek_fo_attention(const ek_fo_model *m, ek_fo_state *s, int l, int pos)
{
    const ek_fo_layer_w *w = &m->layers[l];
    int d = m->d, hd = m->d / m->h;
    size_t base = (size_t)l * (size_t)m->T * (size_t)d;
    float *K = s->kcache + base, *Vc = s->vcache + base;
    float sq = (float)sqrt((double)hd);      /* numpy: scores / float32(sqrt(dh)) */

    ek_fo_layernorm(s->x, w->ln1_g, w->ln1_b, d, s->hbuf);
    matvec_bias(s->hbuf, w->wq, w->bq, d, s->acc, s->q);
    matvec_bias(s->hbuf, w->wk, w->bk, d, s->acc, K + (size_t)pos * (size_t)d);
    matvec_bias(s->hbuf, w->wv, w->bv, d, s->acc, Vc + (size_t)pos * (size_t)d);

    for (int hh = 0; hh < m->h; hh++) {
        int o = hh * hd;
        float mx = -INFINITY;
        for (int t = 0; t <= pos; t++) {
            float sc = (float)dot(s->q + o, K + (size_t)t * (size_t)d + o, hd) / sq;
            s->scores[t] = sc;
            if (sc > mx)
                mx = sc;
        }
        double z = 0.0;
        for (int t = 0; t <= pos; t++) {
            s->scores[t] = expf(s->scores[t] - mx);
            z += s->scores[t];
        }
        float zf = (float)z;
        for (int t = 0; t <= pos; t++)
            s->scores[t] = s->scores[t] / zf;
        for (int j = 0; j < hd; j++) {
            double a = 0.0;
            for (int t = 0; t <= pos; t++)
                a += (double)s->scores[t] * Vc[(size_t)t * (size_t)d + (size_t)(o + j)];
            s->att[o + j] = (float)a;
        }
    }
    matvec_bias(s->att, w->wo, w->bo, d, s->acc, s->tmp);
    for (int i = 0; i < d; i++)
        s->x[i] += s->tmp[i];

    ek_fo_layernorm(s->x, w->ln2_g, w->ln2_b, d, s->hbuf);
    for (int i = 0; i < d; i++)
        s->ffn[i] = 0.0;
    s->ffn_active = 0;
}

int ek_fo_neuron(const ek_fo_model *m, ek_fo_state *s, const float *up, const float *down, float b_up)
{
    float a = (float)dot(up, s->hbuf, m->d) + b_up;
    if (!(a > 0.0f))
        return 0;
    for (int i = 0; i < m->d; i++)
        s->ffn[i] += (double)a * down[i];
    s->ffn_active++;
    return 1;
}

void ek_fo_ffn_finish(const ek_fo_model *m, ek_fo_state *s, int l)
{
    const float *bd = m->layers[l].b_down;
    for (int i = 0; i < m->d; i++)              /* numpy: (x + y) + b_down */
        s->x[i] = (s->x[i] + (float)s->ffn[i]) + bd[i];
}

int ek_fo_logits(const ek_fo_model *m, ek_fo_state *s, float *margin)
{
    ek_fo_layernorm(s->x, m->lnf_g, m->lnf_b, m->d, s->hbuf);
    int best = 0;
    for (int v = 0; v < m->V; v++) {
        s->logits[v] = (float)dot(s->hbuf, m->tok_emb + (size_t)v * (size_t)m->d, m->d);
        if (s->logits[v] > s->logits[best])
            best = v;
    }
    float second = -INFINITY;
    for (int v = 0; v < m->V; v++)
        if (v != best && s->logits[v] > second)
            second = s->logits[v];
    *margin = s->logits[best] - second;
    return best;
}
