/* Reference float32 fully connected: out[b, n] = clamp(sum_k x[b, k] * w[n, k] + bias[n]). */
#include "ek_nn.h"
#include "ek_nn_math.h"

ek_status_t ek_fc_f32(const ek_ctx_t *ctx, float act_min, float act_max, int32_t batches, int32_t in_features,
                      int32_t out_features, const float *in, const float *w, const float *bias, float *out)
{
    (void)ctx;
    for (int32_t b = 0; b < batches; b++) {
        const float *x = in + b * in_features;
        for (int32_t n = 0; n < out_features; n++) {
            const float *row = w + n * in_features;
            float acc = 0.0f;
            for (int32_t k = 0; k < in_features; k++) acc += x[k] * row[k];
            if (bias) acc += bias[n];
            out[b * out_features + n] = ek_clamp_f32(acc, act_min, act_max);
        }
    }
    return EK_OK;
}
