"""Window geometry shared by the float and int8 golden models: channel-last tensors
(N, *spatial, C) with 1 or 2 spatial dims, pads [begin..., end...] per spatial dim."""
from __future__ import annotations

import numpy as np


def as_2d(x: np.ndarray) -> np.ndarray:
    """(N, L, C) -> (N, 1, L, C); (N, H, W, C) unchanged."""
    return x[:, None] if x.ndim == 3 else x


def out_size(size: int, k: int, stride: int, dilation: int, pad_begin: int, pad_end: int) -> int:
    return (size + pad_begin + pad_end - ((k - 1) * dilation + 1)) // stride + 1


def pads_2d(pads: list[int], rank: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from IR pads of a 1-D or 2-D window."""
    if rank == 1:
        return 0, pads[0], 0, pads[1]
    return pads[0], pads[1], pads[2], pads[3]


def patches(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int], dilations: tuple[int, int],
            pads: tuple[int, int, int, int], fill=0) -> np.ndarray:
    """(N, OH, OW, KH, KW, C) windows of an (N, H, W, C) tensor padded with `fill`."""
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    oh = out_size(x.shape[1], kh, sh, dh, top, bottom)
    ow = out_size(x.shape[2], kw, sw, dw, left, right)
    iy = (np.arange(oh) * sh)[:, None] + np.arange(kh) * dh  # (OH, KH)
    ix = (np.arange(ow) * sw)[:, None] + np.arange(kw) * dw  # (OW, KW)
    return xp[:, iy[:, None, :, None], ix[None, :, None, :], :]


def conv_accumulate(x: np.ndarray, w: np.ndarray, attrs: dict, fill=0) -> np.ndarray:
    """sum over taps of x * w for a channel-last conv; w is (O, *K, I/group). The dtype of
    the sum is that of x and w (int64 for the integer kernels, float64 for float)."""
    rank = x.ndim - 2
    x2, w2 = as_2d(x), (w[:, None] if rank == 1 else w)
    strides = tuple(attrs.get("strides", [1] * rank))
    dilations = tuple(attrs.get("dilations", [1] * rank))
    if rank == 1:
        strides, dilations = (1, strides[0]), (1, dilations[0])
    pads = pads_2d(attrs.get("pads", [0] * 2 * rank), rank)
    p = patches(x2, w2.shape[1:3], strides, dilations, pads, fill)  # N, OH, OW, KH, KW, C
    group = int(attrs.get("group", 1))
    o, kh, kw, cg = w2.shape
    n, oh, ow = p.shape[:3]
    p = p.reshape(n, oh, ow, kh, kw, group, cg)
    wg = w2.reshape(group, o // group, kh, kw, cg)
    acc = np.einsum("nyxijgc,goijc->nyxgo", p, wg, optimize=True).reshape(n, oh, ow, o)
    return acc[:, 0] if rank == 1 else acc


def pool(x: np.ndarray, attrs: dict, kind: str, fill=0):
    """(windows reduced by max, or (sum, count) for average) of a channel-last pool."""
    rank = x.ndim - 2
    kernel = list(attrs["kernel"])
    strides = list(attrs.get("strides", kernel))
    pads = pads_2d(attrs.get("pads", [0] * 2 * rank), rank)
    if rank == 1:
        kernel, strides = [1, kernel[0]], [1, strides[0]]
    x2 = as_2d(x)
    squeeze = (lambda a: a[:, 0]) if rank == 1 else (lambda a: a)
    if kind == "max":
        lowest = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        p = patches(x2, tuple(kernel), tuple(strides), (1, 1), pads, lowest)
        return squeeze(p.max(axis=(3, 4)))
    p = patches(x2, tuple(kernel), tuple(strides), (1, 1), pads, fill)
    ones = np.ones(x2.shape[:3] + (1,), dtype=np.int64)
    count = patches(ones, tuple(kernel), tuple(strides), (1, 1), pads, 0).sum(axis=(3, 4))
    if attrs.get("count_include_pad"):
        count = np.full_like(count, kernel[0] * kernel[1])
    return squeeze(p.sum(axis=(3, 4))), squeeze(count)
