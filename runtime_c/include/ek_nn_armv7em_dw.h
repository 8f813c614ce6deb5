/* ek_nn_armv7em_dw.h - the ARMv7E-M depthwise convolution for int8 and packed int4 weights
 * (kernels/armv7em/ek_dwconv_s8.c and ek_dwconv_s4.c, each calling ek_armv7em_dwconv with its
 * weight format): the weights are read once per group of four channels and tap (dw_wword:
 * four int8 lanes, int4 ones sign-extended first), so the loops are one code for both.
 *
 * Depth multiplier 1 and channels a multiple of 4: four channels at a time.
 * - 3x3, stride 1, dilation 1 (the DS-CNN's layers): a zero-padded plane of row pairs in
 *   scratch (group_pairs: per pixel and channel one word, rows 2m and 2m + 1 as int16), two
 *   output rows per pass with SMLAD over kernel rows (ek_armv7em_dw3x3_pairs).
 * - Other windows: a zero-padded plane of int16 (x + input offset) pairs, (c0, c2) and
 *   (c1, c3) per pixel, so every window, edges included, reads without bounds checks: 2 LDRD +
 *   4 SMLABB/SMLATT per tap for 4 MACs; 3x3 rows (stride 2) in one assembly loop
 *   (ek_armv7em_dw3x3_row). When that plane does not fit the scratch (dilation, odd padding)
 *   the same arithmetic reads the input in place (group).
 * Requantization: ek_nn_armv7em.h's. Other shapes, and multipliers off the fast
 * requantization, take the reference loops. */
#ifndef EK_NN_ARMV7EM_DW_H
#define EK_NN_ARMV7EM_DW_H
#include "ek_nn.h"
#include "ek_nn_armv7em.h"
#include "ek_nn_ref.h"

/* Weights i .. i + 3 (i a multiple of 4) of an int8 (s4 = 0) or packed int4 filter as four
 * int8 lanes. */
static inline uint32_t dw_wword(const void *filter, int32_t s4, int32_t i)
{
    return s4 ? ek_s4x4_to_s8x4((const uint8_t *)filter + (i >> 1)) : ek_ldr_u32((const int8_t *)filter + i);
}

#define MAX_TAPS 64 /* window taps the weight table holds (8x8); larger windows: reference loops */

/* The padded plane of four channels as int16 (x + offset) pairs: (in_h + kh - 1) x
 * (in_w + kw - 1) pixels of 8 bytes covers every window of "same" or "valid" padding with
 * dilation 1; convs needing more take the unpadded path. */
/* The row-pair plane of a 3x3 stride-1 conv (group_pairs): ceil(out_h / 2) + 1 pairs of rows
 * by out_w + 2 pixels of four words (one a channel: its two rows as int16). */
static inline uint32_t pair_plane_bytes(const ek_dims_t *out_dims)
{
    return (uint32_t)(((out_dims->h + 1) / 2 + 1) * (out_dims->w + 2) * 16);
}

static inline uint32_t ek_armv7em_dw_scratch(const ek_dims_t *in_dims, const ek_dims_t *filter_dims,
                                             const ek_dims_t *out_dims)
{
    (void)out_dims;
    if ((in_dims->c & 3) != 0) return 0u;
    const uint32_t plane = (uint32_t)((in_dims->h + filter_dims->h - 1) * (in_dims->w + filter_dims->w - 1) * 8 + 4);
    if (filter_dims->h != 3 || filter_dims->w != 3) return plane;
    const uint32_t pairs = pair_plane_bytes(out_dims) + 4u;
    return pairs > plane ? pairs : plane;
}

/* One tap: four channels' inputs at X, weights pair W[0], W[1] (ek_nn_armv7em.h layout). */
#define TAP(X, W)                                                     \
    do {                                                              \
        const uint32_t v_ = ek_ldr_u32(X);                            \
        const uint32_t xe_ = ek_sxtab16(off2, v_), xo_ = ek_sxtab16_ror8(off2, v_); \
        a0 = ek_smlabb(xe_, (W)[0], a0);                               \
        a2 = ek_smlatt(xe_, (W)[0], a2);                               \
        a1 = ek_smlabb(xo_, (W)[1], a1);                               \
        a3 = ek_smlatt(xo_, (W)[1], a3);                               \
    } while (0)

