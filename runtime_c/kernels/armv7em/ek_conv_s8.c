/* ARMv7E-M DSP int8 convolution (overrides kernels/ref/ek_conv_s8.c; bit-exact with it).
 *
 * Ungrouped convs (pointwise 1x1 included) run as a matrix product over im2col columns:
 * five output pixels at a time, their patches (K = KH*KW*C values, the input zero point
 * where the window leaves the input) written to scratch as int16 with the input offset
 * added, in the order SXTB16 unpacks weights ((k0,k2),(k1,k3) per group of four). Each
 * weight word is loaded and unpacked once for the five pixels (ek_armv7em_block5); one input
 * channel with 4-wide windows (the DS-CNN's first conv) reads a window row as one word
 * (patch_c1k4). The
 * requantization is ek_nn_armv7em.h's. Grouped convs take the reference loops (ek_nn_ref.h);
 * K not a multiple of 4, multipliers off the fast path and the last partial block take
 * block1 (C, one pixel at a time, still SMLAD). */
#include "ek_nn.h"
#include "ek_nn_armv7em.h"
#include "ek_nn_ref.h"

#define PX 5 /* output pixels per block */

static int32_t patch_len(const ek_dims_t *filter_dims)
{
    return filter_dims->h * filter_dims->w * filter_dims->c;
}

uint32_t ek_conv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    if (filter_dims->c != in_dims->c) return 0u; /* grouped: the reference loops */
    const int32_t kp = (patch_len(filter_dims) + 3) & ~3;
    /* columns, one int8 patch, the per-channel table of ek_armv7em_block5, alignment slack */
    return (uint32_t)(PX * kp * 2 + kp + 16 * out_dims->c + 4);
}

/* Column slot j of a block: group g holds words (x0 | x2 << 16), (x1 | x3 << 16) at
 * col[(g * PX + j) * 2 + 0 / 1]: the order SXTB16 unpacks weights in. */
static inline uint32_t sxtab16_ror8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline void put16(uint32_t *col, int32_t j, int32_t k, int32_t v)
{
    static const uint8_t idx[4] = {0, 2, 1, 3};
    int16_t *g = (int16_t *)(void *)(col + ((k >> 2) * PX + j) * 2);
    g[idx[k & 3]] = (int16_t)v;
}

/* Slot j from kp int8 patch values (kp a multiple of 4), the input offset added. */
static void to_col(uint32_t *col, int32_t j, const int8_t *src, int32_t kp, uint32_t off2)
{
    uint32_t *dst = col + j * 2;
    for (int32_t g = 0; g < kp; g += 4, src += 4, dst += 2 * PX) {
        const uint32_t v = ek_ldr_u32(src);
        dst[0] = ek_sxtab16(off2, v);
        dst[1] = sxtab16_ror8(off2, v);
    }
}

/* n bytes, words first (unaligned word loads and stores are single instructions here;
 * a library memcpy of a run-time size would be a byte loop in newlib-nano). */
static inline void copy_run(int8_t *d, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, d += 4, src += 4) {
        const uint32_t v = ek_ldr_u32(src);
        memcpy(d, &v, 4);
    }
    for (; n > 0; n--) *d++ = *src++;
}

/* The patch of output pixel (oy, ox) as int8 in `lin` (kp bytes): the input zero point
 * (-input_offset, which adds to 0) where the window leaves the input and in the tail. */
__attribute__((noinline)) static void patch(int8_t *lin, int32_t kp, const ek_conv_params_t *p,
                                            const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                                            int32_t b, int32_t oy, int32_t ox)
{
    const int32_t kh = filter_dims->h, kw = filter_dims->w, fc = filter_dims->c, in_c = in_dims->c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t run = kw * fc, whole = p->dilation_w == 1 && ix0 >= 0 && ix0 + kw - 1 < in_dims->w;
    int8_t *d = lin;
    for (int32_t ky = 0; ky < kh; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= in_dims->h) {
            for (int32_t i = 0; i < run; i++) d[i] = zp;
            d += run;
            continue;
        }
        const int8_t *row = in + ((b * in_dims->h + iy) * in_dims->w) * in_c;
        if (whole) {
            copy_run(d, row + ix0 * in_c, run);
            d += run;
            continue;
        }
        for (int32_t kx = 0; kx < kw; kx++, d += fc) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (ix < 0 || ix >= in_dims->w) {
                for (int32_t i = 0; i < fc; i++) d[i] = zp;
            } else {
                copy_run(d, row + ix * in_c, fc);
            }
        }
    }
    while (d < lin + kp) *d++ = zp;
}

