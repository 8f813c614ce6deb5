/* ek_nn_team_conv.h - a conv or depthwise conv whose output channels are split across the
 * team (ek_parallel.h, contiguous slices), each slice by a `range` function (the reference
 * loops of ek_nn_ref.h): integer sums, so the bytes are the one-core kernel's for any count.
 * Used by the PULP packed-int4 overrides. */
#ifndef EK_NN_TEAM_CONV_H
#define EK_NN_TEAM_CONV_H
#include "ek_nn.h"
#include "ek_parallel.h"

typedef void (*ek_conv_range_fn_t)(const ek_conv_params_t *p, const ek_requant_t *q, const ek_dims_t *in_dims,
                                   const int8_t *in, const ek_dims_t *filter_dims, const uint8_t *filter,
                                   const int32_t *bias, const ek_dims_t *out_dims, int8_t *out, int32_t oc_begin,
                                   int32_t oc_end);

typedef struct {
    ek_conv_range_fn_t range;
    const ek_conv_params_t *p;
    const ek_requant_t *q;
    const ek_dims_t *in_dims, *filter_dims, *out_dims;
    const int8_t *in;
    const uint8_t *filter;
    const int32_t *bias;
    int8_t *out;
} ek_conv_team_job_t;

static void ek_conv_team_slice(void *arg)
{
    const ek_conv_team_job_t *j = (const ek_conv_team_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice((uint32_t)j->out_dims->c, &begin, &end);
    j->range(j->p, j->q, j->in_dims, j->in, j->filter_dims, j->filter, j->bias, j->out_dims, j->out, (int32_t)begin,
             (int32_t)end);
}

static inline void ek_conv_team_run(const ek_ctx_t *ctx, ek_conv_team_job_t *j)
{
    if (ctx->n_cores > 1)
        ek_team_fork(ctx->n_cores, ek_conv_team_slice, j);
    else
        j->range(j->p, j->q, j->in_dims, j->in, j->filter_dims, j->filter, j->bias, j->out_dims, j->out, 0,
                 j->out_dims->c);
}

#endif
