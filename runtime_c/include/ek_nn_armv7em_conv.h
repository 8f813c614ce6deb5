/* ek_nn_armv7em_conv.h - the im2col side of the ARMv7E-M convolutions
 * (kernels/armv7em/ek_conv_s8.c and ek_conv_s4.c): blocks of PX output pixels whose patches
 * (K = KH*KW*C values, the input zero point where the window leaves the input) are written to
 * scratch as int16 with the input offset added, in the order SXTB16 unpacks int8 weights
 * ((k0,k2),(k1,k3) per group of four); the register layout of the block assembly loops and
 * the requantize-and-store tail they share. */
#ifndef EK_NN_ARMV7EM_CONV_H
#define EK_NN_ARMV7EM_CONV_H
#include "ek_nn.h"
#include "ek_nn_armv7em.h"

#define PX 5 /* output pixels per block */

static inline int32_t patch_len(const ek_dims_t *filter_dims)
{
    return filter_dims->h * filter_dims->w * filter_dims->c;
}

/* Scratch of an ungrouped conv: columns, one int8 patch, the per-channel table of the block
 * loops, alignment slack. Grouped convs take the reference loops (0). */
static inline uint32_t ek_armv7em_conv_scratch(const ek_dims_t *in_dims, const ek_dims_t *filter_dims,
                                               const ek_dims_t *out_dims)
{
    if (filter_dims->c != in_dims->c) return 0u;
    const int32_t kp = (patch_len(filter_dims) + 3) & ~3;
    return (uint32_t)(PX * kp * 2 + kp + 16 * out_dims->c + 4);
}

/* Column slot j of a block: group g holds words (x0 | x2 << 16), (x1 | x3 << 16) at
 * col[(g * PX + j) * 2 + 0 / 1]: the order SXTB16 unpacks weights in. */
static inline void put16(uint32_t *col, int32_t j, int32_t k, int32_t v)
{
    static const uint8_t idx[4] = {0, 2, 1, 3};
    int16_t *g = (int16_t *)(void *)(col + ((k >> 2) * PX + j) * 2);
    g[idx[k & 3]] = (int16_t)v;
}

