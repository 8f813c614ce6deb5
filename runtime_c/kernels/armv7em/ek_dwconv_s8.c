/* ARMv7E-M DSP int8 depthwise convolution (overrides kernels/ref/ek_dwconv_s8.c; bit-exact
 * with it). Depth multiplier 1 and channels a multiple of 4: four channels at a time, one
 * word of four int8 inputs per tap unpacked with the input offset (SXTAB16), the group's
 * weights unpacked once into a small table on the stack, SMLABB/SMLATT per channel.
 * Windows wholly inside the input take an unrolled loop without bounds checks. Other shapes,
 * and channels whose multiplier misses the fast requantization, take the reference loops.
 * No scratch. */
#include "ek_nn.h"
#include "ek_nn_armv7em.h"
#include "ek_nn_ref.h"

#define MAX_TAPS 64 /* window taps the weight table holds (8x8); larger windows: reference loops */

/* The padded plane of four channels as int16 (x + offset) pairs: (in_h + kh - 1) x
 * (in_w + kw - 1) pixels of 8 bytes covers every window of "same" or "valid" padding with
 * dilation 1; convs needing more take the unpadded path. */
uint32_t ek_dwconv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    (void)out_dims;
    if ((in_dims->c & 3) != 0) return 0u;
    return (uint32_t)((in_dims->h + filter_dims->h - 1) * (in_dims->w + filter_dims->w - 1) * 8 + 4);
}

static inline uint32_t sxtab16_ror8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* One tap: four channels' inputs at X, weights pair W[0], W[1] (ek_nn_armv7em.h layout). */
#define TAP(X, W)                                                     \
    do {                                                              \
        const uint32_t v_ = ek_ldr_u32(X);                            \
        const uint32_t xe_ = ek_sxtab16(off2, v_), xo_ = sxtab16_ror8(off2, v_); \
        a0 = ek_smlabb(xe_, (W)[0], a0);                               \
        a2 = ek_smlatt(xe_, (W)[0], a2);                               \
        a1 = ek_smlabb(xo_, (W)[1], a1);                               \
        a3 = ek_smlatt(xo_, (W)[1], a3);                               \
    } while (0)

/* The nine taps of a 3x3 window wholly inside the input: x its top-left input (four
 * channels), C the pixel stride, row the row stride, wt the unpacked weights. */
static inline void mac3x3(const int8_t *x, int32_t C, int32_t row, uint32_t off2, const uint32_t *wt, int32_t *pa0,
                          int32_t *pa1, int32_t *pa2, int32_t *pa3)
{
    int32_t a0 = *pa0, a1 = *pa1, a2 = *pa2, a3 = *pa3;
    uint32_t v, xo, w0, w1;
#define EK_TAP(LOAD, WOFF)                               \
    LOAD                                                 \
    "ldrd %[w0], %[w1], [%[wt], #" WOFF "]\n\t"          \
    "sxtab16 %[xo], %[off2], %[v], ror #8\n\t"          \
    "sxtab16 %[v], %[off2], %[v]\n\t"                   \
    "smlabb %[a0], %[v], %[w0], %[a0]\n\t"              \
    "smlatt %[a2], %[v], %[w0], %[a2]\n\t"              \
    "smlabb %[a1], %[xo], %[w1], %[a1]\n\t"             \
    "smlatt %[a3], %[xo], %[w1], %[a3]\n\t"
#define EK_ROW(W0, W1, W2)                                   \
    EK_TAP("ldr %[v], [%[x]]\n\t", W0)                       \
    EK_TAP("ldr %[v], [%[x], %[C]]\n\t", W1)                 \
    EK_TAP("ldr %[v], [%[x], %[C], lsl #1]\n\t", W2)
    __asm__ volatile(EK_ROW("0", "8", "16") "add %[x], %[x], %[row]\n\t" EK_ROW("24", "32", "40")
                     "add %[x], %[x], %[row]\n\t" EK_ROW("48", "56", "64")
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [v] "=&r"(v),
                       [xo] "=&r"(xo), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     : [C] "r"(C), [row] "r"(row), [off2] "r"(off2), [wt] "r"(wt)
                     : "memory");
#undef EK_ROW
#undef EK_TAP
    *pa0 = a0;
    *pa1 = a1;
    *pa2 = a2;
    *pa3 = a3;
}

