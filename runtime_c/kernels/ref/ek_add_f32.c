/* Reference float32 elementwise add with numpy broadcasting and a fused activation range
 * (ek_nn_elementwise.h; ek_binary_bcast_f32 holds the loop the three ops share). */
#include "ek_nn.h"
#include "ek_nn_elementwise_ref.h"

ek_status_t ek_add_f32(const ek_ctx_t *ctx, const ek_binary_f32_params_t *p, const ek_bcast_t *bc, const float *a,
                       const float *b, float *out)
{
    (void)ctx;
    return ek_binary_bcast_f32(p, bc, a, b, out, '+');
}
