/* ek_float_key.h - `x <= t` for a float32 x and a constant t as ONE integer compare, for
 * cores without an FPU (rv32imc: there every float compare is a libgcc call, 20+ instructions).
 *
 * key(x): the IEEE bits of x as int32, but any NaN (either sign, any payload) becomes nan_key.
 * T: the bits of t, which is never NaN and is exported with -0.0 as +0.0 (x <= -0.0 and
 * x <= +0.0 agree for every x). Exact for every x that is not NaN:
 *   t >= +0 (T in [0, 0x7F800000]):  x <= t  <=>  key <= (int32_t)T
 *     x with the sign bit (negative or -0.0): key < 0 <= T, and x <= 0 <= t;
 *     x >= +0: non-negative floats are ordered as their bits (exponent above mantissa).
 *   t < 0 (T in [0x80000001, 0xFF800000]):  x <= t  <=>  (uint32_t)key >= T
 *     x without the sign bit: key <= 0x7F800000 < T, and x >= +0 > t;
 *     x with it: x <= t <=> |x| >= |t| <=> bits >= T (same sign bit, magnitudes ordered
 *     as their bits); -0.0 gives 0x80000000 < T, and -0.0 > t.
 * NaN: EK_KEY_NAN_LOW (-1, 0xFFFFFFFF) passes both tests (-1 <= T; 0xFFFFFFFF >= T): NaN goes
 * left; EK_KEY_NAN_HIGH (0x7FFFFFFF) fails both (> 0x7F800000 >= T; < 0x80000000 < T): NaN
 * goes right. Used by codegen/templates/ops/tree_inline.c.j2; T from codegen/ops/tree_ensemble.py. */
#ifndef EK_FLOAT_KEY_H
#define EK_FLOAT_KEY_H
#include <stdint.h>
#include <string.h>

#define EK_KEY_NAN_LOW (-1)
#define EK_KEY_NAN_HIGH INT32_MAX

static inline int32_t ek_f32_key(float x, int32_t nan_key)
{
    uint32_t u;
    int32_t b;
    memcpy(&u, &x, sizeof u);
    memcpy(&b, &x, sizeof b);
    /* NaN: exponent all ones and a non-zero mantissa, i.e. above 0xFF000000 without the sign */
    return __builtin_expect((u << 1) > 0xFF000000u, 0) ? nan_key : b;
}

#endif
