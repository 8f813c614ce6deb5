/* Reference float32 depthwise convolution: filter [1, KH, KW, C*M], output channel ic*M + m
 * reads input channel ic; clamped to [act_min, act_max]. */
#include "ek_nn.h"
#include "ek_nn_math.h"

ek_status_t ek_dwconv_f32(const ek_ctx_t *ctx, const ek_conv_f32_params_t *p, const ek_dims_t *in_dims,
                          const float *in, const ek_dims_t *filter_dims, const float *filter, const float *bias,
                          const ek_dims_t *out_dims, float *out)
{
    (void)ctx;
    const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
    const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, m = p->depth_multiplier;
    if (m <= 0 || out_c != in_c * m || filter_dims->c != out_c) return EK_ERR_ARG;
    for (int32_t b = 0; b < in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (int32_t oc = 0; oc < out_c; oc++) {
                    const int32_t ic = oc / m;
                    float acc = 0.0f;
                    for (int32_t ky = 0; ky < kh; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        if (iy < 0 || iy >= in_h) continue;
                        for (int32_t kx = 0; kx < kw; kx++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            if (ix < 0 || ix >= in_w) continue;
                            acc += in[((b * in_h + iy) * in_w + ix) * in_c + ic] * filter[(ky * kw + kx) * out_c + oc];
                        }
                    }
                    if (bias) acc += bias[oc];
                    out[((b * out_h + oy) * out_w + ox) * out_c + oc] = ek_clamp_f32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return EK_OK;
}