/* First tap index >= 0 of a window starting at i0 with step d, and the end, inside [0, n). */
static inline void tap_range(int32_t i0, int32_t d, int32_t k, int32_t n, int32_t *first, int32_t *end)
{
    int32_t f = 0, e = k;
    if (i0 < 0) f = (-i0 + d - 1) / d;
    if (i0 + (k - 1) * d >= n) e = (n - i0 + d - 1) / d;
    *first = f;
    *end = e < f ? f : e;
}

__attribute__((noinline)) static void group(const ek_conv_params_t *p, const ek_dims_t *in_dims, const int8_t *in,
                                            const ek_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                                            const ek_requant_t *q, const ek_dims_t *out_dims, int8_t *out, int32_t c4)
{
    const int32_t C = in_dims->c, in_h = in_dims->h, in_w = in_dims->w, kh = filter_dims->h, kw = filter_dims->w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    uint32_t wt[2 * MAX_TAPS]; /* per tap: (w0, w2), (w1, w3) as int16 pairs */
    for (int32_t t = 0; t < kh * kw; t++) {
        const uint32_t v = ek_ldr_u32(filter + t * C + c4);
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
    const int32_t k3 = kh == 3 && kw == 3 && dh == 1 && dw == 1;
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
                if (k3 && y0 == 0 && y1 == 3 && x0 == 0 && x1 == 3) { /* 3x3 inside the input */
                    mac3x3(img + iy0 * row + ix0 * C, C, row, off2, wt, &a0, &a1, &a2, &a3);
                } else {
                    for (int32_t ky = y0; ky < y1; ky++) {
                        const int8_t *x = img + (iy0 + ky * dh) * row + (ix0 + x0 * dw) * C;
                        const uint32_t *w = wt + 2 * (ky * kw + x0);
                        for (int32_t kx = x0; kx < x1; kx++, x += dw * C, w += 2) TAP(x, w);
                    }
                }
                ek_rq4c_store(a0, a1, a2, a3, rq, &clamp, o);
            }
        }
    }
}

/* The nine taps of a 3x3 window over the padded plane: r its top-left pixel (two words of
 * int16 pairs), rb the plane's row bytes. */
