/* ek_nn_math.h - TFLite's integer arithmetic for the network kernels, bit for bit
 * (tensorflow/lite/kernels/internal/common.h and gemmlowp's fixedpoint.h, default build:
 * double rounding). The numpy twin is quantize/nn/tflite_math.py.
 *
 * Written without 64-bit division (Cortex-M4 and rv32 have no divide for it) and without
 * signed overflow: shifts that may overflow go through uint32_t, as TFLite's wrapping does. */
#ifndef EK_NN_MATH_H
#define EK_NN_MATH_H
#include <stdint.h>

#define EK_INT32_MIN ((int32_t)(-2147483647 - 1))
#define EK_INT32_MAX ((int32_t)2147483647)

/* SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2^31, C truncation. */
static inline int32_t ek_srdhm(int32_t a, int32_t b)
{
    if (a == EK_INT32_MIN && b == EK_INT32_MIN) return EK_INT32_MAX;
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t num = ab + (ab >= 0 ? (int64_t)(1 << 30) : (int64_t)(1 - (1 << 30)));
    /* truncating division by 2^31: add 2^31 - 1 to negative numerators, then shift */
    return (int32_t)((num + (num < 0 ? (int64_t)0x7FFFFFFF : 0)) >> 31);
}

/* RoundingDivideByPOT: arithmetic shift rounding half away from zero; 0 <= exponent <= 31. */
static inline int32_t ek_rdbpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier: shift > 0 shifts left first (wrapping), < 0 right after. */
static inline int32_t ek_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return ek_rdbpot(ek_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

static inline int32_t ek_mbqm_smaller_than_one_exp(int32_t x, int32_t multiplier, int32_t shift)
{
    return ek_rdbpot(ek_srdhm(x, multiplier), -shift);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>, exponent > 0: saturating left shift. */
static inline int32_t ek_sat_mul_pot(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) return EK_INT32_MAX;
    if (x < -threshold) return EK_INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

static inline int32_t ek_clamp_s32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Requantize one accumulator to an int8 output (TFLite's conv/fc epilogue). */
static inline int8_t ek_requant_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t out_offset,
                                   int32_t act_min, int32_t act_max)
{
    return (int8_t)ek_clamp_s32(ek_mbqm(acc, multiplier, shift) + out_offset, act_min, act_max);
}

/* Packed int4 weight i (ek_nn.h: the even-indexed element in the low nibble), sign-extended. */
static inline int32_t ek_s4_at(const uint8_t *packed, int32_t i)
{
    const uint32_t byte = packed[i >> 1];
    const uint32_t nib = (i & 1) ? (byte >> 4) : (byte & 15u);
    return (int32_t)nib - (int32_t)((nib & 8u) << 1);
}

static inline float ek_clamp_f32(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* ---- gemmlowp fixed point for the int8 softmax ---- */
/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static inline int32_t ek_exp_on_interval_neg_quarter_0(int32_t a)
{
    const int32_t constant_term = 1895147668, constant_1_over_3 = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = ek_srdhm(x, x);
    const int32_t x3 = ek_srdhm(x2, x);
    const int32_t x4 = ek_srdhm(x2, x2);
    const int32_t x4_over_4 = ek_rdbpot(x4, 2);
    const int32_t poly = ek_rdbpot(ek_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + ek_srdhm(constant_term, x + poly);
}

/* exp(a) of a <= 0 in Q5.26; result in Q0.31. */
static inline int32_t ek_exp_on_negative_values_q5(int32_t a)
{
    enum { FRAC = 26 };
    const int32_t one_quarter = 1 << (FRAC - 2);
    const int32_t a_mod = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = ek_exp_on_interval_neg_quarter_0(ek_sat_mul_pot(a_mod, 5));
    const int32_t remainder = a_mod - a;
    static const int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    for (int32_t e = -2; e <= 4; e++) {
        if (remainder & (1 << (FRAC + e))) result = ek_srdhm(result, mult[e + 2]);
    }
    return a == 0 ? EK_INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out (Newton-Raphson, three steps). */
static inline int32_t ek_one_over_one_plus_x(int32_t a)
{
    const int64_t s = (int64_t)a + EK_INT32_MAX; /* RoundingHalfSum(a, One) */
    const int32_t half_den = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + ek_srdhm(half_den, -1010580540); /* Q2.29 */
    for (int i = 0; i < 3; i++) {
        const int32_t one_minus = (1 << 29) - ek_srdhm(half_den, x);
        x = x + ek_sat_mul_pot(ek_srdhm(x, one_minus), 2);
    }
    return ek_sat_mul_pot(x, 1);
}

static inline int32_t ek_clz32(uint32_t x)
{
    if (x == 0u) return 32;
    int32_t n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

/* TFLite's GetReciprocal: Q0.31 scale and the bits over unit of positive x. */
static inline int32_t ek_get_reciprocal(int32_t x, int32_t x_integer_digits, int32_t *num_bits_over_unit)
{
    const int32_t headroom_plus_one = ek_clz32((uint32_t)x);
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    const int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - 0x80000000u);
    return ek_one_over_one_plus_x(shifted_minus_one);
}

#endif
