/* Reference float32 softmax over each row: exp(x - max) / sum. */
#include <math.h>

#include "ek_nn.h"

ek_status_t ek_softmax_f32(const ek_ctx_t *ctx, int32_t rows, int32_t row_size, const float *in, float *out)
{
    (void)ctx;
    for (int32_t r = 0; r < rows; r++) {
        const float *x = in + r * row_size;
        float *y = out + r * row_size;
        float max = x[0], sum = 0.0f;
        for (int32_t i = 1; i < row_size; i++)
            if (x[i] > max) max = x[i];
        for (int32_t i = 0; i < row_size; i++) {
            y[i] = expf(x[i] - max);
            sum += y[i];
        }
        for (int32_t i = 0; i < row_size; i++) y[i] = y[i] / sum;
    }
    return EK_OK;
}
