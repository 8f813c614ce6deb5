/* PULP cluster int8 average pool (overrides kernels/ref/ek_avgpool_s8.c): channels split
 * across the team, TFLite's reference arithmetic per channel (identical bytes). */
#include "ek_nn.h"
#include "ek_nn_math.h"
#include "ek_parallel.h"

uint32_t ek_avgpool_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *out_dims)
{
    (void)in_dims;
    (void)out_dims;
    return 0u;
}

typedef struct {
    const ek_pool_params_t *p;
    const ek_dims_t *in_dims, *out_dims;
    const int8_t *in;
    int8_t *out;
} job_t;

static void channels(const job_t *j, int32_t c0, int32_t c1)
{
    const ek_pool_params_t *p = j->p;
    const int32_t in_h = j->in_dims->h, in_w = j->in_dims->w, C = j->in_dims->c;
    for (int32_t b = 0; b < j->in_dims->n; b++) {
        for (int32_t oy = 0; oy < j->out_dims->h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t y0 = iy0 < 0 ? -iy0 : 0;
            const int32_t y1 = in_h - iy0 < p->filter_h ? in_h - iy0 : p->filter_h;
            for (int32_t ox = 0; ox < j->out_dims->w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t x0 = ix0 < 0 ? -ix0 : 0;
                const int32_t x1 = in_w - ix0 < p->filter_w ? in_w - ix0 : p->filter_w;
                const int32_t count = p->count_include_pad ? p->filter_h * p->filter_w : (y1 - y0) * (x1 - x0);
                for (int32_t c = c0; c < c1; c++) {
                    int32_t acc = 0;
                    for (int32_t ky = y0; ky < y1; ky++) {
                        const int8_t *x = j->in + ((b * in_h + iy0 + ky) * in_w + ix0 + x0) * C + c;
                        for (int32_t kx = x0; kx < x1; kx++, x += C) acc += *x;
                    }
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    j->out[((b * j->out_dims->h + oy) * j->out_dims->w + ox) * C + c] =
                        (int8_t)ek_clamp_s32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

static void job(void *arg)
{
    const job_t *j = (const job_t *)arg;
    uint32_t begin, end;
    ek_team_slice((uint32_t)j->in_dims->c, &begin, &end);
    channels(j, (int32_t)begin, (int32_t)end);
}

ek_status_t ek_avgpool_s8(const ek_ctx_t *ctx, const ek_pool_params_t *p, const ek_dims_t *in_dims,
                          const int8_t *in, const ek_dims_t *out_dims, int8_t *out)
{
    if (out_dims->c != in_dims->c) return EK_ERR_ARG;
    /* every window must hold a tap (the reference's EK_ERR_ARG), checked before any core starts */
    for (int32_t oy = 0; oy < out_dims->h; oy++)
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
            const int32_t y0 = iy0 < 0 ? -iy0 : 0, x0 = ix0 < 0 ? -ix0 : 0;
            const int32_t y1 = in_dims->h - iy0 < p->filter_h ? in_dims->h - iy0 : p->filter_h;
            const int32_t x1 = in_dims->w - ix0 < p->filter_w ? in_dims->w - ix0 : p->filter_w;
            if (!p->count_include_pad && (y1 <= y0 || x1 <= x0)) return EK_ERR_ARG;
        }
    job_t j = {p, in_dims, out_dims, in, out};
    if (ctx->n_cores > 1)
        ek_team_fork(ctx->n_cores, job, &j);
    else
        channels(&j, 0, in_dims->c);
    return EK_OK;
}
