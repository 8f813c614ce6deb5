/* Reference MLP activations (ek_mlp.h): relu max(x, 0), tanh, logistic 1 / (1 + e^-x). */
#include <math.h>
#include "ek_mlp.h"

static float logistic(float z)
{
    /* Split by sign so expf never overflows (as scipy's expit). */
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    const float e = expf(z);
    return e / (1.0f + e);
}

void ek_mlp_activation_f32(ek_act_t fn, uint32_t n, const float *x, float *y)
{
    switch (fn) {
    case EK_ACT_RELU:
        for (uint32_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case EK_ACT_TANH:
        for (uint32_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    default:
        for (uint32_t i = 0; i < n; i++) y[i] = logistic(x[i]);
        break;
    }
}