/* First tap index >= 0 of a window starting at i0 with step d, and the end, inside [0, n). */
static inline void tap_range(int32_t i0, int32_t d, int32_t k, int32_t n, int32_t *first, int32_t *end)
{
    int32_t f = 0, e = k;
    if (i0 < 0) f = (-i0 + d - 1) / d;
    if (i0 + (k - 1) * d >= n) e = (n - i0 + d - 1) / d;
    *first = f;
    *end = e < f ? f : e;
}

static __attribute__((noinline)) void group(const ek_conv_params_t *p, const ek_dims_t *in_dims, const int8_t *in,
                                            const ek_dims_t *filter_dims, const void *filter, int32_t s4, const int32_t *bias,
                                            const ek_requant_t *q, const ek_dims_t *out_dims, int8_t *out, int32_t c4)
{
    const int32_t C = in_dims->c, in_h = in_dims->h, in_w = in_dims->w, kh = filter_dims->h, kw = filter_dims->w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    uint32_t wt[2 * MAX_TAPS]; /* per tap: (w0, w2), (w1, w3) as int16 pairs */
    for (int32_t t = 0; t < kh * kw; t++) {
        const uint32_t v = dw_wword(filter, s4, t * C + c4);
        wt[2 * t] = ek_sxtb16(v);
        wt[2 * t + 1] = ek_sxtb16(ek_ror8(v));
    }
    int32_t rq[12];
    for (int32_t i = 0; i < 4; i++) {
        const int32_t qc = q->n_channels == 1 ? 0 : c4 + i;
        rq[3 * i] = (int32_t)((uint32_t)q->multiplier[qc] << 1);
        rq[3 * i + 2] = -q->shift[qc];
        rq[3 * i + 1] = 1 << (rq[3 * i + 2] - 1);
    }
    ek_clamp4_t clamp;
    ek_clamp4_make(&clamp, p->output_offset, p->act_min, p->act_max);
    int32_t b[4] = {0, 0, 0, 0};
    if (bias) {
        for (int32_t i = 0; i < 4; i++) b[i] = bias[c4 + i];
    }
    const int32_t row = in_w * C;
    for (int32_t n = 0; n < in_dims->n; n++) {
        const int8_t *img = in + n * in_h * row + c4;
        for (int32_t oy = 0; oy < out_dims->h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t y0 = 0, y1 = kh;
            if (iy0 < 0 || iy0 + (kh - 1) * dh >= in_h) tap_range(iy0, dh, kh, in_h, &y0, &y1);
            int8_t *o = out + ((n * out_dims->h + oy) * out_dims->w) * C + c4;
            for (int32_t ox = 0; ox < out_dims->w; ox++, o += C) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t x0 = 0, x1 = kw;
                if (ix0 < 0 || ix0 + (kw - 1) * dw >= in_w) tap_range(ix0, dw, kw, in_w, &x0, &x1);
                int32_t a0 = b[0], a1 = b[1], a2 = b[2], a3 = b[3];
                for (int32_t ky = y0; ky < y1; ky++) {
                    const int8_t *x = img + (iy0 + ky * dh) * row + (ix0 + x0 * dw) * C;
                    const uint32_t *w = wt + 2 * (ky * kw + x0);
                    for (int32_t kx = x0; kx < x1; kx++, x += dw * C, w += 2) TAP(x, w);
                }
                ek_rq4c_store(a0, a1, a2, a3, rq, &clamp, o);
            }
        }
    }
}

/* One output row of a 3x3 depthwise conv over the padded plane, four channels, in one
 * assembly loop: about 114 instructions per pixel for 36 MACs (the taps 56, the four
 * requantizations with their constants 28, the packed clamp and the store 14). */
typedef struct {
    const uint32_t *r;   /* 0: the window's top-left plane pixel, runs on */
    int32_t rb;          /* 4: plane row bytes */
    const uint32_t *wt;  /* 8: 18 words of unpacked weights */
    int32_t pad0;        /* 12 */
    int8_t *o;           /* 16: runs on */
    int32_t stride;      /* 20: output pixel bytes (C) */
    int32_t n;           /* 24: pixels left */
    int32_t zp;          /* 28 */
    uint32_t lo4, hi4;   /* 32, 36 */
    int32_t bias[4];     /* 40 */
    int32_t step;        /* 56: plane bytes per output pixel */
    int32_t rq[12];      /* 60: per channel m2, e, rc */
} dw3_t;

