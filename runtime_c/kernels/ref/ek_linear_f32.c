/* Reference dense kernels. */
#include "ek_linear.h"

void ek_linear_f32(const ek_ctx_t *ctx, const float *w, const float *b, uint32_t rows, uint32_t cols,
                   const float *x, float *y)
{
    (void)ctx;
    for (uint32_t r = 0; r < rows; r++) {
        const float *wr = &w[r * cols];
        float acc = b != NULL ? b[r] : 0.0f;
        for (uint32_t c = 0; c < cols; c++) acc += wr[c] * x[c];
        y[r] = acc;
    }
}

void ek_scale_shift_f32(const float *scale, const float *shift, uint32_t n, const float *x, float *y)
{
    for (uint32_t i = 0; i < n; i++) y[i] = x[i] * scale[i] + shift[i];
}