/* Slot j straight from the input when a window row (KW*C values) is a whole number of
 * groups: rows inside the input are unpacked in place, rows outside are zeros, and only rows
 * cut by the left or right edge go through `lin` (KW*C bytes). */
__attribute__((noinline)) static void patch_rows(uint32_t *col, int32_t j, int8_t *lin, const ek_conv_params_t *p,
                                                 const ek_dims_t *in_dims, const int8_t *in,
                                                 const ek_dims_t *filter_dims, int32_t b, int32_t oy, int32_t ox,
                                                 uint32_t off2)
{
    /* locals: the stores below go through uint32_t *, which may alias the structs' fields */
    const int32_t kh = filter_dims->h, kw = filter_dims->w, fc = filter_dims->c, in_c = in_dims->c;
    const int32_t in_h = in_dims->h, in_w = in_dims->w, dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int32_t run = kw * fc, whole = dil_w == 1 && ix0 >= 0 && ix0 + kw - 1 < in_w;
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t row_words = (run >> 2) * 2 * PX, groups = run >> 2, row_bytes = in_w * in_c;
    uint32_t *dst = col + j * 2;
    const int8_t *row = in + (b * in_h + iy0) * row_bytes;
    for (int32_t ky = 0, iy = iy0; ky < kh; ky++, iy += dil_h, row += dil_h * row_bytes, dst += row_words) {
        if (iy < 0 || iy >= in_h) {
            uint32_t *d = dst;
            for (int32_t g = 0; g < groups; g++, d += 2 * PX) d[0] = d[1] = 0u;
            continue;
        }
        const int8_t *src;
        if (whole) {
            src = row + ix0 * in_c;
        } else {
            int8_t *d = lin;
            for (int32_t kx = 0, ix = ix0; kx < kw; kx++, ix += dil_w, d += fc) {
                if (ix < 0 || ix >= in_w) {
                    for (int32_t i = 0; i < fc; i++) d[i] = zp;
                } else {
                    copy_run(d, row + ix * in_c, fc);
                }
            }
            src = lin;
        }
        uint32_t *d = dst;
        for (int32_t g = 0; g < groups; g++, src += 4, d += 2 * PX) {
            const uint32_t v = ek_ldr_u32(src);
            d[0] = ek_sxtab16(off2, v);
            d[1] = sxtab16_ror8(off2, v);
        }
    }
}

/* Slot j of a conv with one input channel and 4-wide window rows (KW = 4, dilation 1: the
 * DS-CNN's first conv): a window row is one word, read in place; a row cut by the left or right
 * edge (by 1..3 bytes, in_w >= 4) is the word at the edge shifted, the input zero point
 * shifted in. Returns 0 (nothing written) for windows this does not cover. */
__attribute__((noinline)) static int32_t patch_c1k4(uint32_t *col, int32_t j, const ek_conv_params_t *p,
                                                    const ek_dims_t *in_dims, const int8_t *in,
                                                    const ek_dims_t *filter_dims, int32_t b, int32_t oy, int32_t ox,
                                                    uint32_t off2)
{
    const int32_t kh = filter_dims->h, in_h = in_dims->h, in_w = in_dims->w, dil_h = p->dilation_h;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const uint32_t zp4 = ((uint32_t)(-p->input_offset) & 0xFFu) * 0x01010101u;
    int32_t a = ix0, sl = 0, sr = 0;
    uint32_t fill = 0u;
    if (ix0 < 0) {
        if (ix0 < -3 || in_w < 4) return 0;
        a = 0;
        sl = -8 * ix0;
        fill = zp4 & ((1u << sl) - 1u);
    } else if (ix0 + 4 > in_w) {
        const int32_t r = ix0 + 4 - in_w;
        if (r > 3 || in_w < 4) return 0;
        a = in_w - 4;
        sr = 8 * r;
        fill = zp4 & ~(0xFFFFFFFFu >> sr);
    }
    uint32_t *dst = col + j * 2;
    const int8_t *row = in + (b * in_h + iy0) * in_w + a;
    for (int32_t ky = 0, iy = iy0; ky < kh; ky++, iy += dil_h, row += dil_h * in_w, dst += 2 * PX) {
        if (iy < 0 || iy >= in_h) {
            dst[0] = dst[1] = 0u;
            continue;
        }
        const uint32_t v = ((ek_ldr_u32(row) >> sr) << sl) | fill;
        dst[0] = ek_sxtab16(off2, v);
        dst[1] = sxtab16_ror8(off2, v);
    }
    return 1;
}

