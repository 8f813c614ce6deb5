/* Reference depthwise convolution with packed int4 weights, int8 arithmetic
 * (TFLite reference_integer_ops::DepthwiseConvPerChannel): filter [1, KH, KW, C*M], output
 * channel ic*M + m reads input channel ic; the int8 kernel's loops (ek_nn_ref.h) reading
 * nibbles. No scratch. */
#include "ek_nn.h"
#include "ek_nn_ref.h"

uint32_t ek_dwconv_s4_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    (void)in_dims;
    (void)filter_dims;
    (void)out_dims;
    return 0u;
}

ek_status_t ek_dwconv_s4(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                         const uint8_t *packed_filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    return ek_dwconv_s4_ref(ctx, p, q, in_dims, in, filter_dims, packed_filter, bias, out_dims, out);
}
