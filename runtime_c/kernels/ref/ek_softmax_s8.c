/* Reference int8 softmax (TFLite reference_ops::Softmax, int8 in and out, output scale
 * 1/256 and zero point -128): exps in Q0.31 by gemmlowp's exp on Q5.26 differences, their
 * sum in Q12.19, one fixed-point reciprocal per row. */
#include "ek_nn.h"
#include "ek_nn_math.h"

ek_status_t ek_softmax_s8(const ek_ctx_t *ctx, const ek_softmax_params_t *p, int32_t rows, int32_t row_size,
                          const int8_t *in, int8_t *out)
{
    (void)ctx;
    if (p->input_left_shift < 0 || p->input_left_shift > 31) return EK_ERR_ARG;
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *x = in + r * row_size;
        int8_t *y = out + r * row_size;
        int32_t max = -128;
        for (int32_t i = 0; i < row_size; i++)
            if (x[i] > max) max = x[i];
        int32_t sum = 0;
        for (int32_t i = 0; i < row_size; i++) {
            const int32_t diff = (int32_t)x[i] - max;
            if (diff >= p->diff_min) {
                const int32_t scaled = ek_srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
                sum += ek_rdbpot(ek_exp_on_negative_values_q5(scaled), 12);
            }
        }
        int32_t bits_over_unit;
        const int32_t scale = ek_get_reciprocal(sum, 12, &bits_over_unit);
        for (int32_t i = 0; i < row_size; i++) {
            const int32_t diff = (int32_t)x[i] - max;
            if (diff >= p->diff_min) {
                const int32_t scaled = ek_srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
                const int32_t e = ek_exp_on_negative_values_q5(scaled);
                const int32_t v = ek_rdbpot(ek_srdhm(scale, e), bits_over_unit + 31 - 8) - 128;
                y[i] = (int8_t)ek_clamp_s32(v, -128, 127);
            } else {
                y[i] = -128;
            }
        }
    }
    return EK_OK;
}
