"""How FFN neuron rows are stored in an .ekf file: float32, float16, or int8 with per-row scales.

In DRAM a neuron is always one float32 row of `width` columns (the canonical row):
    [up (d) | down (d) | b_up (1) | lin (d, gated FFN only)]
On flash a codec lays out the same fields in a fixed number of bytes per row:
    float32  [up f32 | down f32 | b_up f32 | lin f32]          (version 1's bundle, lin added)
    float16  [b_up f32 | up f16 | down f16 | lin f16]
    int8     [b_up f32 | s_up f32 | s_down f32 | s_lin f32 | up i8 | down i8 | lin i8]
where int8 rows are symmetric per row: value = q * s, s = max|row| / 127. Split sections
("up", "down", "lin") hold one vector per row ([s f32 | i8 d] for int8); "b_up" is float32.
Every row is padded to a multiple of 4 bytes. encode -> decode is the model the file holds
(what the engine computes and the model hash covers).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekiln.errors import InputError

STORAGES = ("float32", "float16", "int8")
ALIASES = {"f32": "float32", "fp32": "float32", "f16": "float16", "fp16": "float16", "i8": "int8"}
VECTORS = ("up", "down", "lin")
F16_MAX = 65504.0


def storage_name(s: str) -> str:
    name = ALIASES.get(s, s)
    if name not in STORAGES:
        raise InputError(f"unknown storage {s!r}: use one of f32, fp16, int8")
    return name


def row_width(d: int, gated: bool) -> int:
    return 2 * d + 1 + (d if gated else 0)


def _col(name: str, d: int) -> int:
    return {"up": 0, "down": d, "b_up": 2 * d, "lin": 2 * d + 1}[name]


@dataclass(frozen=True)
class Field:
    name: str      # up, down, lin, b_up
    col: int       # first column in the canonical row
    count: int     # d or 1
    dtype: str     # "<f4", "<f2", "i1"
    offset: int    # byte offset in the stored row
    scale: int     # byte offset of the int8 scale, -1 if none


class RowCodec:
    """Encode/decode rows of one part: "bundled" (every field) or one split section."""

    def __init__(self, storage: str, d: int, gated: bool, part: str = "bundled"):
        self.storage, self.d, self.gated, self.part = storage_name(storage), d, gated, part
        vecs = [v for v in VECTORS if v != "lin" or gated]
        names = vecs + ["b_up"] if part == "bundled" else [part]
        if part not in ("bundled", "b_up", *vecs):
            raise InputError(f"no row part {part!r} in a {'gated' if gated else 'ReLU'} FFN")
        fields: list[Field] = []
        at = 0
        vdt = {"float32": "<f4", "float16": "<f2", "int8": "i1"}[self.storage]
        if self.storage == "float32":  # version 1's order: up | down | b_up, then lin
            order = [n for n in ("up", "down", "b_up", "lin") if n in names]
            for n in order:
                cnt = 1 if n == "b_up" else d
                fields.append(Field(n, _col(n, d), cnt, "<f4", at, -1))
                at += 4 * cnt
        else:
            if "b_up" in names:
                fields.append(Field("b_up", _col("b_up", d), 1, "<f4", 0, -1))
                at = 4
            vs = [n for n in names if n != "b_up"]
            scale_at = {}
            if self.storage == "int8":
                for n in vs:
                    scale_at[n] = at
                    at += 4
            for n in vs:
                fields.append(Field(n, _col(n, d), d, vdt, at, scale_at.get(n, -1)))
                at += d * np.dtype(vdt).itemsize
        self.fields = fields
        self.row_bytes = -(-at // 4) * 4

    @property
    def columns(self) -> list[tuple[int, int]]:
        return [(f.col, f.count) for f in self.fields]

    def encode(self, canon: np.ndarray) -> np.ndarray:
        """(n, width) float32 canonical rows -> (n, row_bytes) uint8 stored rows."""
        n = canon.shape[0]
        out = np.zeros((n, self.row_bytes), np.uint8)
        for f in self.fields:
            v = np.ascontiguousarray(canon[:, f.col:f.col + f.count], dtype=np.float32)
            if f.dtype == "<f2":
                big = np.abs(v).max(initial=0.0)
                if big > F16_MAX:
                    raise InputError(f"a weight of {big:.4g} does not fit float16 (max {F16_MAX:g}); "
                                     "store the model as f32 or int8")
                b = v.astype("<f2")
            elif f.dtype == "i1":
                s = np.abs(v).max(axis=1) / 127.0
                s = np.where(s > 0, s, 1.0).astype("<f4")
                b = np.clip(np.rint(v / s[:, None]), -127, 127).astype("i1")
                out[:, f.scale:f.scale + 4] = s.view(np.uint8).reshape(n, 4)
            else:
                b = v.astype("<f4")
            out[:, f.offset:f.offset + b.itemsize * f.count] = b.view(np.uint8).reshape(n, -1)
        return out

    def decode(self, raw: np.ndarray, dst: np.ndarray) -> None:
        """(n, >= row_bytes) uint8 stored rows -> the canonical columns of dst (n, width)."""
        for f in self.fields:
            size = np.dtype(f.dtype).itemsize * f.count
            v = np.ascontiguousarray(raw[:, f.offset:f.offset + size]).view(f.dtype)
            if f.scale >= 0:
                s = np.ascontiguousarray(raw[:, f.scale:f.scale + 4]).view("<f4")
                dst[:, f.col:f.col + f.count] = v * s
            else:
                dst[:, f.col:f.col + f.count] = v


def canonical(up, b_up, down, lin=None) -> np.ndarray:
    """(f, width) float32 canonical rows of one layer's FFN."""
    f, d = np.shape(up)
    out = np.zeros((f, row_width(d, lin is not None)), np.float32)
    out[:, :d], out[:, d:2 * d], out[:, 2 * d] = up, down, b_up
    if lin is not None:
        out[:, 2 * d + 1:] = lin
    return out


def split_canonical(rows: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
    """Canonical rows -> (up, b_up, down[, lin]) copies."""
    parts = (rows[:, :d].copy(), rows[:, 2 * d].copy(), rows[:, d:2 * d].copy())
    return parts + ((rows[:, 2 * d + 1:].copy(),) if rows.shape[1] > 2 * d + 1 else ())


def stored_ffn(ffn: list, storage: str) -> list[tuple[np.ndarray, ...]]:
    """The FFN as a file of this storage holds it (encode then decode; float32 unchanged)."""
    storage = storage_name(storage)
    if storage == "float32":
        return [tuple(np.asarray(a, np.float32) for a in layer) for layer in ffn]
    out = []
    for layer in ffn:
        d = np.shape(layer[0])[1]
        c = canonical(*layer)
        codec = RowCodec(storage, d, len(layer) == 4)
        back = np.zeros_like(c)
        codec.decode(codec.encode(c), back)
        out.append(split_canonical(back, d))
    return out
