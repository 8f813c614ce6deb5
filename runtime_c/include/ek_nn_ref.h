/* ek_nn_ref.h - the reference loops of the int8 conv and depthwise conv (TFLite's
 * reference_integer_ops), for int8 and packed int4 weights (the `s4` argument, a constant at
 * every call, so each kernel gets its own loops), shared by kernels/ref/ and the optimized
 * overrides, which fall back to them for shapes their fast paths do not take. */
#ifndef EK_NN_REF_H
#define EK_NN_REF_H
#include "ek_nn.h"
#include "ek_nn_math.h"

/* Weight i of an int8 (s4 = 0) or packed int4 (s4 = 1) filter. */
static inline __attribute__((always_inline)) int32_t ek_w_at(const void *w, int32_t i, int32_t s4)
{
    return s4 ? ek_s4_at((const uint8_t *)w, i) : (int32_t)((const int8_t *)w)[i];
}

static inline ek_status_t ek_conv_s8_check(const ek_requant_t *q, const ek_dims_t *in_dims,
                                           const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    const int32_t in_c = in_dims->c, out_c = out_dims->c, fc = filter_dims->c;
    if (fc <= 0 || in_c % fc != 0 || filter_dims->n != out_c) return EK_ERR_ARG;
    const int32_t groups = in_c / fc;
    if (out_c % groups != 0 || (q->n_channels != 1 && q->n_channels != out_c)) return EK_ERR_ARG;
    return EK_OK;
}

