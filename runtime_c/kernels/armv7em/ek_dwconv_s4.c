/* ARMv7E-M DSP depthwise convolution with packed int4 weights (overrides
 * kernels/ref/ek_dwconv_s4.c; bit-exact with it): the int8 override's loops
 * (ek_nn_armv7em_dw.h), the weights of each group of four channels and tap sign-extended from
 * their nibbles once, before the loops over pixels, so the pixels run at the int8 speed. */
#include "ek_nn.h"
#include "ek_nn_armv7em_dw.h"

uint32_t ek_dwconv_s4_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    return ek_armv7em_dw_scratch(in_dims, filter_dims, out_dims);
}

ek_status_t ek_dwconv_s4(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                         const uint8_t *packed_filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    return ek_armv7em_dwconv(ctx, p, q, in_dims, in, filter_dims, packed_filter, 1, bias, out_dims, out);
}
