"""TFLite's integer arithmetic (tensorflow/lite/kernels/internal/common.h, quantization_util.cc,
and gemmlowp's fixedpoint.h), vectorised over numpy int64 arrays holding int32 values.

Rounding rules, as TFLite's default build (double rounding, not TFLITE_SINGLE_ROUNDING):
- QuantizeMultiplier: frexp, then round(q * 2^31) half away from zero; q == 2^31 becomes
  2^30 with shift + 1; shifts below -31 flush the multiplier to 0.
- SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2^31 with C truncation, nudge
  +2^30 or 1-2^30 by the sign of a*b; INT32_MIN * INT32_MIN saturates to INT32_MAX.
- RoundingDivideByPOT: arithmetic shift, rounding half away from zero.
- MultiplyByQuantizedMultiplier: left shift, high-mul, then rounding right shift.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _wrap32(x: np.ndarray) -> np.ndarray:
    """int32 two's-complement wrap of int64 values (what C's int32 arithmetic does)."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(int32 multiplier, shift; shift > 0 means a left shift) for a real multiplier."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return int(q_fixed), int(shift)


def srdhm(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul of int32 values."""
    a, b = _i64(a), _i64(b)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    high = np.where(num >= 0, num // (1 << 31), -((-num) // (1 << 31)))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    x, e = _i64(x), _i64(exponent)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def saturating_mul_pot(x, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent> (exponent >= 0: saturating shift)."""
    x = _i64(x)
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, _wrap32(x << exponent)))


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier; multiplier/shift may be per-channel arrays."""
    shift = _i64(shift)
    left = np.where(shift > 0, shift, 0)
    right = np.where(shift > 0, 0, -shift)
    return rounding_divide_by_pot(srdhm(_wrap32(_i64(x) << left), multiplier), right)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, shift) -> np.ndarray:
    return rounding_divide_by_pot(srdhm(x, multiplier), -_i64(shift))


def calculate_activation_range(activation: str, scale: float, zero_point: int,
                               qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the clamp of a fused activation, in output integers."""
    def q(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    if activation == "relu":
        return max(qmin, q(0.0)), qmax
    if activation == "relu6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "relu_n1_to_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    if activation in ("none", None):
        return qmin, qmax
    raise ValueError(f"fused activation {activation!r} has no int8 range")


# --- gemmlowp fixed-point functions used by the int8 softmax ---------------------------------
def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    constant_term, constant_1_over_3 = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1)
    return constant_term + srdhm(constant_term, x + poly)


_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
           (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int = 5) -> np.ndarray:
    """exp(a) for a <= 0 given in Q(integer_bits).(31-integer_bits); result in Q0.31."""
    a = _i64(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(saturating_mul_pot(a_mod, integer_bits))
    remainder = a_mod - a
    for exponent, multiplier in _BARREL:
        if integer_bits > exponent:
            bit = (remainder & (1 << (fractional_bits + exponent))) != 0
            result = np.where(bit, srdhm(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def _one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    s = a + INT32_MAX  # RoundingHalfSum(a, One)
    half_denominator = np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2))
    x = 1515870810 + srdhm(half_denominator, -1010580540)  # 48/17 - 32/17 * d, Q2.29
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half_denominator, x)
        x = x + saturating_mul_pot(srdhm(x, one_minus), 2)
    return saturating_mul_pot(x, 1)


def get_reciprocal(x, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """(Q0.31 reciprocal scale, num_bits_over_unit) of positive int32 x, as TFLite's GetReciprocal."""
    x = _i64(x)
    headroom_plus_one = 32 - np.vectorize(lambda v: int(v).bit_length(), otypes=[np.int64])(x & 0xFFFFFFFF)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_minus_one = _wrap32(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return _one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), num_bits_over_unit


def softmax_params(beta: float, input_scale: float, integer_bits: int = 5) -> tuple[int, int, int]:
    """(input multiplier, left shift, diff_min) as PreprocessSoftmaxScaling + CalculateInputRadius."""
    real = min(beta * input_scale * (1 << (31 - integer_bits)), float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier(real)
    assert left_shift >= 0
    radius = ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift)
    return multiplier, left_shift, -int(math.floor(radius))
