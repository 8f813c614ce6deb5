/* A stand-in for an override that builds only for its target (tests/test_nn_plan.py): it
 * includes the Arm C Language Extensions header, which the host gcc does not have, so the
 * host probe fails and the scratch size must come from a probe run on cortex-m4. */
#include <arm_acle.h>
#include "ek_nn.h"

uint32_t ek_conv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    (void)out_dims;
    return (uint32_t)__usat(in_dims->c * filter_dims->h * filter_dims->w * 3, 16);
}