/* Column value k of slot j (for the K % 4 tail). */
static inline int32_t get16(const uint32_t *col, int32_t j, int32_t k)
{
    static const uint8_t idx[4] = {0, 2, 1, 3};
    const int16_t *g = (const int16_t *)(const void *)(col + ((k >> 2) * PX + j) * 2);
    return g[idx[k & 3]];
}

/* All output channels of a full block of PX = 5 pixels in one assembly loop (K a multiple
 * of 4, every channel on the fast requantization). Per channel a row {bias, m2, e, rc} of
 * `table` (built once per call); per group of four K steps 1 LDR + 2 SXTB16 + 2 LDM + 1 LDRD
 * + 10 SMLAD for 20 MACs, then about 70 instructions of requantization, clamp and stores for
 * the five outputs. Registers: r1 weights, r2-r6 accumulators, r7 columns, lr the job (in the K loop
 * its counter, the job pushed). */
typedef struct {
    const uint32_t *col;   /* 0 */
    const int8_t *w;       /* 4: runs on over the filter rows */
    const int32_t *table;  /* 8: runs on, 4 words per channel */
    int32_t n8;            /* 12: K / 32 (eight groups of four) */
    int32_t stride;        /* 16: out_c */
    int8_t *o;             /* 20: runs on, one per channel */
    int32_t n_oc;          /* 24: counts down */
    int32_t zp;            /* 28 */
    uint32_t lo4, hi4;     /* 32, 36 */
    int32_t rest;          /* 40: (K / 4) mod 8 */
} blk5_t;

void ek_armv7em_block5(blk5_t *k);
#define EK_G                                                  \
        "ldr r8, [r1], #4\n"                                  \
        "ldm r7!, {r0, r10, r11, r12}\n"                      \
        "sxtb16 r9, r8\n"                                     \
        "sxtb16 r8, r8, ror #8\n"                             \
        "smlad r2, r9, r0, r2\n"                              \
        "smlad r2, r8, r10, r2\n"                             \
        "smlad r3, r9, r11, r3\n"                             \
        "smlad r3, r8, r12, r3\n"                             \
        "ldm r7!, {r0, r10, r11, r12}\n"                      \
        "smlad r4, r9, r0, r4\n"                              \
        "smlad r4, r8, r10, r4\n"                             \
        "smlad r5, r9, r11, r5\n"                             \
        "smlad r5, r8, r12, r5\n"                             \
        "ldrd r0, r10, [r7], #8\n"                            \
        "smlad r6, r9, r0, r6\n"                              \
        "smlad r6, r8, r10, r6\n"
#define EK_R(A)                                               \
        "smmlar " A ", " A ", r7, " A "\n"                    \
        "add r10, r9, " A ", asr #31\n"                       \
        "qadd " A ", " A ", r10\n"                            \
        "asr " A ", " A ", r8\n"                              \
        "add " A ", " A ", r11\n"                             \
        "ssat " A ", #8, " A "\n"
