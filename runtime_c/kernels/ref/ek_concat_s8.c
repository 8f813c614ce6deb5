/* Reference int8 concat along any axis (TFLite concatenation.cc): each of the `outer` output
 * rows is the inputs' rows in turn. TFLite's int8 kernel needs one scale and zero point on
 * every input and the output (bytes copied); an input with other parameters is requantized
 * as the QUANTIZE (int8 -> int8) TFLite's converter puts in front of it:
 * zo + MultiplyByQuantizedMultiplier(x - zi, M(s_in / s_out)), saturated. */
#include "ek_nn.h"
#include "ek_nn_math.h"

ek_status_t ek_concat_s8(const ek_ctx_t *ctx, const ek_concat_params_t *p, const ek_concat_requant_t *rq,
                         const int8_t *const *in, int8_t *out)
{
    (void)ctx;
    if (p->n_inputs < 1 || p->outer < 0) return EK_ERR_ARG;
    for (int32_t o = 0; o < p->outer; o++) {
        for (int32_t k = 0; k < p->n_inputs; k++) {
            const int32_t n = p->inner[k];
            const int8_t *src = in[k] + o * n;
            if (rq == NULL || rq[k].copy) {
                for (int32_t i = 0; i < n; i++) out[i] = src[i];
            } else {
                const ek_concat_requant_t *q = &rq[k];
                for (int32_t i = 0; i < n; i++)
                    out[i] = ek_requant_s8((int32_t)src[i] + q->input_offset, q->multiplier, q->shift, q->output_offset,
                                           -128, 127);
            }
            out += n;
        }
    }
    return EK_OK;
}
