/* Reference int8 elementwise multiply with broadcasting (TFLite reference_integer_ops::Mul /
 * BroadcastMul6DSlow): (a + o1) * (b + o2) fits int32 (|.| <= 255 * 255), requantized by one
 * multiplier of s1 * s2 / s_out, offset, clamped to the fused activation. */
#include "ek_nn.h"
#include "ek_nn_elementwise_ref.h"

ek_status_t ek_mul_s8(const ek_ctx_t *ctx, const ek_mul_params_t *p, const ek_bcast_t *bc, const int8_t *a,
                      const int8_t *b, int8_t *out)
{
    ek_bcast_iter_t it;
    (void)ctx;
    if (!ek_bcast_begin(&it, bc)) return EK_ERR_ARG;
    do {
        const int8_t *pa = a + it.a, *pb = b + it.b;
        int8_t *po = out + it.o;
        for (int32_t i = 0; i < it.n; i++) {
            const int32_t prod = ((int32_t)pa[i * it.sa] + p->input1_offset) * ((int32_t)pb[i * it.sb] + p->input2_offset);
            po[i] = ek_requant_s8(prod, p->output_multiplier, p->output_shift, p->output_offset, p->act_min, p->act_max);
        }
    } while (ek_bcast_next(&it, bc));
    return EK_OK;
}