static __attribute__((naked, noinline)) void ek_armv7em_dw3x3_row(dw3_t *k __attribute__((unused)))
{
    __asm__(".syntax unified\n"
        "push {r4-r11, lr}\n"
        "mov lr, r0\n"
        "0:\n"
        "ldr r0, [lr, #0]\n"
        "add r1, lr, #40\n"
        "ldm r1, {r2, r3, r4, r5}\n"
        "ldr r6, [lr, #4]\n"
        "ldr r7, [lr, #8]\n"
#define EK_T(XOFF, WOFF)                                      \
        "ldrd r8, r9, [r0, #" XOFF "]\n"                      \
        "ldrd r10, r11, [r7, #" WOFF "]\n"                    \
        "smlabb r2, r8, r10, r2\n"                            \
        "smlatt r4, r8, r10, r4\n"                            \
        "smlabb r3, r9, r11, r3\n"                            \
        "smlatt r5, r9, r11, r5\n"
        EK_T("0", "0") EK_T("8", "8") EK_T("16", "16") "add r0, r0, r6\n"
        EK_T("0", "24") EK_T("8", "32") EK_T("16", "40") "add r0, r0, r6\n"
        EK_T("0", "48") EK_T("8", "56") EK_T("16", "64")
#undef EK_T
        "ldr r12, [lr, #28]\n"
        "add r0, lr, #60\n"
#define EK_R(A)                                               \
        "ldm r0!, {r6, r7, r8}\n"                             \
        "smmlar " A ", " A ", r6, " A "\n"                    \
        "add r9, r8, " A ", asr #31\n"                        \
        "qadd " A ", " A ", r9\n"                             \
        "asr " A ", " A ", r7\n"                              \
        "add " A ", " A ", r12\n"                             \
        "ssat " A ", #8, " A "\n"
        EK_R("r2") EK_R("r3") EK_R("r4") EK_R("r5")
#undef EK_R
        "bfi r2, r3, #8, #8\n"
        "bfi r2, r4, #16, #8\n"
        "bfi r2, r5, #24, #8\n"
        "ldr r9, [lr, #32]\n"
        "ssub8 r3, r2, r9\n"
        "sel r2, r2, r9\n"
        "ldr r9, [lr, #36]\n"
        "ssub8 r3, r9, r2\n"
        "sel r2, r2, r9\n"
        "ldr r0, [lr, #16]\n"
        "ldr r1, [lr, #20]\n"
        "str r2, [r0]\n"
        "add r0, r0, r1\n"
        "str r0, [lr, #16]\n"
        "ldr r0, [lr, #0]\n"
        "ldr r1, [lr, #56]\n"
        "add r0, r0, r1\n"
        "str r0, [lr, #0]\n"
        "ldr r0, [lr, #24]\n"
        "subs r0, r0, #1\n"
        "str r0, [lr, #24]\n"
        "bne 0b\n"
        "pop {r4-r11, pc}\n"
        );
}

