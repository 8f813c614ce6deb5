/* ek_linear_s16_body.h - the s16 dense kernel for one accumulator width; included by
 * kernels/ref/ek_linear_s16.c once per EK_ACC_BITS (see ek_acc.h). Not an API header. */
#include "ek_acc.h"

typedef struct {
    const int16_t *w;
    const EK_ACC_T *b;
    const int32_t *x;
    EK_ACC_T *y;
    uint32_t rows, cols;
} EK_ACC(linear_s16_job_t);

static void EK_ACC(linear_s16_rows)(void *arg)
{
    const EK_ACC(linear_s16_job_t) *j = (const EK_ACC(linear_s16_job_t) *)arg;
    uint32_t begin, end;
    ek_team_slice(j->rows, &begin, &end);
    for (uint32_t r = begin; r < end; r++) {
        const int16_t *wr = &j->w[r * j->cols];
        EK_ACC_T acc = j->b != NULL ? j->b[r] : 0;
        for (uint32_t c = 0; c < j->cols; c++) acc += (EK_ACC_T)wr[c] * j->x[c];
        j->y[r] = acc;
    }
}

void EK_ACC(ek_linear_s16)(const ek_ctx_t *ctx, const int16_t *w, const EK_ACC_T *b, uint32_t rows, uint32_t cols,
                           const int32_t *x, EK_ACC_T *y)
{
    EK_ACC(linear_s16_job_t) job = {w, b, x, y, rows, cols};
    ek_team_fork(ctx->n_cores, EK_ACC(linear_s16_rows), &job);
}
