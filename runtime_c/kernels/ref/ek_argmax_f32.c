/* Vector helpers: argmax, softmax, sigmoid. */
#include <math.h>
#include "ek_argmax.h"

int32_t ek_argmax_f32(const float *v, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (v[i] > v[best]) best = i;
    }
    return (int32_t)best;
}

void ek_softmax_f32(float *v, uint32_t n)
{
    float m = v[0];
    for (uint32_t i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    float s = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        v[i] = expf(v[i] - m);
        s += v[i];
    }
    for (uint32_t i = 0; i < n; i++) v[i] /= s;
}

float ek_sigmoid_f32(float z)
{
    /* Split by sign so expf never overflows. */
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    const float e = expf(z);
    return e / (1.0f + e);
}

float ek_exp_f32(float z)
{
    return expf(z);
}
