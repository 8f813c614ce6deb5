/* PULP cluster int8 depthwise convolution (overrides kernels/ref/ek_dwconv_s8.c): the output channels
 * are split across the team (ek_parallel.h, contiguous slices), each core running the
 * reference loops over its channels, so the bytes are those of the reference kernel for any
 * core count. Integer sums: nothing depends on the split. */
#include "ek_nn.h"
#include "ek_nn_ref.h"
#include "ek_parallel.h"

uint32_t ek_dwconv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    (void)in_dims;
    (void)filter_dims;
    (void)out_dims;
    return 0u;
}

typedef struct {
    const ek_conv_params_t *p;
    const ek_requant_t *q;
    const ek_dims_t *in_dims, *filter_dims, *out_dims;
    const int8_t *in, *filter;
    const int32_t *bias;
    int8_t *out;
} job_t;

static void job(void *arg)
{
    const job_t *j = (const job_t *)arg;
    uint32_t begin, end;
    ek_team_slice((uint32_t)j->out_dims->c, &begin, &end);
    ek_dwconv_s8_ref_range(j->p, j->q, j->in_dims, j->in, j->filter_dims, j->filter, j->bias, j->out_dims, j->out,
                         (int32_t)begin, (int32_t)end);
}

ek_status_t ek_dwconv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    const ek_status_t st = ek_dwconv_s8_check(p, q, in_dims, filter_dims, out_dims);
    if (st != EK_OK) return st;
    job_t j = {p, q, in_dims, filter_dims, out_dims, in, filter, bias, out};
    if (ctx->n_cores > 1)
        ek_team_fork(ctx->n_cores, job, &j);
    else
        ek_dwconv_s8_ref_range(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 0, out_dims->c);
    return EK_OK;
}
