/* Reference dense kernels. Rows are split across the team; each row's sum keeps its order,
 * so the result does not depend on the core count. */
#include "ek_linear.h"
#include "ek_parallel.h"

typedef struct {
    const float *w, *b, *x;
    float *y;
    uint32_t rows, cols;
} linear_job_t;

static void linear_rows(void *arg)
{
    const linear_job_t *j = (const linear_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->rows, &begin, &end);
    for (uint32_t r = begin; r < end; r++) {
        const float *wr = &j->w[r * j->cols];
        float acc = j->b != NULL ? j->b[r] : 0.0f;
        for (uint32_t c = 0; c < j->cols; c++) acc += wr[c] * j->x[c];
        j->y[r] = acc;
    }
}

void ek_linear_f32(const ek_ctx_t *ctx, const float *w, const float *b, uint32_t rows, uint32_t cols,
                   const float *x, float *y)
{
    linear_job_t job = {w, b, x, y, rows, cols};
    ek_team_fork(ctx->n_cores, linear_rows, &job);
}

void ek_scale_shift_f32(const float *scale, const float *shift, uint32_t n, const float *x, float *y)
{
    for (uint32_t i = 0; i < n; i++) y[i] = x[i] * scale[i] + shift[i];
}
