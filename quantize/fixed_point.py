"""Fixed-point number formats for cores without an FPU (GAP8's rv32imc).

A value v in a Q format with `frac` fractional bits is the integer floor(v * 2^frac),
saturated to 16 or 32 signed bits: the same integers as ek_q_from_f32 in
runtime_c/include/ek_fixed.h. Formats are chosen from the training data ranges: the
largest `frac` whose range still holds the largest magnitude seen in training. Inputs
beyond the training range saturate.
"""
from __future__ import annotations

import math

import numpy as np

from edgekiln.errors import InputError


def int_bits(max_abs: float) -> int:
    """Integer bits (sign excluded) a magnitude needs: 16 needs 5, 0.3 needs -1."""
    if not np.isfinite(max_abs):
        raise InputError("the calibration data has non-finite values; pass finite training data for --calib")
    if max_abs <= 0.0:
        return 0
    return math.floor(math.log2(max_abs)) + 1


def frac_for(max_abs: float, bits: int) -> int:
    """Fractional bits of the finest `bits`-bit signed format that holds +-max_abs."""
    return bits - 1 - int_bits(max_abs)


def saturate(v: np.ndarray, bits: int) -> np.ndarray:
    hi = (1 << (bits - 1)) - 1
    return np.clip(v, -hi - 1, hi)


def quantize_floor(x: np.ndarray, frac: np.ndarray | int, bits: int) -> np.ndarray:
    """floor(x * 2^frac) saturated to `bits`, NaN -> 0: bit-exact with ek_q_from_f32 for
    float32 x (x * 2^frac is exact in float64)."""
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    scaled = np.floor(x * np.exp2(np.asarray(frac, dtype=np.float64)))
    scaled = np.where(np.isnan(scaled), 0.0, scaled)
    hi = float((1 << (bits - 1)) - 1)
    return np.clip(scaled, -hi - 1, hi).astype(np.int64)


def quantize_round(x: np.ndarray, frac: int, bits: int) -> np.ndarray:
    """Round-to-nearest for constants (weights, centroids), saturated to `bits`."""
    return saturate(np.round(np.asarray(x, dtype=np.float64) * 2.0 ** frac), bits).astype(np.int64)


def dequantize(q: np.ndarray, frac: int) -> np.ndarray:
    """acc * 2^-frac in float32 as ek_f32_from_q computes it (int -> float, then an exact scale)."""
    return np.asarray(q, dtype=np.int64).astype(np.float32) * np.float32(2.0 ** -frac)


def calibration_ranges(X: np.ndarray, n_features: int) -> np.ndarray:
    """Per-feature largest magnitude of the training data (the data the format must hold)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise InputError(f"calibration data must have shape (n_samples, {n_features}); got {X.shape}")
    if X.shape[0] == 0:
        raise InputError("calibration data has no samples")
    if not np.isfinite(X).all():
        raise InputError("calibration data contains NaN or infinity; fixed point needs finite training ranges")
    return np.abs(X.astype(np.float32)).max(axis=0).astype(np.float64)
