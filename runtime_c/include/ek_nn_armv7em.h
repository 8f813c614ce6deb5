/* ek_nn_armv7em.h - ARMv7E-M DSP helpers for the network kernels in
 * runtime_c/kernels/armv7em/ (Cortex-M4/M7/M33 with the DSP extension): dual 16-bit MACs
 * (SMLAD), sign-extending byte unpacks (SXTB16/SXTAB16) and a one-instruction TFLite
 * requantization, all bit-exact with ek_nn_math.h.
 *
 * Requantization fast path (ek_rq_t), exact with ek_mbqm for multiplier >= 2^30 (every
 * multiplier TFLite's QuantizeMultiplier makes) and a right shift e in 1..23:
 * - SaturatingRoundingDoublingHighMul(x, m) = floor((x*m + 2^30) / 2^31) (equal to TFLite's
 *   nudge-and-truncate form for every x when m > 0) = floor((2xm + 2^31) / 2^32)
 *   = SMMLAR(x, m2, x) with m2 = 2m - 2^32 (m2 as int32: m << 1).
 * - RoundingDivideByPOT(s, e) = (s + 2^(e-1) - [s < 0]) >> e. The add saturates (QADD): it
 *   can only saturate when s > 2^31 - 2^(e-1), where the exact result, at least 2^(31-e)
 *   >= 256, and the saturated one both clamp to the same int8 (hence e <= 23).
 * Other channels take ek_requant_s8. */
#ifndef EK_NN_ARMV7EM_H
#define EK_NN_ARMV7EM_H
#include <arm_acle.h>
#include <stdint.h>
#include <string.h>

#include "ek_nn_math.h"

static inline uint32_t ek_ldr_u32(const void *p) /* unaligned-safe; one LDR on ARMv7E-M */
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ACLE's DSP intrinsics over uint32_t words (the ACLE types are signed; the casts keep
 * -Wconversion quiet without changing a bit). */
static inline uint32_t ek_sxtb16(uint32_t v)
{
    return (uint32_t)__sxtb16((int8x4_t)v);
}

static inline uint32_t ek_sxtab16(uint32_t a, uint32_t v)
{
    return (uint32_t)__sxtab16((int16x2_t)a, (int8x4_t)v);
}

/* (a + sign-extended bytes 1 and 3 of b) as two int16 lanes */
static inline uint32_t ek_sxtab16_ror8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t ek_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int16x2_t)a, (int16x2_t)b, acc);
}

static inline int32_t ek_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

static inline int32_t ek_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt((int32_t)a, (int32_t)b, acc);
}

static inline uint32_t ek_ror8(uint32_t v)
{
    return (v >> 8) | (v << 24);
}

static inline int32_t ek_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* Eight packed int4 weights (one word, weight k in nibble k: ek_nn.h) as four int16 pairs,
 * each weight times 16: masking a nibble into the high half of its byte makes SXTB16 sign-
 * extend it, with no shift per lane (ARMv7E-M has none). w[0] = (w0, w4), w[1] = (w2, w6),
 * w[2] = (w1, w5), w[3] = (w3, w7); the columns they meet are in that order
 * (ek_s4_cols_from_s8). A sum of products with them is 16 times the true one: exact while
 * |16 * sum| < 2^31, i.e. K < 65,793 (|x + offset| <= 255, |16 w| <= 128). */
static inline void ek_s4x8_unpack16(uint32_t v, uint32_t *w)
{
    const uint32_t lo = (v << 4) & 0xF0F0F0F0u, hi = v & 0xF0F0F0F0u;
    w[0] = ek_sxtb16(lo);
    w[1] = ek_sxtb16(ek_ror8(lo));
    w[2] = ek_sxtb16(hi);
    w[3] = ek_sxtb16(ek_ror8(hi));
}

/* Four packed int4 weights (two bytes, even nibble first) as four int8 lanes (w0 in byte 0):
 * what an int8 kernel reads for four consecutive weights. */
static inline uint32_t ek_s4x4_to_s8x4(const uint8_t *p)
{
    const uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
    /* nibble k to byte k, then (n ^ 8) - 8 per byte (USUB8: no borrow between lanes) */
    const uint32_t b = (v & 0xFu) | ((v & 0xF0u) << 4) | ((v & 0xF00u) << 8) | ((v & 0xF000u) << 12);
    return (uint32_t)__usub8((uint8x4_t)(b ^ 0x08080808u), (uint8x4_t)0x08080808u);
}

typedef struct {
    int32_t fast;               /* 1: the SMMLAR/QADD path applies */
    int32_t m2, rc, e;          /* fast path: 2m - 2^32, 2^(e-1), right shift */
    int32_t mult, shift;        /* generic path */
    int32_t zp, lo, hi;
} ek_rq_t;

static inline int32_t ek_rq_fast_ok(int32_t mult, int32_t shift)
{
    return mult >= (1 << 30) && shift <= -1 && shift >= -23;
}

static inline void ek_rq_prep(ek_rq_t *r, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    r->fast = ek_rq_fast_ok(mult, shift);
    r->m2 = (int32_t)((uint32_t)mult << 1);
    r->e = r->fast ? -shift : 0;
    r->rc = r->fast ? (1 << (r->e - 1)) : 0;
    r->mult = mult;
    r->shift = shift;
    r->zp = zp;
    r->lo = lo;
    r->hi = hi;
}

