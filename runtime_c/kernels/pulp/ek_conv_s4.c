/* PULP cluster convolution with packed int4 weights (overrides kernels/ref/ek_conv_s4.c):
 * the output channels split across the team (ek_nn_team_conv.h), the reference loops per
 * slice, so the bytes are the reference kernel's for any core count. */
#include "ek_nn.h"
#include "ek_nn_ref.h"
#include "ek_nn_team_conv.h"

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
    const ek_status_t st = ek_conv_s8_check(q, in_dims, filter_dims, out_dims);
    if (st != EK_OK) return st;
    ek_conv_team_job_t j = {ek_conv_s4_ref_range, p, q, in_dims, filter_dims, out_dims, in, packed_filter, bias, out};
    ek_conv_team_run(ctx, &j);
    return EK_OK;
}