static inline void mac3x3_padded(const uint32_t *r, int32_t rb, const uint32_t *wt, int32_t *pa0, int32_t *pa1,
                                 int32_t *pa2, int32_t *pa3)
{
    int32_t a0 = *pa0, a1 = *pa1, a2 = *pa2, a3 = *pa3;
    uint32_t x0, x1, w0, w1;
#define EK_PTAP(XOFF, WOFF)                              \
    "ldrd %[x0], %[x1], [%[r], #" XOFF "]\n\t"           \
    "ldrd %[w0], %[w1], [%[wt], #" WOFF "]\n\t"          \
    "smlabb %[a0], %[x0], %[w0], %[a0]\n\t"              \
    "smlatt %[a2], %[x0], %[w0], %[a2]\n\t"              \
    "smlabb %[a1], %[x1], %[w1], %[a1]\n\t"              \
    "smlatt %[a3], %[x1], %[w1], %[a3]\n\t"
    __asm__ volatile(EK_PTAP("0", "0") EK_PTAP("8", "8") EK_PTAP("16", "16") "add %[r], %[r], %[rb]\n\t"
                     EK_PTAP("0", "24") EK_PTAP("8", "32") EK_PTAP("16", "40") "add %[r], %[r], %[rb]\n\t"
                     EK_PTAP("0", "48") EK_PTAP("8", "56") EK_PTAP("16", "64")
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [r] "+r"(r), [x0] "=&r"(x0),
                       [x1] "=&r"(x1), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     : [rb] "r"(rb), [wt] "r"(wt)
                     : "memory");
#undef EK_PTAP
    *pa0 = a0;
    *pa1 = a1;
    *pa2 = a2;
    *pa3 = a3;
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

void ek_armv7em_dw3x3_row(dw3_t *k);
__asm__(".syntax unified\n"
        ".thumb\n"
        ".text\n"
        ".align 2\n"
        ".global ek_armv7em_dw3x3_row\n"
        ".type ek_armv7em_dw3x3_row, %function\n"
        ".thumb_func\n"
        "ek_armv7em_dw3x3_row:\n"
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
        ".size ek_armv7em_dw3x3_row, .-ek_armv7em_dw3x3_row\n");

/* Four channels from a padded int16 plane (ph x pw pixels, built here in `plane`). */
__attribute__((noinline)) static void group_padded(const ek_conv_params_t *p, const ek_dims_t *in_dims,
                                                   const int8_t *in, const ek_dims_t *filter_dims, const int8_t *filter,
                                                   const int32_t *bias, const ek_requant_t *q, const ek_dims_t *out_dims,
                                                   int8_t *out, int32_t c4, uint32_t *plane, int32_t ph, int32_t pw)
{
    const int32_t C = in_dims->c, in_h = in_dims->h, in_w = in_dims->w, kh = filter_dims->h, kw = filter_dims->w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w, sh = p->stride_h, sw = p->stride_w;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    uint32_t wt[2 * MAX_TAPS];
    for (int32_t t = 0; t < kh * kw; t++) {
        const uint32_t v = ek_ldr_u32(filter + t * C + c4);
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
                d[1] = sxtab16_ror8(off2, v);
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
                if (k3) {
                    mac3x3_padded(r, rb, wt, &a0, &a1, &a2, &a3);
                } else {
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
                }
                ek_rq4c_store(a0, a1, a2, a3, rq, &clamp, o);
            }
        }
    }
}

ek_status_t ek_dwconv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                         const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    const int32_t C = in_dims->c;
    int32_t fast = p->depth_multiplier == 1 && (C & 3) == 0 && out_dims->c == C && filter_dims->c == C &&
                   filter_dims->h * filter_dims->w <= MAX_TAPS && (q->n_channels == 1 || q->n_channels == C);
    for (int32_t c = 0; fast && c < q->n_channels; c++) fast &= ek_rq_fast_ok(q->multiplier[c], q->shift[c]);
    if (!fast) return ek_dwconv_s8_ref(ctx, p, q, in_dims, in, filter_dims, filter, bias, out_dims, out);
    if (ctx->scratch_bytes < ek_dwconv_s8_scratch_bytes(in_dims, filter_dims, out_dims)) return EK_ERR_SCRATCH;
    /* the plane every window reads: rows 0 .. (out_h - 1) * sh + (kh - 1) * dh */
    const int32_t ph = (out_dims->h - 1) * p->stride_h + (filter_dims->h - 1) * p->dilation_h + 1;
    const int32_t pw = (out_dims->w - 1) * p->stride_w + (filter_dims->w - 1) * p->dilation_w + 1;
    uint32_t *plane = (uint32_t *)(void *)(((uintptr_t)ctx->scratch + 3u) & ~(uintptr_t)3u);
    const int32_t fits = (uint32_t)(ph * pw * 8 + 4) <= ctx->scratch_bytes;
    for (int32_t c4 = 0; c4 < C; c4 += 4) {
        if (fits)
            group_padded(p, in_dims, in, filter_dims, filter, bias, q, out_dims, out, c4, plane, ph, pw);
        else
            group(p, in_dims, in, filter_dims, filter, bias, q, out_dims, out, c4);
    }
    return EK_OK;
}