/* Four channels from a padded int16 plane (ph x pw pixels, built here in `plane`). */
static __attribute__((noinline)) void group_padded(const ek_conv_params_t *p, const ek_dims_t *in_dims,
                                                   const int8_t *in, const ek_dims_t *filter_dims, const void *filter,
                                                   int32_t s4, const int32_t *bias, const ek_requant_t *q,
                                                   const ek_dims_t *out_dims,
                                                   int8_t *out, int32_t c4, uint32_t *plane, int32_t ph, int32_t pw)
{
    const int32_t C = in_dims->c, in_h = in_dims->h, in_w = in_dims->w, kh = filter_dims->h, kw = filter_dims->w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w, sh = p->stride_h, sw = p->stride_w;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    uint32_t wt[2 * MAX_TAPS];
    for (int32_t t = 0; t < kh * kw; t++) {
        const uint32_t v = dw_wword(filter, s4, t * C + c4);
        wt[2 * t] = ek_sxtb16(v);
        wt[2 * t + 1] = ek_sxtb16(ek_ror8(v));
    }
    int32_t rq[12];
    for (int32_t i = 0; i < 4; i++) {
        const int32_t qc = q->n_channels == 1 ? 0 : c4 + i;
        rq[3 * i] = (int32_t)((uint32_t)q->multiplier[qc] << 1);
        rq[3 * i + 2] = -q->shift[qc];
        rq[3 * i + 1] = 1 << (rq[3 * i + 2] - 1);
    }
    ek_clamp4_t clamp;
    ek_clamp4_make(&clamp, p->output_offset, p->act_min, p->act_max);
    int32_t b[4] = {0, 0, 0, 0};
    if (bias) {
        for (int32_t i = 0; i < 4; i++) b[i] = bias[c4 + i];
    }
    const int32_t k3 = kh == 3 && kw == 3 && dh == 1 && dw == 1;
    const int32_t rb = pw * 8;
    dw3_t k;
    k.rb = rb;
    k.wt = wt;
    k.pad0 = 0;
    k.stride = C;
    k.zp = clamp.zp;
    k.lo4 = clamp.lo4;
    k.hi4 = clamp.hi4;
    k.step = 8 * sw;
    for (int32_t i = 0; i < 4; i++) {
        k.bias[i] = b[i];
        k.rq[3 * i] = rq[3 * i];
        k.rq[3 * i + 1] = rq[3 * i + 2];
        k.rq[3 * i + 2] = rq[3 * i + 1];
    }
    for (int32_t n = 0; n < in_dims->n; n++) {
        /* the plane: zeros (x + offset = 0) where the windows leave the input */
        for (int32_t py = 0; py < ph; py++) {
            const int32_t iy = py - p->pad_top;
            uint32_t *d = plane + py * pw * 2;
            if (iy < 0 || iy >= in_h) {
                for (int32_t px = 0; px < 2 * pw; px++) d[px] = 0u;
                continue;
            }
            /* columns: [0, left) zeros, [left, right) the input row, [right, pw) zeros */
            const int32_t left = p->pad_left < pw ? p->pad_left : pw;
            const int32_t right = left + in_w < pw ? left + in_w : pw;
            int32_t px = 0;
            for (; px < left; px++, d += 2) d[0] = d[1] = 0u;
            const int8_t *src = in + ((n * in_h + iy) * in_w + (px - p->pad_left)) * C + c4;
            for (; px < right; px++, d += 2, src += C) {
                const uint32_t v = ek_ldr_u32(src);
                d[0] = ek_sxtab16(off2, v);
                d[1] = ek_sxtab16_ror8(off2, v);
            }
            for (; px < pw; px++, d += 2) d[0] = d[1] = 0u;
        }
        for (int32_t oy = 0; oy < out_dims->h; oy++) {
            int8_t *o = out + ((n * out_dims->h + oy) * out_dims->w) * C + c4;
            const uint32_t *r = plane + oy * sh * pw * 2;
            if (k3 && out_dims->w > 0) {
                k.r = r;
                k.o = o;
                k.n = out_dims->w;
                ek_armv7em_dw3x3_row(&k);
                continue;
            }
            for (int32_t ox = 0; ox < out_dims->w; ox++, o += C, r += 2 * sw) {
                int32_t a0 = b[0], a1 = b[1], a2 = b[2], a3 = b[3];
                const uint32_t *w = wt;
                for (int32_t ky = 0; ky < kh; ky++) {
                    const uint32_t *x = r + ky * dh * pw * 2;
                    for (int32_t kx = 0; kx < kw; kx++, x += 2 * dw, w += 2) {
                        a0 = ek_smlabb(x[0], w[0], a0);
                        a2 = ek_smlatt(x[0], w[0], a2);
                        a1 = ek_smlabb(x[1], w[1], a1);
                        a3 = ek_smlatt(x[1], w[1], a3);
                    }
                }
                ek_rq4c_store(a0, a1, a2, a3, rq, &clamp, o);
            }
        }
    }
}

/* 3x3, stride 1, dilation 1: two output rows at once over a plane of row pairs. Plane pixel
 * (m, px) holds four words, one per channel of the group: (row 2m, row 2m + 1) as int16
 * (x + input offset) in (low, high). With the pairs T = P(m) and U = P(m + 1) of a window
 * column and its weights w0..w2 (rows), row 2m is SMLAD(T, (w0, w1)) + SMLABB(U, w2) and row
 * 2m + 1 is SMLATT(T, w0) + SMLAD(U, (w1, w2)): 18 MACs in 8 instructions, 4 of them loads.
 * ek_armv7em_dw3x3_pairs runs the pairs of output rows, four channels per pixel: 162
 * instructions a pixel for 72 MACs (the taps 72, the eight requantizations with their
 * constants 54, the biases 4, packing, the SIMD clamp, two word stores and pointers 32). The weights per channel pair and window column are
 * {A_a, A_b, B_a, B_b, C_a, C_b} with A = (w0, w1), B = (w2, w0), C = (w1, w2). */
