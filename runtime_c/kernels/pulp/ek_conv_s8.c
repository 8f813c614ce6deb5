/* PULP cluster int8 convolution (overrides kernels/ref/ek_conv_s8.c): the output channels
 * are split across the team (ek_parallel.h, contiguous slices), so the bytes are those of
 * the reference kernel for any core count (integer sums: nothing depends on the split).
 * Ungrouped convs: per output pixel the window's taps inside the input (no per-tap bounds
 * checks), each input value offset once and used for four output channels. Grouped convs:
 * the reference loops. */
#include "ek_nn.h"
#include "ek_nn_ref.h"
#include "ek_parallel.h"

uint32_t ek_conv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
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

/* First tap index of a window starting at i0 (step d, k taps) inside [0, n), and the end. */
static inline void tap_range(int32_t i0, int32_t d, int32_t k, int32_t n, int32_t *first, int32_t *end)
{
    int32_t f = 0, e = k;
    if (i0 < 0) f = (-i0 + d - 1) / d;
    if (i0 + (k - 1) * d >= n) e = (n - i0 + d - 1) / d;
    *first = f;
    *end = e < f ? f : e;
}

/* acc[i] += sum_c (x[c] + off) * w_i[c] for four filter rows K apart (own frame: few live values). */
__attribute__((noinline)) static void dot4(const int8_t *x, const int8_t *w, int32_t K, int32_t n, int32_t off,
                                           int32_t *acc)
{
    const int8_t *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (const int8_t *end = x + n; x < end; x++) {
        const int32_t xo = (int32_t)*x + off;
        a0 += xo * *w++;
        a1 += xo * *w1++;
        a2 += xo * *w2++;
        a3 += xo * *w3++;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static void conv_fast(const job_t *j, int32_t oc0, int32_t oc1)
{
    const ek_conv_params_t *p = j->p;
    const ek_requant_t *q = j->q;
    const int32_t in_h = j->in_dims->h, in_w = j->in_dims->w, in_c = j->in_dims->c;
    const int32_t out_h = j->out_dims->h, out_w = j->out_dims->w, out_c = j->out_dims->c;
    const int32_t kh = j->filter_dims->h, kw = j->filter_dims->w, fc = j->filter_dims->c;
    const int32_t K = kh * kw * fc, dh = p->dilation_h, dw = p->dilation_w, off = p->input_offset;
    const int32_t zp = p->output_offset, lo = p->act_min, hi = p->act_max;
    for (int32_t b = 0; b < j->in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t y0, y1;
            tap_range(iy0, dh, kh, in_h, &y0, &y1);
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t x0, x1;
                tap_range(ix0, dw, kw, in_w, &x0, &x1);
                int8_t *o = j->out + ((b * out_h + oy) * out_w + ox) * out_c;
                int32_t oc = oc0;
                for (; oc + 4 <= oc1; oc += 4) {
                    int32_t acc[4] = {0, 0, 0, 0};
                    if (j->bias) {
                        for (int32_t i = 0; i < 4; i++) acc[i] = j->bias[oc + i];
                    }
                    const int8_t *w0 = j->filter + oc * K;
                    for (int32_t ky = y0; ky < y1; ky++) {
                        const int8_t *xr = j->in + ((b * in_h + iy0 + ky * dh) * in_w) * in_c;
                        if (dw == 1) { /* the window row's taps are one run of (x1 - x0) * fc values */
                            dot4(xr + (ix0 + x0) * in_c, w0 + (ky * kw + x0) * fc, K, (x1 - x0) * fc, off, acc);
                            continue;
                        }
                        for (int32_t kx = x0; kx < x1; kx++)
                            dot4(xr + (ix0 + kx * dw) * in_c, w0 + (ky * kw + kx) * fc, K, fc, off, acc);
                    }
                    for (int32_t i = 0; i < 4; i++) {
                        const int32_t qc = q->n_channels == 1 ? 0 : oc + i;
                        o[oc + i] = ek_requant_s8(acc[i], q->multiplier[qc], q->shift[qc], zp, lo, hi);
                    }
                }
                for (; oc < oc1; oc++) {
                    int32_t a = j->bias ? j->bias[oc] : 0;
                    for (int32_t ky = y0; ky < y1; ky++) {
                        for (int32_t kx = x0; kx < x1; kx++) {
                            const int8_t *x = j->in + ((b * in_h + iy0 + ky * dh) * in_w + ix0 + kx * dw) * in_c;
                            const int8_t *w = j->filter + oc * K + (ky * kw + kx) * fc;
                            for (int32_t c = 0; c < fc; c++) a += ((int32_t)x[c] + off) * w[c];
                        }
                    }
                    const int32_t qc = q->n_channels == 1 ? 0 : oc;
                    o[oc] = ek_requant_s8(a, q->multiplier[qc], q->shift[qc], zp, lo, hi);
                }
            }
        }
    }
}

static void channels(const job_t *j, int32_t oc0, int32_t oc1)
{
    if (j->filter_dims->c == j->in_dims->c)
        conv_fast(j, oc0, oc1);
    else
        ek_conv_s8_ref_range(j->p, j->q, j->in_dims, j->in, j->filter_dims, j->filter, j->bias, j->out_dims, j->out,
                             oc0, oc1);
}

static void job(void *arg)
{
    const job_t *j = (const job_t *)arg;
    uint32_t begin, end;
    ek_team_slice((uint32_t)j->out_dims->c, &begin, &end);
    channels(j, (int32_t)begin, (int32_t)end);
}

ek_status_t ek_conv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    const ek_status_t st = ek_conv_s8_check(q, in_dims, filter_dims, out_dims);
    if (st != EK_OK) return st;
    job_t j = {p, q, in_dims, filter_dims, out_dims, in, filter, bias, out};
    if (ctx->n_cores > 1)
        ek_team_fork(ctx->n_cores, job, &j);
    else
        channels(&j, 0, out_dims->c);
    return EK_OK;
}
