/* PULP cluster int8 depthwise convolution (overrides kernels/ref/ek_dwconv_s8.c): the
 * output channels are split across the team (ek_parallel.h, contiguous slices), so the
 * bytes are those of the reference kernel for any core count. Depth multiplier 1: one
 * channel at a time, its weights in locals, each pixel's taps clipped to the input once (no
 * per-tap checks), 3x3 windows inside the input unrolled. Others: the reference loops. */
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

#define MAX_TAPS 64

static inline void tap_range(int32_t i0, int32_t d, int32_t k, int32_t n, int32_t *first, int32_t *end)
{
    int32_t f = 0, e = k;
    if (i0 < 0) f = (-i0 + d - 1) / d;
    if (i0 + (k - 1) * d >= n) e = (n - i0 + d - 1) / d;
    *first = f;
    *end = e < f ? f : e;
}

__attribute__((noinline)) static void channel(const job_t *j, int32_t c)
{
    const ek_conv_params_t *p = j->p;
    const int32_t in_h = j->in_dims->h, in_w = j->in_dims->w, C = j->in_dims->c;
    const int32_t out_h = j->out_dims->h, out_w = j->out_dims->w;
    const int32_t kh = j->filter_dims->h, kw = j->filter_dims->w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t off = p->input_offset, zp = p->output_offset, lo = p->act_min, hi = p->act_max;
    const int32_t qc = j->q->n_channels == 1 ? 0 : c;
    const int32_t mult = j->q->multiplier[qc], shift = j->q->shift[qc], b0 = j->bias ? j->bias[c] : 0;
    int32_t wl[MAX_TAPS];
    for (int32_t t = 0; t < kh * kw; t++) wl[t] = j->filter[t * C + c];
    const int32_t k3 = kh == 3 && kw == 3 && dh == 1 && dw == 1, row = in_w * C;
    const int32_t w0 = wl[0], w1 = wl[1], w2 = wl[2], w3 = wl[3], w4 = wl[4], w5 = wl[5], w6 = wl[6], w7 = wl[7],
                  w8 = wl[8];
    for (int32_t b = 0; b < j->in_dims->n; b++) {
        const int8_t *img = j->in + b * in_h * row + c;
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t y0, y1;
            tap_range(iy0, dh, kh, in_h, &y0, &y1);
            int8_t *o = j->out + ((b * out_h + oy) * out_w) * C + c;
            for (int32_t ox = 0; ox < out_w; ox++, o += C) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t x0, x1;
                tap_range(ix0, dw, kw, in_w, &x0, &x1);
                int32_t acc = b0;
                if (k3 && y0 == 0 && y1 == 3 && x0 == 0 && x1 == 3) {
                    const int8_t *x = img + iy0 * row + ix0 * C;
                    acc += ((int32_t)x[0] + off) * w0 + ((int32_t)x[C] + off) * w1 + ((int32_t)x[2 * C] + off) * w2;
                    x += row;
                    acc += ((int32_t)x[0] + off) * w3 + ((int32_t)x[C] + off) * w4 + ((int32_t)x[2 * C] + off) * w5;
                    x += row;
                    acc += ((int32_t)x[0] + off) * w6 + ((int32_t)x[C] + off) * w7 + ((int32_t)x[2 * C] + off) * w8;
                } else {
                    for (int32_t ky = y0; ky < y1; ky++) {
                        const int8_t *x = img + (iy0 + ky * dh) * row + (ix0 + x0 * dw) * C;
                        for (int32_t kx = x0; kx < x1; kx++, x += dw * C) acc += ((int32_t)*x + off) * wl[ky * kw + kx];
                    }
                }
                *o = ek_requant_s8(acc, mult, shift, zp, lo, hi);
            }
        }
    }
}

static void channels(const job_t *j, int32_t c0, int32_t c1)
{
    if (j->p->depth_multiplier == 1 && j->filter_dims->h * j->filter_dims->w <= MAX_TAPS) {
        for (int32_t c = c0; c < c1; c++) channel(j, c);
    } else {
        ek_dwconv_s8_ref_range(j->p, j->q, j->in_dims, j->in, j->filter_dims, j->filter, j->bias, j->out_dims,
                               j->out, c0, c1);
    }
}

static void job(void *arg)
{
    const job_t *j = (const job_t *)arg;
    uint32_t begin, end;
    ek_team_slice((uint32_t)j->out_dims->c, &begin, &end);
    channels(j, (int32_t)begin, (int32_t)end);
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
        channels(&j, 0, out_dims->c);
    return EK_OK;
}