/* Output channels [oc_begin, oc_end) of a checked conv (parallel kernels split them). */
static inline __attribute__((always_inline)) void ek_conv_ref_range(
    const ek_conv_params_t *p, const ek_requant_t *q, const ek_dims_t *in_dims, const int8_t *in,
    const ek_dims_t *filter_dims, const void *filter, int32_t s4, const int32_t *bias, const ek_dims_t *out_dims,
    int8_t *out, int32_t oc_begin, int32_t oc_end)
{
    const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
    const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, fc = filter_dims->c;
    const int32_t per_group = out_c / (in_c / fc);
    for (int32_t b = 0; b < in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (int32_t oc = oc_begin; oc < oc_end; oc++) {
                    const int32_t c0 = (oc / per_group) * fc;
                    int32_t acc = bias ? bias[oc] : 0;
                    for (int32_t ky = 0; ky < kh; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        if (iy < 0 || iy >= in_h) continue;
                        for (int32_t kx = 0; kx < kw; kx++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            if (ix < 0 || ix >= in_w) continue;
                            const int8_t *x = in + ((b * in_h + iy) * in_w + ix) * in_c + c0;
                            const int32_t wi = ((oc * kh + ky) * kw + kx) * fc;
                            for (int32_t c = 0; c < fc; c++)
                                acc += ((int32_t)x[c] + p->input_offset) * ek_w_at(filter, wi + c, s4);
                        }
                    }
                    const int32_t qc = q->n_channels == 1 ? 0 : oc;
                    out[((b * out_h + oy) * out_w + ox) * out_c + oc] =
                        ek_requant_s8(acc, q->multiplier[qc], q->shift[qc], p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

static inline void ek_conv_s8_ref_range(const ek_conv_params_t *p, const ek_requant_t *q, const ek_dims_t *in_dims,
                                        const int8_t *in, const ek_dims_t *filter_dims, const int8_t *filter,
                                        const int32_t *bias, const ek_dims_t *out_dims, int8_t *out, int32_t oc_begin,
                                        int32_t oc_end)
{
    ek_conv_ref_range(p, q, in_dims, in, filter_dims, filter, 0, bias, out_dims, out, oc_begin, oc_end);
}

static inline void ek_conv_s4_ref_range(const ek_conv_params_t *p, const ek_requant_t *q, const ek_dims_t *in_dims,
                                        const int8_t *in, const ek_dims_t *filter_dims, const uint8_t *filter,
                                        const int32_t *bias, const ek_dims_t *out_dims, int8_t *out, int32_t oc_begin,
                                        int32_t oc_end)
{
    ek_conv_ref_range(p, q, in_dims, in, filter_dims, filter, 1, bias, out_dims, out, oc_begin, oc_end);
}

static inline ek_status_t ek_conv_s8_ref(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                                         const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    (void)ctx;
    const ek_status_t st = ek_conv_s8_check(q, in_dims, filter_dims, out_dims);
    if (st != EK_OK) return st;
    ek_conv_s8_ref_range(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 0, out_dims->c);
    return EK_OK;
}

static inline ek_status_t ek_conv_s4_ref(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                                         const uint8_t *filter, const int32_t *bias, const ek_dims_t *out_dims,
                                         int8_t *out)
{
    (void)ctx;
    const ek_status_t st = ek_conv_s8_check(q, in_dims, filter_dims, out_dims);
    if (st != EK_OK) return st;
    ek_conv_s4_ref_range(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 0, out_dims->c);
    return EK_OK;
}

static inline ek_status_t ek_dwconv_s8_check(const ek_conv_params_t *p, const ek_requant_t *q,
                                             const ek_dims_t *in_dims, const ek_dims_t *filter_dims,
                                             const ek_dims_t *out_dims)
{
    const int32_t out_c = out_dims->c, m = p->depth_multiplier;
    if (m <= 0 || out_c != in_dims->c * m || filter_dims->c != out_c) return EK_ERR_ARG;
    if (q->n_channels != 1 && q->n_channels != out_c) return EK_ERR_ARG;
    return EK_OK;
}

/* Output channels [oc_begin, oc_end) of a checked depthwise conv. */
static inline __attribute__((always_inline)) void ek_dwconv_ref_range(
    const ek_conv_params_t *p, const ek_requant_t *q, const ek_dims_t *in_dims, const int8_t *in,
    const ek_dims_t *filter_dims, const void *filter, int32_t s4, const int32_t *bias, const ek_dims_t *out_dims,
    int8_t *out, int32_t oc_begin, int32_t oc_end)
{
    const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
    const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, m = p->depth_multiplier;
    for (int32_t b = 0; b < in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (int32_t oc = oc_begin; oc < oc_end; oc++) {
                    const int32_t ic = oc / m;
                    int32_t acc = bias ? bias[oc] : 0;
                    for (int32_t ky = 0; ky < kh; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        if (iy < 0 || iy >= in_h) continue;
                        for (int32_t kx = 0; kx < kw; kx++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            if (ix < 0 || ix >= in_w) continue;
                            const int32_t x = in[((b * in_h + iy) * in_w + ix) * in_c + ic];
                            acc += (x + p->input_offset) * ek_w_at(filter, (ky * kw + kx) * out_c + oc, s4);
                        }
                    }
                    const int32_t qc = q->n_channels == 1 ? 0 : oc;
                    out[((b * out_h + oy) * out_w + ox) * out_c + oc] =
                        ek_requant_s8(acc, q->multiplier[qc], q->shift[qc], p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

static inline void ek_dwconv_s8_ref_range(const ek_conv_params_t *p, const ek_requant_t *q, const ek_dims_t *in_dims,
                                          const int8_t *in, const ek_dims_t *filter_dims, const int8_t *filter,
                                          const int32_t *bias, const ek_dims_t *out_dims, int8_t *out,
                                          int32_t oc_begin, int32_t oc_end)
{
    ek_dwconv_ref_range(p, q, in_dims, in, filter_dims, filter, 0, bias, out_dims, out, oc_begin, oc_end);
}

static inline void ek_dwconv_s4_ref_range(const ek_conv_params_t *p, const ek_requant_t *q, const ek_dims_t *in_dims,
                                          const int8_t *in, const ek_dims_t *filter_dims, const uint8_t *filter,
                                          const int32_t *bias, const ek_dims_t *out_dims, int8_t *out,
                                          int32_t oc_begin, int32_t oc_end)
{
    ek_dwconv_ref_range(p, q, in_dims, in, filter_dims, filter, 1, bias, out_dims, out, oc_begin, oc_end);
}

static inline ek_status_t ek_dwconv_s8_ref(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                                           const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                                           const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    (void)ctx;
    const ek_status_t st = ek_dwconv_s8_check(p, q, in_dims, filter_dims, out_dims);
    if (st != EK_OK) return st;
    ek_dwconv_s8_ref_range(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 0, out_dims->c);
    return EK_OK;
}

static inline ek_status_t ek_dwconv_s4_ref(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                                           const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                                           const uint8_t *filter, const int32_t *bias, const ek_dims_t *out_dims,
                                           int8_t *out)
{
    (void)ctx;
    const ek_status_t st = ek_dwconv_s8_check(p, q, in_dims, filter_dims, out_dims);
    if (st != EK_OK) return st;
    ek_dwconv_s4_ref_range(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 0, out_dims->c);
    return EK_OK;
}

#endif
