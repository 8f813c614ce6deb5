/* ARMv7E-M DSP int8 depthwise convolution (overrides kernels/ref/ek_dwconv_s8.c; bit-exact
 * with it): ek_nn_armv7em_dw.h's loops, shared with the int4 override. */
#include "ek_nn.h"
#include "ek_nn_armv7em_dw.h"

uint32_t ek_dwconv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    return ek_armv7em_dw_scratch(in_dims, filter_dims, out_dims);
}

ek_status_t ek_dwconv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                         const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    return ek_armv7em_dwconv(ctx, p, q, in_dims, in, filter_dims, filter, 0, bias, out_dims, out);
}