static inline int32_t ek_rq_fast(const ek_rq_t *r, int32_t acc)
{
    int32_t s = ek_smmlar(acc, r->m2, acc);
    s = __qadd(s, r->rc + (s >> 31));
    s = (s >> r->e) + r->zp;
    s = s < r->lo ? r->lo : s;
    return s > r->hi ? r->hi : s;
}

static inline int8_t ek_rq(const ek_rq_t *r, int32_t acc)
{
    if (r->fast) return (int8_t)ek_rq_fast(r, acc);
    return ek_requant_s8(acc, r->mult, r->shift, r->zp, r->lo, r->hi);
}

/* Clamp constants of the fast requantization: the output zero point and the activation
 * range as four int8 lanes (ek_clamp4_make). */
typedef struct {
    int32_t zp;
    uint32_t lo4, hi4;
} ek_clamp4_t;

static inline void ek_clamp4_make(ek_clamp4_t *c, int32_t zp, int32_t lo, int32_t hi)
{
    c->zp = zp;
    c->lo4 = ((uint32_t)lo & 0xFFu) * 0x01010101u;
    c->hi4 = ((uint32_t)hi & 0xFFu) * 0x01010101u;
}

/* One accumulator A through the fast path to int8 (before the activation clamp, which is
 * done on four packed lanes: SSUB8 sets a lane's GE flag, SEL keeps it or takes the bound). */
#define EK_RQ_ONE(A, M2, RC, E)                      \
    "smmlar " A ", " A ", " M2 ", " A "\n\t"         \
    "add %[t], " RC ", " A ", asr #31\n\t"           \
    "qadd " A ", " A ", %[t]\n\t"                    \
    "asr " A ", " A ", " E "\n\t"                    \
    "add " A ", " A ", %[zp]\n\t"                    \
    "ssat " A ", #8, " A "\n\t"
#define EK_RQ_PACK_CLAMP                             \
    "bfi %[a0], %[a1], #8, #8\n\t"                   \
    "bfi %[a0], %[a2], #16, #8\n\t"                  \
    "bfi %[a0], %[a3], #24, #8\n\t"                  \
    "ldr %[t], [%[cl], #4]\n\t"                      \
    "ssub8 %[a1], %[a0], %[t]\n\t"                   \
    "sel %[a0], %[a0], %[t]\n\t"                     \
    "ldr %[t], [%[cl], #8]\n\t"                      \
    "ssub8 %[a1], %[t], %[a0]\n\t"                   \
    "sel %[a0], %[a0], %[t]\n\t"

/* Four accumulators of one channel (four pixels) through the fast path, stored at o,
 * o + stride, o + 2*stride, o + 3*stride. */
static inline void ek_rq4_store(int32_t a0, int32_t a1, int32_t a2, int32_t a3, int32_t m2, int32_t rc, int32_t e,
                                const ek_clamp4_t *clamp, int8_t *o, int32_t stride)
{
    int32_t zp, t;
    __asm__ volatile("ldr %[zp], [%[cl]]\n\t"
                     EK_RQ_ONE("%[a0]", "%[m2]", "%[rc]", "%[e]") EK_RQ_ONE("%[a1]", "%[m2]", "%[rc]", "%[e]")
                     EK_RQ_ONE("%[a2]", "%[m2]", "%[rc]", "%[e]") EK_RQ_ONE("%[a3]", "%[m2]", "%[rc]", "%[e]")
                     EK_RQ_PACK_CLAMP
                     "strb %[a0], [%[o]]\n\t"
                     "lsr %[a0], %[a0], #8\n\t"
                     "strb %[a0], [%[o], %[s]]\n\t"
                     "add %[t], %[o], %[s], lsl #1\n\t"
                     "lsr %[a0], %[a0], #8\n\t"
                     "strb %[a0], [%[t]]\n\t"
                     "lsr %[a0], %[a0], #8\n\t"
                     "strb %[a0], [%[t], %[s]]\n\t"
                     : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3), [t] "=&r"(t), [zp] "=&r"(zp)
                     : [m2] "r"(m2), [rc] "r"(rc), [e] "r"(e), [cl] "r"(clamp), [o] "r"(o), [s] "r"(stride)
                     : "cc", "memory");
}

/* Four accumulators of four consecutive channels (one pixel) through the fast path with
 * per-channel constants rq[3 * i] = {m2, rc, e}, stored as one word at o (4-aligned). */
static inline void ek_rq4c_store(int32_t a0, int32_t a1, int32_t a2, int32_t a3, const int32_t *rq,
                                 const ek_clamp4_t *clamp, int8_t *o)
{
    int32_t zp, t, m2, rc, e;
#define EK_RQ_CH(A, OFF)                                       \
    "ldrd %[m2], %[rc], [%[rq], #" OFF "]\n\t"                 \
    "ldr %[e], [%[rq], #" OFF " + 8]\n\t"                      \
    EK_RQ_ONE(A, "%[m2]", "%[rc]", "%[e]")
    __asm__ volatile("ldr %[zp], [%[cl]]\n\t"
                     EK_RQ_CH("%[a0]", "0") EK_RQ_CH("%[a1]", "12") EK_RQ_CH("%[a2]", "24") EK_RQ_CH("%[a3]", "36")
                     EK_RQ_PACK_CLAMP
                     "str %[a0], [%[o]]\n\t"
                     : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3), [t] "=&r"(t), [zp] "=&r"(zp),
                       [m2] "=&r"(m2), [rc] "=&r"(rc), [e] "=&r"(e)
                     : [rq] "r"(rq), [cl] "r"(clamp), [o] "r"(o)
                     : "cc", "memory");
#undef EK_RQ_CH
}

#endif
