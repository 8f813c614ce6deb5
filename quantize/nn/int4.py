"""Packed int4 weights, the layout of runtime_c/include/ek_nn.h: two weights per byte in
the weight's C order, the even-indexed element in the low nibble, each nibble a
two's-complement int4 (sign-extended when read); an odd count ends with a half-used byte
(high nibble 0). The IR keeps int4 weights unpacked (int8 arrays with values in [-8, 7] and
`weight_bits: 4` on the node), which is what the golden models compute with; codegen
stores them packed with `pack_int4`."""
from __future__ import annotations

import numpy as np


def pack_int4(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values).ravel().astype(np.int64)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError(f"int4 values must lie in [-8, 7], got [{v.min()}, {v.max()}]")
    nib = (v & 0xF).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    p = np.asarray(packed, np.uint8)
    nib = np.empty(p.size * 2, np.int16)
    nib[0::2], nib[1::2] = p & 0xF, p >> 4
    return np.where(nib >= 8, nib - 16, nib)[:count].astype(np.int8)
