"""Asymmetric per-group weight quantization: RTN, output-aware clipping, and GPTQ (numpy).

Convention everywhere: W is (out, in) as in y = x @ W.T; groups of `group` consecutive
input columns share a scale and a zero-point; calibration activations X are (n, in).
The per-group codes are q = clip(round(w / s) + z, 0, 2^b - 1) and dequantize to (q - z) * s,
all in float32 so every path (RTN, GPTQ, matryoshka planes) rounds the same way.
"""
from __future__ import annotations

import numpy as np

from edgekiln.errors import InputError

# Clipping ratios searched by the output-aware base quantizer (1.0 = plain min/max).
CLIP_RATIOS = tuple(np.round(np.linspace(1.0, 0.5, 11), 3))


def check_weight(W: np.ndarray, group: int, bits: int | None = None, X: np.ndarray | None = None) -> np.ndarray:
    """W as float32 (out, in); raise InputError on shapes/groups/bits the quantizers cannot take."""
    W = np.asarray(W)
    if W.ndim != 2 or W.size == 0:
        raise InputError(f"weight must be a non-empty 2-D (out, in) matrix, got shape {W.shape}")
    if not isinstance(group, (int, np.integer)) or group <= 0 or W.shape[1] % group:
        raise InputError(f"group size {group} must be a positive divisor of the input dimension {W.shape[1]}")
    if bits is not None and not (isinstance(bits, (int, np.integer)) and 1 <= bits <= 8):
        raise InputError(f"bit-width {bits} outside 1..8")
    if X is not None and (np.asarray(X).ndim != 2 or np.asarray(X).shape[1] != W.shape[1]):
        raise InputError(f"calibration activations must be (n, {W.shape[1]}), got {np.asarray(X).shape}")
    if not np.all(np.isfinite(W)):
        raise InputError("weight has NaN or infinite entries")
    return np.ascontiguousarray(W, dtype=np.float32)