typedef struct {
    const uint32_t *t, *u; /* 0, 4: the top and bottom pairs of the first window column */
    const uint32_t *wt;    /* 8: 36 words */
    const uint32_t *t_end; /* 12: t after the last pixel */
    int8_t *o, *o2;        /* 16, 20: rows 2m and 2m + 1 (o2 a dummy word for a lone row) */
    int32_t so, so2;       /* 24, 28: their steps (C; 0 for the dummy) */
    uint32_t lo4, hi4;     /* 32, 36 */
    int32_t pairs;         /* 40: row pairs left (>= 1) */
    uint32_t spill;        /* 44: channels 0, 1 of both rows */
    int32_t bias[8];       /* 48: b0 b1 b0 b1, 64: b2 b3 b2 b3 (the accumulators of a pass) */
    int32_t rq[16];        /* 80: per channel m2, rc, e, output zero point */
    uint32_t dummy;        /* 144 */
    int32_t tlen, oskip;   /* 148, 152: out_w * 16 (plane bytes of a row), out_w * C */
} dwp_t;

#define EK_T(XOFF)                                            \
        "ldrd r6, r7, [r0, #" XOFF "]\n"                      \
        "ldm r12!, {r8, r9, r10, r11}\n"                      \
        "smlad r2, r6, r8, r2\n"                              \
        "smlad r3, r7, r9, r3\n"                              \
        "smlatt r4, r6, r10, r4\n"                            \
        "smlatt r5, r7, r11, r5\n"                            \
        "ldrd r6, r7, [r1, #" XOFF "]\n"                      \
        "smlabb r2, r6, r10, r2\n"                            \
        "smlabb r3, r7, r11, r3\n"                            \
        "ldrd r8, r9, [r12], #8\n"                            \
        "smlad r4, r6, r8, r4\n"                              \
        "smlad r5, r7, r9, r5\n"
#define EK_R(A)                                               \
        "smmlar " A ", " A ", r6, " A "\n"                    \
        "add r11, r7, " A ", asr #31\n"                       \
        "qadd " A ", " A ", r11\n"                            \
        "asr " A ", " A ", r8\n"                              \
        "add " A ", " A ", r10\n"                             \
        "ssat " A ", #8, " A "\n"
/* one channel pair: bias, 9 taps, requantization, packed (row0 a, row0 b, row1 a, row1 b) in r2 */
#define EK_PAIR(BIAS, X0, X1, X2, RQ)                         \
        "add r2, lr, #" BIAS "\n"                             \
        "ldm r2, {r2, r3, r4, r5}\n"                          \
        EK_T(X0) EK_T(X1) EK_T(X2)                            \
        "add r9, lr, #" RQ "\n"                               \
        "ldm r9!, {r6, r7, r8, r10}\n"                        \
        EK_R("r2") EK_R("r4")                                 \
        "ldm r9!, {r6, r7, r8, r10}\n"                        \
        EK_R("r3") EK_R("r5")                                 \
        "bfi r2, r3, #8, #8\n"                                \
        "bfi r2, r4, #16, #8\n"                               \
        "bfi r2, r5, #24, #8\n"
