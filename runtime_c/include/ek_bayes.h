/* ek_bayes.h - Gaussian naive Bayes joint log-likelihood. */
#ifndef EK_BAYES_H
#define EK_BAYES_H
#include "ek_common.h"

/* jll[c] = log_const[c] - sum_f (x[f] - theta[c,f])^2 * half_inv_var[c,f] */
void ek_gaussian_nb_jll_f32(const ek_ctx_t *ctx, const float *theta, const float *half_inv_var,
                            const float *log_const, uint32_t n_classes, uint32_t n_features,
                            const float *x, float *jll);

#endif
