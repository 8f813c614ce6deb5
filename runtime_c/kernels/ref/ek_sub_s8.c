/* Reference int8 elementwise subtract with broadcasting. TFLite's sub.cc prepares ADD's
 * parameters with input 2's multiplier negated (PrepareGeneralSubOp) and runs ADD's
 * arithmetic, so this is ek_add_s8's loop over parameters quantize already negated. */
#include "ek_nn.h"
#include "ek_nn_elementwise_ref.h"

ek_status_t ek_sub_s8(const ek_ctx_t *ctx, const ek_add_params_t *p, const ek_bcast_t *bc, const int8_t *a,
                      const int8_t *b, int8_t *out)
{
    (void)ctx;
    return ek_add_sub_bcast_s8(p, bc, a, b, out);
}
