/* Reference convolution with packed int4 weights: int8 arithmetic with weights in [-8, 7]
 * (TFLite reference_integer_ops::ConvPerChannel, bit for bit), filter bytes per ek_nn.h:
 * NHWC input, OHWI filter [O, KH, KW, I/groups], 1-D as h = 1, stride, dilation, begin
 * padding (taps outside the input are skipped), groups = in_c / filter_c, per-channel or
 * per-tensor requantization, a fused activation clamp; the int8 kernel's loops
 * (ek_nn_ref.h) reading nibbles. No scratch. */
#include "ek_nn.h"
#include "ek_nn_ref.h"

uint32_t ek_conv_s4_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    (void)in_dims;
    (void)filter_dims;
    (void)out_dims;
    return 0u;
}

ek_status_t ek_conv_s4(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const uint8_t *packed_filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    return ek_conv_s4_ref(ctx, p, q, in_dims, in, filter_dims, packed_filter, bias, out_dims, out);
}
