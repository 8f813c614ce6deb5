/* Reference Gaussian naive Bayes kernel: classes split across the team. */
#include "ek_bayes.h"
#include "ek_parallel.h"

typedef struct {
    const float *theta, *half_inv_var, *log_const, *x;
    float *jll;
    uint32_t n_classes, n_features;
} gnb_job_t;

static void gnb_classes(void *arg)
{
    const gnb_job_t *j = (const gnb_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->n_classes, &begin, &end);
    for (uint32_t c = begin; c < end; c++) {
        const float *t = &j->theta[c * j->n_features];
        const float *h = &j->half_inv_var[c * j->n_features];
        float acc = 0.0f;
        for (uint32_t f = 0; f < j->n_features; f++) {
            const float d = j->x[f] - t[f];
            acc += d * d * h[f];
        }
        j->jll[c] = j->log_const[c] - acc;
    }
}

void ek_gaussian_nb_jll_f32(const ek_ctx_t *ctx, const float *theta, const float *half_inv_var,
                            const float *log_const, uint32_t n_classes, uint32_t n_features,
                            const float *x, float *jll)
{
    gnb_job_t job = {theta, half_inv_var, log_const, x, jll, n_classes, n_features};
    ek_team_fork(ctx->n_cores, gnb_classes, &job);
}
