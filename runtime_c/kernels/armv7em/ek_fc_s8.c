/* ARMv7E-M DSP fully connected, int8
 * (overrides kernels/ref/ek_fc_s8.c; bit-exact with it): ek_nn_armv7em_fc.h. No scratch. */
#include "ek_nn.h"
#include "ek_nn_armv7em_fc.h"

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
    return ek_armv7em_fc(p, q, batches, in_features, out_features, in, w, 0, bias, out);
}