static __attribute__((naked, noinline)) void ek_armv7em_dw3x3_pairs(dwp_t *k __attribute__((unused)))
{
    __asm__(".syntax unified\n"
        "push {r4-r11, lr}\n"
        "mov lr, r0\n"
        "ldrd r0, r1, [lr, #0]\n"
        "0:\n"
        "ldr r12, [lr, #8]\n"
        EK_PAIR("48", "0", "16", "32", "80")
        "str r2, [lr, #44]\n"
        EK_PAIR("64", "8", "24", "40", "112")
        "ldr r6, [lr, #44]\n"
        "pkhbt r3, r6, r2, lsl #16\n"         /* row 2m: channels 0..3 */
        "pkhtb r4, r2, r6, asr #16\n"         /* row 2m + 1 */
        "ldrd r6, r7, [lr, #32]\n"
        "ssub8 r8, r3, r6\n"
        "sel r3, r3, r6\n"
        "ssub8 r8, r7, r3\n"
        "sel r3, r3, r7\n"
        "ssub8 r8, r4, r6\n"
        "sel r4, r4, r6\n"
        "ssub8 r8, r7, r4\n"
        "sel r4, r4, r7\n"
        "ldrd r6, r7, [lr, #16]\n"
        "ldrd r8, r9, [lr, #24]\n"
        "str r3, [r6]\n"
        "str r4, [r7]\n"
        "add r6, r6, r8\n"
        "add r7, r7, r9\n"
        "strd r6, r7, [lr, #16]\n"
        "add r0, r0, #16\n"
        "add r1, r1, #16\n"
        "ldr r6, [lr, #12]\n"
        "cmp r0, r6\n"
        "bne 0b\n"
        "ldr r6, [lr, #40]\n"                /* the next row pair */
        "subs r6, r6, #1\n"
        "str r6, [lr, #40]\n"
        "beq 9f\n"
        "add r0, r0, #32\n"                  /* past the two pad pixels */
        "add r1, r1, #32\n"
        "ldrd r7, r8, [lr, #148]\n"
        "add r6, r0, r7\n"
        "str r6, [lr, #12]\n"
        "ldrd r6, r7, [lr, #16]\n"
        "add r6, r6, r8\n"
        "add r7, r7, r8\n"
        "strd r6, r7, [lr, #16]\n"
        "b 0b\n"
        "9:\n"
        "pop {r4-r11, pc}\n"
        );
}
#undef EK_T
#undef EK_R
#undef EK_PAIR

/* Plane pixels from two input rows (s0, s1 stepping st0, st1 bytes; a step of 0 over a
 * zero-point word for a row outside the input), n pixels a row pair, `rows` row pairs with
 * dstep bytes after each one's pixels in the plane and sstep in both inputs: 15
 * instructions a pixel. */
typedef struct {
    uint32_t *d;            /* 0 */
    const int8_t *s0, *s1;  /* 4, 8 */
    int32_t st0, st1;       /* 12, 16 */
    int32_t n;              /* 20: >= 1 */
    uint32_t off2;          /* 24 */
    int32_t rows;           /* 28: >= 1, counts down */
    int32_t dstep, sstep;   /* 32, 36 */
} dwpk_t;

static __attribute__((naked, noinline)) void ek_armv7em_dw_pairs_pack(dwpk_t *k __attribute__((unused)))
{
    __asm__(".syntax unified\n"
        "push {r4-r11, lr}\n"
        "mov lr, r0\n"
        "ldm lr, {r0, r1, r2, r3, r4, r5, r6}\n"
        "2:\n"
        "ldr r5, [lr, #20]\n"
        "0:\n"
        "ldr r7, [r1]\n"
        "add r1, r1, r3\n"
        "ldr r8, [r2]\n"
        "add r2, r2, r4\n"
        "sxtab16 r9, r6, r7\n"
        "sxtab16 r10, r6, r7, ror #8\n"
        "sxtab16 r7, r6, r8\n"
        "sxtab16 r12, r6, r8, ror #8\n"
        "pkhbt r8, r10, r12, lsl #16\n"       /* channel 1: (row 0, row 1) */
        "pkhtb r10, r12, r10, asr #16\n"      /* channel 3 */
        "pkhtb r12, r7, r9, asr #16\n"        /* channel 2 */
        "pkhbt r7, r9, r7, lsl #16\n"         /* channel 0 */
        "str r8, [r0, #4]\n"
        "strd r12, r10, [r0, #8]\n"
        "str r7, [r0], #16\n"
        "subs r5, r5, #1\n"
        "bne 0b\n"
        "ldr r7, [lr, #28]\n"
        "subs r7, r7, #1\n"
        "str r7, [lr, #28]\n"
        "beq 1f\n"
        "ldrd r7, r8, [lr, #32]\n"
        "add r0, r0, r7\n"
        "add r1, r1, r8\n"
        "add r2, r2, r8\n"
        "b 2b\n"
        "1:\n"
        "pop {r4-r11, pc}\n"
        );
}

static inline uint32_t pack16(uint32_t lo, uint32_t hi)
{
    return (lo & 0xFFFFu) | (hi << 16);
}

/* Four channels of a 3x3 stride-1 dilation-1 conv through ek_armv7em_dw3x3_pairs; `plane`
 * holds pair_plane_bytes(out_dims). */
