/* Reference float32 concat along any axis: each of the `outer` output rows is the inputs'
 * rows in turn (input k's row: inner[k] elements). */
#include "ek_nn.h"

ek_status_t ek_concat_f32(const ek_ctx_t *ctx, const ek_concat_params_t *p, const float *const *in, float *out)
{
    (void)ctx;
    if (p->n_inputs < 1 || p->outer < 0) return EK_ERR_ARG;
    for (int32_t o = 0; o < p->outer; o++) {
        for (int32_t k = 0; k < p->n_inputs; k++) {
            const int32_t n = p->inner[k];
            const float *src = in[k] + o * n;
            for (int32_t i = 0; i < n; i++) out[i] = src[i];
            out += n;
        }
    }
    return EK_OK;
}