__asm__(".syntax unified\n"
        ".thumb\n"
        ".section .text.ek_armv7em_block5,\"ax\",%progbits\n"
        ".align 2\n"
        ".global ek_armv7em_block5\n"
        ".type ek_armv7em_block5, %function\n"
        ".thumb_func\n"
        "ek_armv7em_block5:\n"
        "push {r4-r11, lr}\n"
        "mov lr, r0\n"
        "ldr r1, [lr, #4]\n"                 /* w */
        "0:\n"
        "ldr r0, [lr, #8]\n"                 /* table */
        "ldr r2, [r0], #4\n"                 /* bias */
        "str r0, [lr, #8]\n"
        "mov r3, r2\n"
        "mov r4, r2\n"
        "mov r5, r2\n"
        "mov r6, r2\n"
        "ldr r7, [lr, #0]\n"                 /* columns */
        "push {lr}\n"                        /* lr counts the K steps */
        "ldr lr, [lr, #12]\n"                /* K / 32 */
        "cmp lr, #0\n"
        "beq 2f\n"
        "1:\n"
        EK_G EK_G EK_G EK_G EK_G EK_G EK_G EK_G
        "subs lr, lr, #1\n"
        "bne 1b\n"
        "2:\n"
        "ldr lr, [sp]\n"
        "ldr lr, [lr, #40]\n"                /* K / 4 mod 8 */
        "cmp lr, #0\n"
        "beq 3f\n"
        "4:\n"
        EK_G
        "subs lr, lr, #1\n"
        "bne 4b\n"
        "3:\n"
        "pop {lr}\n"
        "ldr r0, [lr, #8]\n"
        "ldm r0!, {r7, r8, r9}\n"            /* m2, e, rc */
        "str r0, [lr, #8]\n"
        "ldr r11, [lr, #28]\n"               /* zp */
        EK_R("r2") EK_R("r3") EK_R("r4") EK_R("r5") EK_R("r6")
        "bfi r2, r3, #8, #8\n"
        "bfi r2, r4, #16, #8\n"
        "bfi r2, r5, #24, #8\n"
        "ldr r10, [lr, #32]\n"
        "ssub8 r3, r2, r10\n"
        "sel r2, r2, r10\n"
        "ssub8 r3, r6, r10\n"
        "sel r6, r6, r10\n"
        "ldr r10, [lr, #36]\n"
        "ssub8 r3, r10, r2\n"
        "sel r2, r2, r10\n"
        "ssub8 r3, r10, r6\n"
        "sel r6, r6, r10\n"
        "ldr r0, [lr, #20]\n"                /* o */
        "ldr r3, [lr, #16]\n"                /* stride */
        "strb r2, [r0]\n"
        "lsr r2, r2, #8\n"
        "strb r2, [r0, r3]\n"
        "add r4, r0, r3, lsl #1\n"
        "lsr r2, r2, #8\n"
        "strb r2, [r4]\n"
        "lsr r2, r2, #8\n"
        "strb r2, [r4, r3]\n"
        "add r4, r4, r3, lsl #1\n"
        "strb r6, [r4]\n"
        "add r0, r0, #1\n"
        "str r0, [lr, #20]\n"
        "ldr r0, [lr, #24]\n"
        "subs r0, r0, #1\n"
        "str r0, [lr, #24]\n"
        "bne 0b\n"
        "pop {r4-r11, pc}\n"
        ".size ek_armv7em_block5, .-ek_armv7em_block5\n"
        ".text\n");
#undef EK_G
#undef EK_R

/* All output channels of slot j alone (the last, partial block). */
__attribute__((noinline)) static void block1(const uint32_t *col, int32_t j, int32_t K, const int8_t *filter, const int32_t *bias,
                   const ek_requant_t *q, const ek_conv_params_t *p, int32_t out_c, int8_t *out)
{
    const int32_t groups = K >> 2;
    for (int32_t oc = 0; oc < out_c; oc++) {
        const int8_t *w = filter + oc * K;
        int32_t a = bias ? bias[oc] : 0;
        const uint32_t *c = col + j * 2;
        for (int32_t g = 0; g < groups; g++) {
            const uint32_t v = ek_ldr_u32(w);
            w += 4;
            a = ek_smlad(ek_sxtb16(v), c[0], a);
            a = ek_smlad(ek_sxtb16(ek_ror8(v)), c[1], a);
            c += 2 * PX;
        }
        for (int32_t k = groups * 4; k < K; k++) a += (int32_t)*w++ * get16(col, j, k);
        const int32_t qc = q->n_channels == 1 ? 0 : oc;
        ek_rq_t rq;
        ek_rq_prep(&rq, q->multiplier[qc], q->shift[qc], p->output_offset, p->act_min, p->act_max);
        out[oc] = ek_rq(&rq, a);
    }
}

