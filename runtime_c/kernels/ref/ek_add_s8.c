/* Reference int8 elementwise add (TFLite reference_integer_ops::Add, PrepareInt8AddSub's
 * parameters): both inputs offset, shifted left, scaled to a common scale, summed, rescaled. */
#include "ek_nn.h"
#include "ek_nn_math.h"

ek_status_t ek_add_s8(const ek_ctx_t *ctx, const ek_add_params_t *p, const int8_t *a, const int8_t *b,
                      int32_t n, int8_t *out)
{
    (void)ctx;
    for (int32_t i = 0; i < n; i++) {
        const int32_t x1 = (int32_t)((uint32_t)((int32_t)a[i] + p->input1_offset) << p->left_shift);
        const int32_t x2 = (int32_t)((uint32_t)((int32_t)b[i] + p->input2_offset) << p->left_shift);
        const int32_t s1 = ek_mbqm_smaller_than_one_exp(x1, p->input1_multiplier, p->input1_shift);
        const int32_t s2 = ek_mbqm_smaller_than_one_exp(x2, p->input2_multiplier, p->input2_shift);
        const int32_t raw = ek_mbqm_smaller_than_one_exp(s1 + s2, p->output_multiplier, p->output_shift) + p->output_offset;
        out[i] = (int8_t)ek_clamp_s32(raw, p->act_min, p->act_max);
    }
    return EK_OK;
}
