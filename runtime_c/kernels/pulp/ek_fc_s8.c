/* PULP cluster int8 fully connected (overrides kernels/ref/ek_fc_s8.c): output features
 * split across the team, the reference arithmetic per feature (ek_nn_team_fc.h). */
#include "ek_nn.h"
#include "ek_nn_team_fc.h"

uint32_t ek_fc_s8_scratch_bytes(int32_t in_features, int32_t out_features)
{
    (void)in_features;
    (void)out_features;
    return 0u;
}

static void job(void *arg)
{
    ek_fc_team_slice((const ek_fc_team_job_t *)arg, 0);
}

ek_status_t ek_fc_s8(const ek_ctx_t *ctx, const ek_fc_params_t *p, const ek_requant_t *q, int32_t batches,
                     int32_t in_features, int32_t out_features, const int8_t *in, const int8_t *w,
                     const int32_t *bias, int8_t *out)
{
    if (q->scale == NULL || (q->n_channels != 1 && q->n_channels != out_features)) return EK_ERR_ARG;
    ek_fc_team_job_t j = {p, q, batches, in_features, out_features, in, w, bias, out};
    if (ctx->n_cores > 1)
        ek_team_fork(ctx->n_cores, job, &j);
    else
        ek_fc_team_features(&j, 0, out_features, 0);
    return EK_OK;
}
