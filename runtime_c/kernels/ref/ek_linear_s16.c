/* Reference fixed-point dense kernel. Rows are split across the team; integer sums are
 * exact, so the result does not depend on the core count. */
#include "ek_linear_q.h"
#include "ek_parallel.h"

typedef struct {
    const int16_t *w;
    const ek_qacc_t *b;
    const int32_t *x;
    ek_qacc_t *y;
    uint32_t rows, cols;
} linear_q_job_t;

static void linear_q_rows(void *arg)
{
    const linear_q_job_t *j = (const linear_q_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->rows, &begin, &end);
    for (uint32_t r = begin; r < end; r++) {
        const int16_t *wr = &j->w[r * j->cols];
        ek_qacc_t acc = j->b != NULL ? j->b[r] : 0;
        for (uint32_t c = 0; c < j->cols; c++) acc += (ek_qacc_t)wr[c] * j->x[c];
        j->y[r] = acc;
    }
}

void ek_linear_q(const ek_ctx_t *ctx, const int16_t *w, const ek_qacc_t *b, uint32_t rows, uint32_t cols,
                 const int32_t *x, ek_qacc_t *y)
{
    linear_q_job_t job = {w, b, x, y, rows, cols};
    ek_team_fork(ctx->n_cores, linear_q_rows, &job);
}

int32_t ek_argmax_q(const ek_qacc_t *v, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (v[i] > v[best]) best = i;
    }
    return (int32_t)best;
}
