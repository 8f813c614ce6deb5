/* Reference fixed-point dense kernels (int32 and int64 accumulators). Rows are split
 * across the team; integer sums are exact, so the result does not depend on the core count. */
#include "ek_linear_s16.h"
#include "ek_parallel.h"

#define EK_ACC_BITS 32
#include "ek_linear_s16_body.h"
#undef EK_ACC_BITS
#define EK_ACC_BITS 64
#include "ek_linear_s16_body.h"

#define EK_DEFINE_ARGMAX(NAME, acc_t)                   \
    int32_t NAME(const acc_t *v, uint32_t n)            \
    {                                                   \
        uint32_t best = 0;                              \
        for (uint32_t i = 1; i < n; i++) {              \
            if (v[i] > v[best]) best = i;               \
        }                                               \
        return (int32_t)best;                           \
    }

EK_DEFINE_ARGMAX(ek_argmax_s32, int32_t)
EK_DEFINE_ARGMAX(ek_argmax_s64, int64_t)