/* Slot j from kp int8 patch values (kp a multiple of 4), the input offset added. */
static inline void to_col(uint32_t *col, int32_t j, const int8_t *src, int32_t kp, uint32_t off2)
{
    uint32_t *dst = col + j * 2;
    for (int32_t g = 0; g < kp; g += 4, src += 4, dst += 2 * PX) {
        const uint32_t v = ek_ldr_u32(src);
        dst[0] = ek_sxtab16(off2, v);
        dst[1] = ek_sxtab16_ror8(off2, v);
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
static __attribute__((noinline, unused)) void patch(int8_t *lin, int32_t kp, const ek_conv_params_t *p,
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
static __attribute__((noinline, unused)) void patch_rows(uint32_t *col, int32_t j, int8_t *lin, const ek_conv_params_t *p,
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
            d[1] = ek_sxtab16_ror8(off2, v);
        }
    }
}

/* Slot j of a conv with one input channel and 4-wide window rows (KW = 4, dilation 1: the
 * DS-CNN's first conv): a window row is one word, read in place; a row cut by the left or right
 * edge (by 1..3 bytes, in_w >= 4) is the word at the edge shifted, the input zero point
 * shifted in. Returns 0 (nothing written) for windows this does not cover. */
static __attribute__((noinline, unused)) int32_t patch_c1k4(uint32_t *col, int32_t j, const ek_conv_params_t *p,
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
        dst[1] = ek_sxtab16_ror8(off2, v);
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

/* One conv call's im2col state: where the columns go and which patch builder applies. */
typedef struct {
    const ek_conv_params_t *p;
    const ek_dims_t *in_dims, *filter_dims, *out_dims;
    const int8_t *in;
    uint32_t *col;       /* PX * kp int16 values */
    int8_t *lin;         /* kp bytes: one int8 patch */
    int32_t *table;      /* 4 words per output channel (the block loops' table) */
    int32_t K, kp;
    int32_t direct;      /* 1x1, stride 1, no padding: a pixel's patch is its channels, read in place */
    int32_t rows_ok;     /* a window row is a whole number of groups of four */
    int32_t c1k4;        /* one input channel, 4-wide windows */
    uint32_t off2;       /* the input offset in both int16 lanes */
} ek_im2col_t;

static inline void ek_im2col_init(ek_im2col_t *m, void *scratch, const ek_conv_params_t *p, const ek_dims_t *in_dims,
                                  const int8_t *in, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    m->p = p;
    m->in_dims = in_dims;
    m->filter_dims = filter_dims;
    m->out_dims = out_dims;
    m->in = in;
    m->K = patch_len(filter_dims);
    m->kp = (m->K + 3) & ~3;
    m->col = (uint32_t *)(void *)(((uintptr_t)scratch + 3u) & ~(uintptr_t)3u);
    m->lin = (int8_t *)(m->col + PX * m->kp / 2);
    m->table = (int32_t *)(void *)(m->lin + m->kp);
    m->direct = filter_dims->h == 1 && filter_dims->w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
                p->pad_left == 0 && out_dims->h == in_dims->h && out_dims->w == in_dims->w;
    m->rows_ok = ((filter_dims->w * filter_dims->c) & 3) == 0;
    m->c1k4 = in_dims->c == 1 && filter_dims->w == 4 && p->dilation_w == 1;
    m->off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
}

/* Slots 0 .. np - 1 from output pixels p0 .. p0 + np - 1 of image b. */
static __attribute__((noinline, unused)) void ek_im2col_block(const ek_im2col_t *m, int32_t b, int32_t p0, int32_t np)
{
    const ek_dims_t *in_dims = m->in_dims;
    const int32_t K = m->K, ow = m->out_dims->w;
    for (int32_t j = 0; j < np; j++) {
        const int32_t pix = p0 + j;
        if (m->direct) {
            const int8_t *src = m->in + (b * in_dims->h * in_dims->w + pix) * in_dims->c;
            to_col(m->col, j, src, K & ~3, m->off2);
            for (int32_t k = K & ~3; k < K; k++) put16(m->col, j, k, (int32_t)src[k] + m->p->input_offset);
        } else if (m->c1k4 && patch_c1k4(m->col, j, m->p, in_dims, m->in, m->filter_dims, b, pix / ow, pix % ow,
                                         m->off2)) {
        } else if (m->rows_ok) {
            patch_rows(m->col, j, m->lin, m->p, in_dims, m->in, m->filter_dims, b, pix / ow, pix % ow, m->off2);
        } else {
            patch(m->lin, m->kp, m->p, in_dims, m->in, m->filter_dims, b, pix / ow, pix % ow);
            to_col(m->col, j, m->lin, m->kp, m->off2);
        }
    }
}

/* Every channel on the fast requantization (the block loops' condition). */
static inline int32_t ek_rq_all_fast(const ek_requant_t *q)
{
    int32_t fast = 1;
    for (int32_t c = 0; c < q->n_channels; c++) fast &= ek_rq_fast_ok(q->multiplier[c], q->shift[c]);
    return fast;
}

/* The block loops' per-channel rows {bias, m2, e, rc} (fast requantization only). */
static inline void ek_armv7em_conv_table(int32_t *table, const ek_requant_t *q, const int32_t *bias, int32_t out_c)
{
    for (int32_t oc = 0; oc < out_c; oc++) {
        const int32_t qc = q->n_channels == 1 ? 0 : oc;
        table[4 * oc] = bias ? bias[oc] : 0;
        table[4 * oc + 1] = (int32_t)((uint32_t)q->multiplier[qc] << 1);
        table[4 * oc + 2] = -q->shift[qc];
        table[4 * oc + 3] = 1 << (-q->shift[qc] - 1);
    }
}

/* The job of a block loop (ek_armv7em_block5 and its int4 twin): all output channels of a
 * full block of PX = 5 pixels. Registers in the loops: r1 weights, r2-r6 accumulators, r7
 * columns, lr the job (in the K loop its counter, the job pushed). */
typedef struct {
    const uint32_t *col;   /* 0 */
    const void *w;         /* 4: runs on over the filter rows */
    const int32_t *table;  /* 8: runs on, 4 words per channel */
    int32_t n_iter;        /* 12: unrolled K-loop iterations */
    int32_t stride;        /* 16: out_c */
    int8_t *o;             /* 20: runs on, one per channel */
    int32_t n_oc;          /* 24: counts down */
    int32_t zp;            /* 28 */
    uint32_t lo4, hi4;     /* 32, 36 */
    int32_t rest;          /* 40: groups after the unrolled iterations */
} blk5_t;

/* The tail of a block loop's channel: the five accumulators r2-r6 through the fast
 * requantization ({m2, e, rc} from the table), clamped on packed lanes, stored one per pixel,
 * then the next channel (label 0). */
#define EK_BLK5_R(A)                                          \
        "smmlar " A ", " A ", r7, " A "\n"                    \
        "add r10, r9, " A ", asr #31\n"                       \
        "qadd " A ", " A ", r10\n"                            \
        "asr " A ", " A ", r8\n"                              \
        "add " A ", " A ", r11\n"                             \
        "ssat " A ", #8, " A "\n"
#define EK_BLK5_TAIL                                          \
        "ldr r0, [lr, #8]\n"                                  \
        "ldm r0!, {r7, r8, r9}\n"            /* m2, e, rc */  \
        "str r0, [lr, #8]\n"                                  \
        "ldr r11, [lr, #28]\n"               /* zp */         \
        EK_BLK5_R("r2") EK_BLK5_R("r3") EK_BLK5_R("r4") EK_BLK5_R("r5") EK_BLK5_R("r6") \
        "bfi r2, r3, #8, #8\n"                                \
        "bfi r2, r4, #16, #8\n"                               \
        "bfi r2, r5, #24, #8\n"                               \
        "ldr r10, [lr, #32]\n"                                \
        "ssub8 r3, r2, r10\n"                                 \
        "sel r2, r2, r10\n"                                   \
        "ssub8 r3, r6, r10\n"                                 \
        "sel r6, r6, r10\n"                                   \
        "ldr r10, [lr, #36]\n"                                \
        "ssub8 r3, r10, r2\n"                                 \
        "sel r2, r2, r10\n"                                   \
        "ssub8 r3, r10, r6\n"                                 \
        "sel r6, r6, r10\n"                                   \
        "ldr r0, [lr, #20]\n"                /* o */          \
        "ldr r3, [lr, #16]\n"                /* stride */     \
        "strb r2, [r0]\n"                                     \
        "lsr r2, r2, #8\n"                                    \
        "strb r2, [r0, r3]\n"                                 \
        "add r4, r0, r3, lsl #1\n"                            \
        "lsr r2, r2, #8\n"                                    \
        "strb r2, [r4]\n"                                     \
        "lsr r2, r2, #8\n"                                    \
        "strb r2, [r4, r3]\n"                                 \
        "add r4, r4, r3, lsl #1\n"                            \
        "strb r6, [r4]\n"                                     \
        "add r0, r0, #1\n"                                    \
        "str r0, [lr, #20]\n"                                 \
        "ldr r0, [lr, #24]\n"                                 \
        "subs r0, r0, #1\n"                                   \
        "str r0, [lr, #24]\n"                                 \
        "bne 0b\n"

#endif