static __attribute__((noinline)) void group_pairs(const ek_conv_params_t *p, const ek_dims_t *in_dims,
                                                  const int8_t *in, const void *filter, int32_t s4, const int32_t *bias,
                                                  const ek_requant_t *q, const ek_dims_t *out_dims, int8_t *out,
                                                  int32_t c4, uint32_t *plane)
{
    const int32_t C = in_dims->c, in_h = in_dims->h, in_w = in_dims->w, out_h = out_dims->h, out_w = out_dims->w;
    const int32_t npr = (out_h + 1) / 2 + 1, pw = out_w + 2;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    uint32_t wt[36];
    for (int32_t kx = 0; kx < 3; kx++) {
        /* rows 0..2 of the window column: channels (0, 2) and (1, 3) as int16 pairs */
        const uint32_t v0 = dw_wword(filter, s4, kx * C + c4), v1 = dw_wword(filter, s4, (3 + kx) * C + c4);
        const uint32_t v2 = dw_wword(filter, s4, (6 + kx) * C + c4);
        const uint32_t e0 = ek_sxtb16(v0), e1 = ek_sxtb16(v1), e2 = ek_sxtb16(v2);
        const uint32_t o0 = ek_sxtb16(ek_ror8(v0)), o1 = ek_sxtb16(ek_ror8(v1)), o2 = ek_sxtb16(ek_ror8(v2));
        uint32_t *d = wt + 6 * kx;      /* channels 0, 1 */
        d[0] = pack16(e0, e1);          /* A = (w0, w1) */
        d[1] = pack16(o0, o1);
        d[2] = pack16(e2, e0);          /* B = (w2, w0) */
        d[3] = pack16(o2, o0);
        d[4] = pack16(e1, e2);          /* C = (w1, w2) */
        d[5] = pack16(o1, o2);
        d += 18;                        /* channels 2, 3: the high halves */
        d[0] = (e0 >> 16) | (e1 & 0xFFFF0000u);
        d[1] = (o0 >> 16) | (o1 & 0xFFFF0000u);
        d[2] = (e2 >> 16) | (e0 & 0xFFFF0000u);
        d[3] = (o2 >> 16) | (o0 & 0xFFFF0000u);
        d[4] = (e1 >> 16) | (e2 & 0xFFFF0000u);
        d[5] = (o1 >> 16) | (o2 & 0xFFFF0000u);
    }
    dwp_t k;
    k.wt = wt;
    ek_clamp4_t clamp;
    ek_clamp4_make(&clamp, p->output_offset, p->act_min, p->act_max);
    k.lo4 = clamp.lo4;
    k.hi4 = clamp.hi4;
    k.tlen = out_w * 16;
    k.oskip = out_w * C;
    for (int32_t i = 0; i < 4; i++) {
        const int32_t qc = q->n_channels == 1 ? 0 : c4 + i;
        k.bias[(i & 2) * 2 + (i & 1)] = k.bias[(i & 2) * 2 + (i & 1) + 2] = bias ? bias[c4 + i] : 0;
        k.rq[4 * i] = (int32_t)((uint32_t)q->multiplier[qc] << 1);
        k.rq[4 * i + 2] = -q->shift[qc];
        k.rq[4 * i + 1] = 1 << (k.rq[4 * i + 2] - 1);
        k.rq[4 * i + 3] = clamp.zp;
    }
    /* rows outside the input read the input zero point (x + offset = 0) with step 0; the
     * plane's zeros (columns and pairs outside the input) are written once by the caller */
    const uint32_t zpw = ((uint32_t)(-p->input_offset) & 0xFFu) * 0x01010101u;
    const int32_t left = p->pad_left < pw ? p->pad_left : pw;
    const int32_t right = left + in_w < pw ? left + in_w : pw;
    const int32_t row = in_w * C;
    /* pairs with both rows inside the input: m in [mf, me) */
    int32_t mf = (p->pad_top + 1) / 2, me = in_h + p->pad_top >= 2 ? (in_h + p->pad_top - 2) / 2 + 1 : 0;
    if (me > npr) me = npr;
    if (mf > me) mf = me;
    for (int32_t n = 0; n < in_dims->n; n++) {
        const int8_t *img = in + (n * in_h * in_w + left - p->pad_left) * C + c4;
        for (int32_t m = 0; m < npr && right > left; m++) {
            if (m == mf && me > mf) {
                const int8_t *s0 = img + (2 * m - p->pad_top) * row;
                dwpk_t pk = {plane + (m * pw + left) * 4, s0, s0 + row, C, C, right - left, off2, me - mf,
                             (pw - (right - left)) * 16, 2 * row - (right - left) * C};
                ek_armv7em_dw_pairs_pack(&pk);
                m = me - 1;
                continue;
            }
            const int32_t iy0 = 2 * m - p->pad_top, iy1 = iy0 + 1;
            const int32_t ok0 = iy0 >= 0 && iy0 < in_h, ok1 = iy1 >= 0 && iy1 < in_h;
            if (!ok0 && !ok1) continue;
            dwpk_t pk = {plane + (m * pw + left) * 4, ok0 ? img + iy0 * row : (const int8_t *)&zpw,
                         ok1 ? img + iy1 * row : (const int8_t *)&zpw, ok0 ? C : 0, ok1 ? C : 0, right - left, off2,
                         1, 0, 0};
            ek_armv7em_dw_pairs_pack(&pk);
        }
        /* the whole pairs in one call, then a lone last row (its second row to the dummy) */
        for (int32_t m = 0; 2 * m < out_h && out_w > 0;) {
            const int32_t lone = 2 * m + 1 >= out_h;
            k.t = plane + m * pw * 4;
            k.u = k.t + pw * 4;
            k.t_end = k.t + out_w * 4;
            k.o = out + ((n * out_h + 2 * m) * out_w) * C + c4;
            k.so = C;
            k.o2 = lone ? (int8_t *)(void *)&k.dummy : k.o + out_w * C;
            k.so2 = lone ? 0 : C;
            k.pairs = lone ? 1 : out_h / 2;
            ek_armv7em_dw3x3_pairs(&k);
            m = lone ? m + 1 : out_h / 2;
        }
    }
}

