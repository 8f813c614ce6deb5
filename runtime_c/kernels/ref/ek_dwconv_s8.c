/* Reference int8 depthwise convolution (TFLite reference_integer_ops::DepthwiseConvPerChannel):
 * filter [1, KH, KW, C*M], output channel ic*M + m reads input channel ic. No scratch. */
#include "ek_nn.h"
#include "ek_nn_math.h"

uint32_t ek_dwconv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    (void)in_dims;
    (void)filter_dims;
    (void)out_dims;
    return 0u;
}

ek_status_t ek_dwconv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                         const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    (void)ctx;
    const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
    const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, m = p->depth_multiplier;
    if (m <= 0 || out_c != in_c * m || filter_dims->c != out_c) return EK_ERR_ARG;
    if (q->n_channels != 1 && q->n_channels != out_c) return EK_ERR_ARG;
    for (int32_t b = 0; b < in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (int32_t oc = 0; oc < out_c; oc++) {
                    const int32_t ic = oc / m;
                    int32_t acc = bias ? bias[oc] : 0;
                    for (int32_t ky = 0; ky < kh; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        if (iy < 0 || iy >= in_h) continue;
                        for (int32_t kx = 0; kx < kw; kx++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            if (ix < 0 || ix >= in_w) continue;
                            const int32_t x = in[((b * in_h + iy) * in_w + ix) * in_c + ic];
                            acc += (x + p->input_offset) * (int32_t)filter[(ky * kw + kx) * out_c + oc];
                        }
                    }
                    const int32_t qc = q->n_channels == 1 ? 0 : oc;
                    out[((b * out_h + oy) * out_w + ox) * out_c + oc] =
                        ek_requant_s8(acc, q->multiplier[qc], q->shift[qc], p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
    return EK_OK;
}
