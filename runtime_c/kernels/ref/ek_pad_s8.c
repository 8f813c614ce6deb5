/* Reference int8 constant pad (TFLite pad.cc, PAD / PADV2): `value` is the quantized pad
 * value (the output zero point for 0.0); input and output share scale and zero point. */
#include "ek_nn.h"
#include "ek_nn_elementwise_ref.h"

ek_status_t ek_pad_s8(const ek_ctx_t *ctx, const ek_pad_params_t *p, int8_t value, const int8_t *in, int8_t *out)
{
    (void)ctx;
    return ek_pad_bytes(p, 1u, (const uint8_t *)in, (uint8_t *)out, (const uint8_t *)&value);
}