static inline ek_status_t ek_armv7em_dwconv(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                                            const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                                            const void *filter, int32_t s4, const int32_t *bias,
                                            const ek_dims_t *out_dims, int8_t *out)
{
    const int32_t C = in_dims->c;
    int32_t fast = p->depth_multiplier == 1 && (C & 3) == 0 && out_dims->c == C && filter_dims->c == C &&
                   filter_dims->h * filter_dims->w <= MAX_TAPS && (q->n_channels == 1 || q->n_channels == C);
    for (int32_t c = 0; fast && c < q->n_channels; c++) fast &= ek_rq_fast_ok(q->multiplier[c], q->shift[c]);
    if (!fast && s4)
        return ek_dwconv_s4_ref(ctx, p, q, in_dims, in, filter_dims, (const uint8_t *)filter, bias, out_dims, out);
    if (!fast) return ek_dwconv_s8_ref(ctx, p, q, in_dims, in, filter_dims, (const int8_t *)filter, bias, out_dims, out);
    if (ctx->scratch_bytes < ek_armv7em_dw_scratch(in_dims, filter_dims, out_dims)) return EK_ERR_SCRATCH;
    /* the plane every window reads: rows 0 .. (out_h - 1) * sh + (kh - 1) * dh */
    const int32_t ph = (out_dims->h - 1) * p->stride_h + (filter_dims->h - 1) * p->dilation_h + 1;
    const int32_t pw = (out_dims->w - 1) * p->stride_w + (filter_dims->w - 1) * p->dilation_w + 1;
    uint32_t *plane = (uint32_t *)(void *)(((uintptr_t)ctx->scratch + 3u) & ~(uintptr_t)3u);
    const int32_t fits = (uint32_t)(ph * pw * 8 + 4) <= ctx->scratch_bytes;
    const int32_t pairs = filter_dims->h == 3 && filter_dims->w == 3 && p->stride_h == 1 && p->stride_w == 1 &&
                          p->dilation_h == 1 && p->dilation_w == 1 && out_dims->n == in_dims->n &&
                          pair_plane_bytes(out_dims) + 4u <= ctx->scratch_bytes;
    if (pairs) {
        uint32_t *z = plane, *const z_end = plane + pair_plane_bytes(out_dims) / 4u;
        for (; z < z_end; z += 4) z[0] = z[1] = z[2] = z[3] = 0u;
    }
    for (int32_t c4 = 0; c4 < C; c4 += 4) {
        if (pairs)
            group_pairs(p, in_dims, in, filter, s4, bias, q, out_dims, out, c4, plane);
        else if (fits)
            group_padded(p, in_dims, in, filter_dims, filter, s4, bias, q, out_dims, out, c4, plane, ph, pw);
        else
            group(p, in_dims, in, filter_dims, filter, s4, bias, q, out_dims, out, c4);
    }
    return EK_OK;
}

#endif
