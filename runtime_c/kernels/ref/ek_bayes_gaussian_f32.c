/* Reference Gaussian naive Bayes kernel. */
#include "ek_bayes.h"

void ek_gaussian_nb_jll_f32(const ek_ctx_t *ctx, const float *theta, const float *half_inv_var,
                            const float *log_const, uint32_t n_classes, uint32_t n_features,
                            const float *x, float *jll)
{
    (void)ctx;
    for (uint32_t c = 0; c < n_classes; c++) {
        const float *t = &theta[c * n_features];
        const float *h = &half_inv_var[c * n_features];
        float acc = 0.0f;
        for (uint32_t f = 0; f < n_features; f++) {
            const float d = x[f] - t[f];
            acc += d * d * h[f];
        }
        jll[c] = log_const[c] - acc;
    }
}
