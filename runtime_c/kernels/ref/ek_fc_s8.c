/* Reference int8 fully connected (TFLite reference_integer_ops::FullyConnected, and its
 * per-channel variant): acc = bias + sum (x + input_offset) * (w + filter_offset). */
#include "ek_nn.h"
#include "ek_nn_math.h"

uint32_t ek_fc_s8_scratch_bytes(int32_t in_features, int32_t out_features)
{
    (void)in_features;
    (void)out_features;
    return 0u;
}

ek_status_t ek_fc_s8(const ek_ctx_t *ctx, const ek_fc_params_t *p, const ek_requant_t *q, int32_t batches,
                     int32_t in_features, int32_t out_features, const int8_t *in, const int8_t *w,
                     const int32_t *bias, int8_t *out)
{
    (void)ctx;
    if (q->n_channels != 1 && q->n_channels != out_features) return EK_ERR_ARG;
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *x = in + b * in_features;
        for (int32_t n = 0; n < out_features; n++) {
            const int8_t *row = w + n * in_features;
            int32_t acc = bias ? bias[n] : 0;
            for (int32_t k = 0; k < in_features; k++)
                acc += ((int32_t)x[k] + p->input_offset) * ((int32_t)row[k] + p->filter_offset);
            const int32_t qc = q->n_channels == 1 ? 0 : n;
            out[b * out_features + n] =
                ek_requant_s8(acc, q->multiplier[qc], q->shift[qc], p->output_offset, p->act_min, p->act_max);
        }
    }
    return EK_OK;
}
