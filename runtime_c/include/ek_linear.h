/* ek_linear.h - dense layer y = W x + b (float32), the core of linear models, PCA and
 * the linear-kernel paths. W is row-major rows x cols. */
#ifndef EK_LINEAR_H
#define EK_LINEAR_H
#include "ek_common.h"

void ek_linear_f32(const ek_ctx_t *ctx, const float *w, const float *b, uint32_t rows, uint32_t cols,
                   const float *x, float *y);

/* Elementwise y = x * scale + shift (StandardScaler, MinMaxScaler). */
void ek_scale_shift_f32(const float *scale, const float *shift, uint32_t n, const float *x, float *y);

#endif
