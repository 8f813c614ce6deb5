/* ARMv7E-M DSP int8 average pool (overrides kernels/ref/ek_avgpool_s8.c; bit-exact with it):
 * four channels at a time, the window summed in 16-bit lanes by SXTAB16 (exact for up to
 * 255 taps: |sum| <= 255 * 128 < 2^15), then TFLite's rounding division per channel.
 * Channels not a multiple of 4 and larger windows take the reference loops. No scratch. */
#include "ek_nn.h"
#include "ek_nn_armv7em.h"

uint32_t ek_avgpool_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *out_dims)
{
    (void)in_dims;
    (void)out_dims;
    return 0u;
}

static inline uint32_t sxtab16_ror8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t avg(int32_t acc, int32_t count, int32_t lo, int32_t hi)
{
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return ek_clamp_s32(acc, lo, hi);
}

static ek_status_t reference(const ek_pool_params_t *p, const ek_dims_t *in_dims, const int8_t *in,
                             const ek_dims_t *out_dims, int8_t *out, int32_t c_begin)
{
    const int32_t in_h = in_dims->h, in_w = in_dims->w, c_n = in_dims->c;
    for (int32_t b = 0; b < in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_dims->h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t y0 = iy0 < 0 ? -iy0 : 0;
            const int32_t y1 = in_h - iy0 < p->filter_h ? in_h - iy0 : p->filter_h;
            for (int32_t ox = 0; ox < out_dims->w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t x0 = ix0 < 0 ? -ix0 : 0;
                const int32_t x1 = in_w - ix0 < p->filter_w ? in_w - ix0 : p->filter_w;
                const int32_t count = p->count_include_pad ? p->filter_h * p->filter_w : (y1 - y0) * (x1 - x0);
                if (count <= 0) return EK_ERR_ARG;
                for (int32_t c = c_begin; c < c_n; c++) {
                    int32_t acc = 0;
                    for (int32_t ky = y0; ky < y1; ky++)
                        for (int32_t kx = x0; kx < x1; kx++) acc += in[((b * in_h + iy0 + ky) * in_w + ix0 + kx) * c_n + c];
                    out[((b * out_dims->h + oy) * out_dims->w + ox) * c_n + c] = (int8_t)avg(acc, count, p->act_min, p->act_max);
                }
            }
        }
    }
    return EK_OK;
}

ek_status_t ek_avgpool_s8(const ek_ctx_t *ctx, const ek_pool_params_t *p, const ek_dims_t *in_dims,
                          const int8_t *in, const ek_dims_t *out_dims, int8_t *out)
{
    (void)ctx;
    const int32_t in_h = in_dims->h, in_w = in_dims->w, C = in_dims->c;
    if (out_dims->c != C) return EK_ERR_ARG;
    if ((C & 3) != 0 || p->filter_h * p->filter_w > 255) return reference(p, in_dims, in, out_dims, out, 0);
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int32_t b = 0; b < in_dims->n; b++) {
        for (int32_t oy = 0; oy < out_dims->h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t y0 = iy0 < 0 ? -iy0 : 0;
            const int32_t y1 = in_h - iy0 < p->filter_h ? in_h - iy0 : p->filter_h;
            for (int32_t ox = 0; ox < out_dims->w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t x0 = ix0 < 0 ? -ix0 : 0;
                const int32_t x1 = in_w - ix0 < p->filter_w ? in_w - ix0 : p->filter_w;
                const int32_t count = p->count_include_pad ? p->filter_h * p->filter_w : (y1 - y0) * (x1 - x0);
                if (count <= 0) return EK_ERR_ARG;
                int8_t *o = out + ((b * out_dims->h + oy) * out_dims->w + ox) * C;
                for (int32_t c = 0; c < C; c += 4) {
                    uint32_t s02 = 0u, s13 = 0u;
                    for (int32_t ky = y0; ky < y1; ky++) {
                        const int8_t *x = in + ((b * in_h + iy0 + ky) * in_w + ix0 + x0) * C + c;
                        for (int32_t kx = x0; kx < x1; kx++, x += C) {
                            const uint32_t v = ek_ldr_u32(x);
                            s02 = ek_sxtab16(s02, v);
                            s13 = sxtab16_ror8(s13, v);
                        }
                    }
                    o[c] = (int8_t)avg((int16_t)(s02 & 0xFFFFu), count, lo, hi);
                    o[c + 1] = (int8_t)avg((int16_t)(s13 & 0xFFFFu), count, lo, hi);
                    o[c + 2] = (int8_t)avg((int16_t)(s02 >> 16), count, lo, hi);
                    o[c + 3] = (int8_t)avg((int16_t)(s13 >> 16), count, lo, hi);
                }
            }
        }
    }
    return EK_OK;
}