def grouped(W: np.ndarray, group: int) -> np.ndarray:
    """(out, in) -> (out, in/group, group) view."""
    return W.reshape(W.shape[0], W.shape[1] // group, group)


def expand(p: np.ndarray, group: int) -> np.ndarray:
    """(out, ngroups) per-group parameters -> (out, in) per weight."""
    return np.repeat(p, group, axis=1)


def minmax_params(lo: np.ndarray, hi: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale and integer zero-point (float32) mapping [lo, hi] (which must hold 0) onto 0..2^b-1."""
    lo = np.minimum(lo, 0).astype(np.float32)
    hi = np.maximum(hi, 0).astype(np.float32)
    qmax = np.float32(2 ** bits - 1)
    s = (hi - lo) / qmax
    s = np.where(s > 0, s, np.float32(1e-8)).astype(np.float32)
    z = np.clip(np.round(-lo / s), 0, qmax).astype(np.float32)
    return s, z


def quantize_codes(W: np.ndarray, s: np.ndarray, z: np.ndarray, bits: int, group: int) -> np.ndarray:
    """uint8 codes of W under per-group (s, z) of shape (out, ngroups)."""
    q = np.round(W / expand(s, group)) + expand(z, group)
    return np.clip(q, 0, 2 ** bits - 1).astype(np.uint8)


def dequantize(codes: np.ndarray, s: np.ndarray, z: np.ndarray, group: int) -> np.ndarray:
    """(codes - z) * s in float32; the one dequantization every plane reader repeats."""
    return ((codes.astype(np.float32) - expand(z, group)) * expand(s, group)).astype(np.float32)


def group_hessians(X: np.ndarray | None, n_in: int, group: int) -> np.ndarray:
    """Diagonal blocks (ngroups, g, g) of X^T X / n; identity (plain weight MSE) without X."""
    ng = n_in // group
    if X is None:
        return np.broadcast_to(np.eye(group, dtype=np.float32), (ng, group, group))
    Xg = np.asarray(X, np.float32).reshape(len(X), ng, group).transpose(1, 0, 2)  # (ng, n, g)
    return (Xg.transpose(0, 2, 1) @ Xg / np.float32(max(len(X), 1))).astype(np.float32)


def block_error(D: np.ndarray, Hb: np.ndarray) -> np.ndarray:
    """Per (row, group) output error d H_gg d^T of a weight error D (out, in)."""
    ng, g = Hb.shape[0], Hb.shape[1]
    Dg = D.reshape(D.shape[0], ng, g).transpose(1, 0, 2)  # (ng, out, g)
    return np.einsum("nog,nog->on", Dg @ Hb, Dg)


def clipped_params(W: np.ndarray, bits: int, group: int, X: np.ndarray | None = None,
                   ratios=CLIP_RATIOS) -> tuple[np.ndarray, np.ndarray]:
    """Per-group (s, z) choosing, per row and group, the clipping ratio with the least output
    error ||X_g (W_g - Wq_g)^T||^2 on the calibration activations (weight MSE without X)."""
    Wg = grouped(W, group)
    lo, hi = Wg.min(axis=2), Wg.max(axis=2)
    Hb = group_hessians(X, W.shape[1], group)
    best_err = best_s = best_z = None
    for r in ratios:
        s, z = minmax_params(lo * np.float32(r), hi * np.float32(r), bits)
        err = block_error(W - dequantize(quantize_codes(W, s, z, bits, group), s, z, group), Hb)
        if best_err is None:
            best_err, best_s, best_z = err, s, z
        else:
            better = err < best_err
            best_err = np.where(better, err, best_err)
            best_s, best_z = np.where(better, s, best_s), np.where(better, z, best_z)
    return best_s.astype(np.float32), best_z.astype(np.float32)


def rtn(W: np.ndarray, bits: int, group: int = 64) -> np.ndarray:
    """Round-to-nearest, min/max per group: the dequantized float32 matrix."""
    W = check_weight(W, group, bits)
    Wg = grouped(W, group)
    s, z = minmax_params(Wg.min(axis=2), Wg.max(axis=2), bits)
    return dequantize(quantize_codes(W, s, z, bits, group), s, z, group)


def gptq_factor(X: np.ndarray, damp: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(U, dead): the upper Cholesky factor of the damped inverse Hessian 2 X^T X / n and the
    input columns no calibration token uses. Shared by every bit-width of one matrix."""
    X = np.asarray(X, np.float64)
    H = X.T @ X * (2.0 / max(len(X), 1))
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    H += np.eye(H.shape[0]) * damp * float(np.mean(np.diag(H)))
    try:
        return np.linalg.cholesky(np.linalg.inv(H)).T, dead
    except np.linalg.LinAlgError as e:
        raise InputError(f"GPTQ Hessian is not positive definite ({e}); raise damp or add calibration data") from e


def gptq(W: np.ndarray, X: np.ndarray | None, bits: int, group: int = 64, damp: float = 0.01,
         block: int = 128, factor: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """GPTQ (Frantar et al. 2023): columns quantized left to right, each one's error pushed onto
    the not-yet-quantized columns through the inverse Hessian of the calibration activations;
    per-group min/max scale and zero-point taken from the updated weights when a group starts.
    `factor` (gptq_factor(X)) may be passed instead of X to reuse it across bit-widths.
    Returns the dequantized float32 matrix."""
    if factor is None:
        if X is None:
            raise InputError("GPTQ needs calibration activations X (or a precomputed gptq_factor)")
        W = check_weight(W, group, bits, X).astype(np.float64)
        factor = gptq_factor(X, damp)
    else:
        W = check_weight(W, group, bits).astype(np.float64)
    U, dead = factor
    n_in = W.shape[1]
    if U.shape != (n_in, n_in):
        raise InputError(f"GPTQ factor is {U.shape}; the weight has {n_in} input columns")
    W[:, dead] = 0.0
    Q = np.zeros_like(W, dtype=np.float32)
    qmax = 2 ** bits - 1
    s = z = None
    block = max(group, block // group * group)  # groups never straddle blocks
    for i1 in range(0, n_in, block):
        i2 = min(i1 + block, n_in)
        W1, U1 = W[:, i1:i2].copy(), U[i1:i2, i1:i2]
        E1 = np.zeros_like(W1)
        for i in range(i2 - i1):
            col = i1 + i
            if col % group == 0:  # group parameters from the error-compensated weights
                blk = W1[:, i:i + group].astype(np.float32)
                s, z = minmax_params(blk.min(axis=1), blk.max(axis=1), bits)
            w = W1[:, i].astype(np.float32)
            q = (np.clip(np.round(w / s) + z, 0, qmax) - z) * s
            Q[:, col] = q
            err = (W1[:, i] - q) / U1[i, i]
            W1[:, i:] -= np.outer(err, U1[i, i:])
            E1[:, i] = err
        W[:, i2:] -= E1 @ U[i1:i2, i2:]
    return Q.astype(np.float32)


def output_error(W: np.ndarray, Wq: np.ndarray, X: np.ndarray) -> float:
    """Relative output error ||X W^T - X Wq^T|| / ||X W^T||."""
    ref = X @ W.T
    return float(np.linalg.norm(ref - X @ Wq.T) / max(np.linalg.norm(ref), 1e-30))
