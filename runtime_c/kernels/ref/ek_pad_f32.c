/* Reference float32 constant pad (ONNX Pad, mode constant). */
#include "ek_nn.h"
#include "ek_nn_elementwise_ref.h"

ek_status_t ek_pad_f32(const ek_ctx_t *ctx, const ek_pad_params_t *p, float value, const float *in, float *out)
{
    (void)ctx;
    return ek_pad_bytes(p, (uint32_t)sizeof(float), (const uint8_t *)in, (uint8_t *)out, (const uint8_t *)&value);
}
