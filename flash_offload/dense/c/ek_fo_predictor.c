/* ek_fo_predictor.c - low-rank predictor forward; same double accumulation as the model. */
#include "ek_fo_predictor.h"

int ek_fo_predict(const ek_fo_predictor *p, int l, const float *h, int32_t *ids, float *scratch, double *acc)
{
    const ek_fo_pred_layer *pl = &p->layers[l];
    int d = p->d, r = pl->r, f = pl->f;
    float *z = scratch, *logit = scratch + r;
    for (int k = 0; k < r; k++)
        acc[k] = 0.0;
    for (int i = 0; i < d; i++) {
        const float *row = pl->w1 + (size_t)i * (size_t)r;
        for (int k = 0; k < r; k++)
            acc[k] += (double)h[i] * row[k];
    }
    for (int k = 0; k < r; k++)
        z[k] = (float)acc[k] + pl->b1[k];
    for (int j = 0; j < f; j++)
        acc[j] = 0.0;
    for (int k = 0; k < r; k++) {
        const float *row = pl->w2 + (size_t)k * (size_t)f;
        for (int j = 0; j < f; j++)
            acc[j] += (double)z[k] * row[j];
    }
    int n = 0;
    for (int j = 0; j < f; j++) {
        logit[j] = (float)acc[j] + pl->b2[j];
        if (logit[j] > pl->threshold)
            ids[n++] = j;
    }
    return n;
}
