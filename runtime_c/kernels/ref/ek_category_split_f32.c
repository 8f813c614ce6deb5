/* Reference categorical-split kernel (ek_category.h). */
#include "ek_category.h"

void ek_category_split_f32(const ek_ctx_t *ctx, const ek_category_split_t *m, const float *x, float *y)
{
    int32_t *code = (int32_t *)ctx->scratch;
    for (uint32_t p = 0; p < m->n_copy; p++) y[p] = m->copy_from[p] >= 0 ? x[m->copy_from[p]] : 0.0f;
    for (uint32_t i = 0; i < m->n_slots; i++) {
        const float v = x[m->cat_column[i]];
        code[i] = -1; /* missing: NaN, or a value the encoder did not see */
        for (int32_t c = m->cat_start[i]; c < m->cat_start[i + 1u]; c++) {
            if (m->categories[c] == v) {
                code[i] = c - m->cat_start[i];
                break;
            }
        }
    }
    for (uint32_t j = 0; j < m->n_splits; j++) {
        const int32_t c = code[m->split_slot[j]];
        const uint32_t left = c < 0 ? m->split_missing_left[j]
                                    : (m->split_bits[8u * j + ((uint32_t)c >> 5)] >> ((uint32_t)c & 31u)) & 1u;
        y[m->n_copy + j] = left ? 0.0f : 1.0f;
    }
}
