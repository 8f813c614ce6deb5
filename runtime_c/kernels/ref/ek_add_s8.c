/* Reference int8 elementwise add (TFLite reference_integer_ops::Add, PrepareInt8AddSub's
 * parameters): both inputs offset, shifted left, scaled to a common scale, summed, rescaled.
 * ek_add_s8: same shapes; ek_add_bcast_s8: numpy broadcasting (BroadcastAdd6DSlow's arithmetic). */
#include "ek_nn.h"
#include "ek_nn_elementwise_ref.h"

ek_status_t ek_add_s8(const ek_ctx_t *ctx, const ek_add_params_t *p, const int8_t *a, const int8_t *b,
                      int32_t n, int8_t *out)
{
    (void)ctx;
    for (int32_t i = 0; i < n; i++) out[i] = ek_add_elem_s8(p, a[i], b[i]);
    return EK_OK;
}

ek_status_t ek_add_bcast_s8(const ek_ctx_t *ctx, const ek_add_params_t *p, const ek_bcast_t *bc, const int8_t *a,
                            const int8_t *b, int8_t *out)
{
    (void)ctx;
    return ek_add_sub_bcast_s8(p, bc, a, b, out);
}
