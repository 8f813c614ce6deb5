/* ek_category.h - HistGradientBoosting's categorical splits as plain features
 * (sdk/frontends/sklearn/hist_categorical.py).
 *
 * y[0 .. n_copy-1]: the encoder's column order, y[p] = x[copy_from[p]] (copy_from[p] < 0: a
 * categorical slot, 0.0f). Slot i encodes x[cat_column[i]] as scikit-learn's OrdinalEncoder
 * does: the index of the first equal value in categories[cat_start[i] .. cat_start[i+1]-1],
 * or "missing" (NaN, unknown). Then y[n_copy + j] = 0.0f where categorical split j sends the
 * sample left (code's bit set in split_bits[8j .. 8j+7], or missing and split_missing_left[j])
 * and 1.0f where it goes right; the trees split on `y <= 0.5` there. */
#ifndef EK_CATEGORY_H
#define EK_CATEGORY_H
#include "ek_common.h"

typedef struct {
    const int32_t *copy_from;
    uint32_t n_copy;
    const int32_t *cat_column;   /* per slot: input column */
    const int32_t *cat_start;    /* n_slots + 1 offsets into categories */
    const float *categories;     /* known values in code order (NaN: matches nothing) */
    uint32_t n_slots;
    const int32_t *split_slot;   /* per split: slot */
    const uint32_t *split_bits;  /* per split: 256-bit set of codes that go left */
    const uint8_t *split_missing_left;
    uint32_t n_splits;
} ek_category_split_t;

/* Scratch: one int32 code per slot. */
void ek_category_split_f32(const ek_ctx_t *ctx, const ek_category_split_t *m, const float *x, float *y);

#endif
