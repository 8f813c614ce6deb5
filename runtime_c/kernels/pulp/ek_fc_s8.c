/* PULP cluster int8 fully connected (overrides kernels/ref/ek_fc_s8.c): output features
 * split across the team, the reference arithmetic per feature. */
#include "ek_nn.h"
#include "ek_nn_math.h"
#include "ek_parallel.h"

uint32_t ek_fc_s8_scratch_bytes(int32_t in_features, int32_t out_features)
{
    (void)in_features;
    (void)out_features;
    return 0u;
}

typedef struct {
    const ek_fc_params_t *p;
    const ek_requant_t *q;
    int32_t batches, in_features, out_features;
    const int8_t *in, *w;
    const int32_t *bias;
    int8_t *out;
} job_t;

static void features(const job_t *j, int32_t begin, int32_t end)
{
    const ek_fc_params_t *p = j->p;
    for (int32_t b = 0; b < j->batches; b++) {
        const int8_t *x = j->in + b * j->in_features;
        for (int32_t n = begin; n < end; n++) {
            const int8_t *row = j->w + n * j->in_features;
            int32_t acc = j->bias ? j->bias[n] : 0;
            for (int32_t k = 0; k < j->in_features; k++)
                acc += ((int32_t)x[k] + p->input_offset) * ((int32_t)row[k] + p->filter_offset);
            const int32_t qc = j->q->n_channels == 1 ? 0 : n;
            j->out[b * j->out_features + n] =
                ek_requant_s8(acc, j->q->multiplier[qc], j->q->shift[qc], p->output_offset, p->act_min, p->act_max);
        }
    }
}

static void job(void *arg)
{
    const job_t *j = (const job_t *)arg;
    uint32_t begin, end;
    ek_team_slice((uint32_t)j->out_features, &begin, &end);
    features(j, (int32_t)begin, (int32_t)end);
}

ek_status_t ek_fc_s8(const ek_ctx_t *ctx, const ek_fc_params_t *p, const ek_requant_t *q, int32_t batches,
                     int32_t in_features, int32_t out_features, const int8_t *in, const int8_t *w,
                     const int32_t *bias, int8_t *out)
{
    if (q->n_channels != 1 && q->n_channels != out_features) return EK_ERR_ARG;
    job_t j = {p, q, batches, in_features, out_features, in, w, bias, out};
    if (ctx->n_cores > 1)
        ek_team_fork(ctx->n_cores, job, &j);
    else
        features(&j, 0, out_features);
    return EK_OK;
}
