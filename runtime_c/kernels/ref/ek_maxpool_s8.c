/* Reference int8 max pool (TFLite reference_integer_ops::MaxPool): the largest in-bounds
 * tap, clamped to the activation range. */
#include "ek_nn.h"
#include "ek_nn_math.h"

uint32_t ek_maxpool_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *out_dims)
{
    (void)in_dims;
    (void)out_dims;
    return 0u;
}

ek_status_t ek_maxpool_s8(const ek_ctx_t *ctx, const ek_pool_params_t *p, const ek_dims_t *in_dims,
                          const int8_t *in, const ek_dims_t *out_dims, int8_t *out)
{
    (void)ctx;
    const int32_t in_h = in_dims->h, in_w = in_dims->w, c_n = in_dims->c;
    if (out_dims->c != c_n) return EK_ERR_ARG;
    for (int32_t b = 0; b < in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_dims->h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t y0 = iy0 < 0 ? -iy0 : 0;
            const int32_t y1 = in_h - iy0 < p->filter_h ? in_h - iy0 : p->filter_h;
            for (int32_t ox = 0; ox < out_dims->w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t x0 = ix0 < 0 ? -ix0 : 0;
                const int32_t x1 = in_w - ix0 < p->filter_w ? in_w - ix0 : p->filter_w;
                if (y1 <= y0 || x1 <= x0) return EK_ERR_ARG;
                for (int32_t c = 0; c < c_n; c++) {
                    int32_t best = -128;
                    for (int32_t ky = y0; ky < y1; ky++)
                        for (int32_t kx = x0; kx < x1; kx++) {
                            const int32_t v = in[((b * in_h + iy0 + ky) * in_w + ix0 + kx) * c_n + c];
                            if (v > best) best = v;
                        }
                    out[((b * out_dims->h + oy) * out_dims->w + ox) * c_n + c] = (int8_t)ek_clamp_s32(best, p->act_min, p->act_max);
                }
            }
        }
    }
    return EK_OK;
}
