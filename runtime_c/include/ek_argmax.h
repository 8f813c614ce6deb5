/* ek_argmax.h - small vector helpers shared by classifier kernels. */
#ifndef EK_ARGMAX_H
#define EK_ARGMAX_H
#include "ek_common.h"

/* Index of the first maximum, as numpy.argmax. */
int32_t ek_argmax_f32(const float *v, uint32_t n);

/* Index of the first maximum of integer votes (forests' vote counts). */
static inline int32_t ek_argmax_i32(const int32_t *v, uint32_t n)
{
    uint32_t best = 0;
    int32_t top = v[0];
    for (uint32_t i = 1; i < n; i++) {
        if (v[i] > top) {
            top = v[i];
            best = i;
        }
    }
    return (int32_t)best;
}

/* In-place softmax and logistic, numerically stable. */
void ek_softmax_f32(float *v, uint32_t n);
float ek_sigmoid_f32(float z);
/* expf (boosted trees' log link: Poisson, gamma, Tweedie). */
float ek_exp_f32(float z);

#endif
