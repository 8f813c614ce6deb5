/* ek_linear.h - dense layer y = W x + b (float32), the core of linear models, PCA and
 * the linear-kernel paths. W is row-major rows x cols. */
#ifndef EK_LINEAR_H
#define EK_LINEAR_H
#include "ek_common.h"

void ek_linear_f32(const ek_ctx_t *ctx, const float *w, const float *b, uint32_t rows, uint32_t cols,
                   const float *x, float *y);

/* Elementwise y = (x - offset) * scale (StandardScaler, MinMaxScaler after folding). */
void ek_affine_f32(const float *offset, const float *scale, uint32_t n, const float *x, float *y);

#endif