ek_status_t ek_conv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    const int32_t out_c = out_dims->c;
    if (filter_dims->c != in_dims->c) return ek_conv_s8_ref(ctx, p, q, in_dims, in, filter_dims, filter, bias, out_dims, out);
    if (filter_dims->n != out_c || (q->n_channels != 1 && q->n_channels != out_c)) return EK_ERR_ARG;
    if (ctx->scratch_bytes < ek_conv_s8_scratch_bytes(in_dims, filter_dims, out_dims)) return EK_ERR_SCRATCH;
    uint32_t *col = (uint32_t *)(void *)(((uintptr_t)ctx->scratch + 3u) & ~(uintptr_t)3u);
    const int32_t K = patch_len(filter_dims), n_pix = out_dims->h * out_dims->w, kp = (K + 3) & ~3;
    int8_t *lin = (int8_t *)(col + PX * kp / 2);
    /* 1x1, stride 1, no padding: a pixel's patch is its channels, read in place */
    const int32_t direct = filter_dims->h == 1 && filter_dims->w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                           p->pad_top == 0 && p->pad_left == 0 && out_dims->h == in_dims->h && out_dims->w == in_dims->w;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    const int32_t rows_ok = ((filter_dims->w * filter_dims->c) & 3) == 0;
    const int32_t c1k4 = in_dims->c == 1 && filter_dims->w == 4 && p->dilation_w == 1;
    int32_t fast = 1;
    for (int32_t c = 0; c < q->n_channels; c++) fast &= ek_rq_fast_ok(q->multiplier[c], q->shift[c]);
    const int32_t use_asm = fast && (K & 3) == 0 && out_c > 0;
    int32_t *table = (int32_t *)(void *)(lin + kp);
    ek_clamp4_t clamp;
    ek_clamp4_make(&clamp, p->output_offset, p->act_min, p->act_max);
    if (use_asm) {
        for (int32_t oc = 0; oc < out_c; oc++) {
            const int32_t qc = q->n_channels == 1 ? 0 : oc;
            table[4 * oc] = bias ? bias[oc] : 0;
            table[4 * oc + 1] = (int32_t)((uint32_t)q->multiplier[qc] << 1);
            table[4 * oc + 2] = -q->shift[qc];
            table[4 * oc + 3] = 1 << (-q->shift[qc] - 1);
        }
    }
    for (int32_t b = 0; b < in_dims->n; b++) {
        int8_t *ob = out + b * n_pix * out_c;
        for (int32_t p0 = 0; p0 < n_pix; p0 += PX) {
            const int32_t np = n_pix - p0 < PX ? n_pix - p0 : PX;
            for (int32_t j = 0; j < np; j++) {
                const int32_t pix = p0 + j;
                if (direct) {
                    to_col(col, j, in + (b * in_dims->h * in_dims->w + pix) * in_dims->c, K & ~3, off2);
                    for (int32_t k = K & ~3; k < K; k++)
                        put16(col, j, k, (int32_t)in[(b * in_dims->h * in_dims->w + pix) * in_dims->c + k] + p->input_offset);
                } else if (c1k4 && patch_c1k4(col, j, p, in_dims, in, filter_dims, b, pix / out_dims->w,
                                              pix % out_dims->w, off2)) {
                } else if (rows_ok) {
                    patch_rows(col, j, lin, p, in_dims, in, filter_dims, b, pix / out_dims->w, pix % out_dims->w, off2);
                } else {
                    patch(lin, kp, p, in_dims, in, filter_dims, b, pix / out_dims->w, pix % out_dims->w);
                    to_col(col, j, lin, kp, off2);
                }
            }
            if (np == PX && use_asm) {
                blk5_t k = {col, filter, table, K >> 5, out_c, ob + p0 * out_c, out_c, clamp.zp, clamp.lo4, clamp.hi4,
                            (K >> 2) & 7};
                ek_armv7em_block5(&k);
            } else {
                for (int32_t j = 0; j < np; j++) block1(col, j, K, filter, bias, q, p, out_c, ob + (p0 + j) * out_c);
            }
        }
    }
    return EK_OK;
}
