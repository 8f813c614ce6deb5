/* ek_fixed.h - fixed-point numbers for cores without an FPU.
 *
 * A value v in Q format with `frac` fractional bits is the integer floor(v * 2^frac),
 * saturated to `bits` (16 or 32). Conversion from float works on the IEEE bits with
 * integer instructions only (no soft-float call), so it is exact: the numpy reference in
 * edgekiln/quantize/fixed_point.py computes the same integers. NaN converts to 0. */
#ifndef EK_FIXED_H
#define EK_FIXED_H
#include "ek_common.h"

static inline int32_t ek_sat_bits(int64_t v, uint32_t bits)
{
    const int64_t hi = ((int64_t)1 << (bits - 1u)) - 1, lo = -hi - 1;
    return (int32_t)(v > hi ? hi : (v < lo ? lo : v));
}

/* floor(x * 2^frac) saturated to `bits` signed bits, from the float's bits. */
static inline int32_t ek_q_from_f32(float x, int32_t frac, uint32_t bits)
{
    union { float f; uint32_t u; } v = {x};
    const uint32_t exp = (v.u >> 23) & 0xFFu;
    const int neg = (int)(v.u >> 31);
    const int64_t hi = ((int64_t)1 << (bits - 1u)) - 1;
    if (exp == 0xFFu) return (v.u & 0x7FFFFFu) ? 0 : (int32_t)(neg ? -hi - 1 : hi); /* NaN, inf */
    if (exp == 0u) return (neg && (v.u & 0x7FFFFFu)) ? -1 : 0; /* zero; a subnormal times 2^frac is below 1 */
    const uint32_t mant = (v.u & 0x7FFFFFu) | 0x800000u; /* value = mant * 2^(exp - 150) */
    const int32_t shift = (int32_t)exp - 150 + frac;
    int64_t mag;
    if (shift >= 0) {
        if (shift > 40) return (int32_t)(neg ? -hi - 1 : hi);
        mag = (int64_t)mant << shift;
        return ek_sat_bits(neg ? -mag : mag, bits);
    }
    if (shift <= -25) return neg ? -1 : 0; /* |value| < 1: floor gives 0 or -1 */
    const uint32_t s = (uint32_t)(-shift);
    mag = (int64_t)(mant >> s);
    if (neg) {
        const int inexact = (mant & ((1u << s) - 1u)) != 0u; /* floor rounds negatives down */
        return ek_sat_bits(-mag - inexact, bits);
    }
    return ek_sat_bits(mag, bits);
}

/* The input vector in the model's Q formats (one frac per feature). */
static inline void ek_q_from_f32_vec(const float *x, const int8_t *frac, uint32_t n, uint32_t bits, int32_t *xq)
{
    for (uint32_t i = 0; i < n; i++) xq[i] = ek_q_from_f32(x[i], frac[i], bits);
}

/* acc * 2^-frac as float (outputs only: probabilities, decision values, regression values). */
static inline float ek_f32_from_q(int64_t acc, int32_t frac)
{
    union { uint32_t u; float f; } scale = {(uint32_t)(127 - frac) << 23}; /* 2^-frac, |frac| < 127 */
    return (float)acc * scale.f;
}

#endif
