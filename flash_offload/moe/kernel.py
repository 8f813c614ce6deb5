"""One expert's output computed straight from its bit-planes, a block of rows at a time.

Dequantising a whole expert to float32 would take 4x the memory of its int8 planes; this
kernel decodes a block of output rows (BLOCK_WEIGHTS weights) at a time (the bit-sliced payloads of quantize.matryoshka
keep a row block contiguous in every bit slice), applies them to every bit-width group
while the block is decoded (ascending k: W_k+1 = W_k + s Q), and drops it. Decoding repeats
matryoshka.reconstruct's float32 operations row by row, so block k equals its rows exactly.
"""
from __future__ import annotations

import numpy as np

from edgekiln.quantize.matryoshka import MatryoshkaExpert, Plane, reconstruct, slice_dequant

BLOCK_WEIGHTS = 1 << 16  # weights decoded at a time (rows x cols)


def unpack_rows(p: Plane, r0: int, r1: int) -> np.ndarray:
    """Codes of rows r0..r1 of a plane (uint8, (r1-r0, cols)) without unpacking the rest."""
    step = (p.rows * p.cols + 7) // 8
    a, b = r0 * p.cols // 8, r1 * p.cols // 8
    buf = np.frombuffer(p.payload, np.uint8)
    out = np.unpackbits(buf[a:b])
    for j in range(1, p.code_bits):  # most significant slice first; in place, no temporaries
        out <<= 1
        out |= np.unpackbits(buf[j * step + a:j * step + b])
    return out.reshape(r1 - r0, p.cols)


def decode_rows(planes: list[Plane], r0: int, r1: int, ks: list[int]):
    """Yield (k, W_k rows r0..r1) for each k in ks (ascending plane counts). Per-group
    parameters broadcast over (rows, groups, group) instead of being repeated per weight:
    the same float32 operations on the same operands as group_quant.dequantize and
    matryoshka.add_sign_plane."""
    base = planes[0]
    n, g = r1 - r0, base.group
    shape3 = (n, base.cols // g, g)
    codes = unpack_rows(base, r0, r1)
    s, z = base.scales[r0:r1, :, None], base.zeros[r0:r1, :, None]
    slicing = base.kind == "slice_base"
    W = None if slicing else (codes.reshape(shape3).astype(np.float32) - z) * s
    have = 1
    for k in ks:
        while have < k:
            p = planes[have]
            bits01 = unpack_rows(p, r0, r1)
            if slicing:
                codes = (codes << 1) | bits01
            else:
                q = bits01.reshape(shape3).astype(np.float32)  # Q = 2 bit - 1, then s Q, in place
                q *= np.float32(2)
                q -= np.float32(1)
                q *= p.scales[r0:r1, :, None]
                W += q
            have += 1
        if slicing:
            yield k, slice_dequant(codes, planes[k - 1].bits, base.scales[r0:r1], base.zeros[r0:r1], g)
        else:
            yield k, W.reshape(n, base.cols)


def matmul_planes(planes: list[Plane], work: list[tuple[int, np.ndarray]],
                  block_weights: int = BLOCK_WEIGHTS) -> list[np.ndarray]:
    """[X_k @ W_k.T for (k, X_k) in work] (k ascending) decoding W a row block at a time."""
    p0 = planes[0]
    if p0.cols % 8:  # a row block would start mid-byte: decode whole (small matrices only)
        return [X @ reconstruct(planes[:k]).T for k, X in work]
    ks = [k for k, _ in work]
    outs = [np.empty((len(X), p0.rows), np.float32) for _, X in work]
    rows = max(8, min(p0.rows, block_weights // p0.cols))  # blocks of ~block_weights stay in cache
    for r0 in range(0, p0.rows, rows):
        r1 = min(r0 + rows, p0.rows)
        for i, (_, Wk) in enumerate(decode_rows(planes, r0, r1, ks)):
            outs[i][:, r0:r1] = work[i][1] @ Wk.T
    return outs


def expert_from_blobs(blobs) -> MatryoshkaExpert:
    """Parse expert planes 1..k as read from an EKM file (each plane's checksum checked)."""
    return MatryoshkaExpert.from_plane_bytes(blobs)


def expert_planes_forward(ex: MatryoshkaExpert, work: list[tuple[int, np.ndarray]],
                          block_weights: int = BLOCK_WEIGHTS) -> list[np.ndarray]:
    """relu(H @ up_k.T + b_up) @ down_k + b_down for each (k planes, H) group, k ascending."""
    a = matmul_planes(ex.up.planes, work, block_weights)
    for x in a:
        x += ex.b_up
        np.maximum(x, 0, out=x)
    y = matmul_planes(ex.down.planes, [(k, x) for (k, _), x in zip(work, a)], block_weights)
    for x in y:
        x += ex.b_down
    return y
