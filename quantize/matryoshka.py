"""Matryoshka (bit-nested) weights: one stored copy, read 1..k planes to get the k-bit matrix.

Two modes, kept apart because they nest differently:

* ``mwq`` - D²MoE's matryoshka weight quantization. Plane 1 is a b1-bit asymmetric per-group
  base whose clipping is chosen to minimise the output error on calibration activations;
  plane j > 1 is a +-1 residual ``Q_j = sign(W - W_{j-1})`` with its own per-group scale
  ``s_j = mean |W - W_{j-1}|`` (the least-squares optimum for a sign plane), so
  ``W_k = W_b1 + sum_j s_j Q_j``. Configurations 2->4 and 5->8 bits (MWQ_CONFIGS).
* ``slice`` - MatQuant-style: an int8 min/max code with one shared scale and zero-point per
  group; plane 1 holds its top ``b_min`` bits, each later plane the next bit. k bits decode
  as the centre of the int8 bin range the top k bits select.

W is (out, in) as in y = x @ W.T; groups run along the input dimension. A Plane is what one
read brings in: a packed payload (codes or sign bits) and small float32 per-group arrays.
Reconstruction repeats the quantizer's float32 operations in the same order, so reading
planes 1..k equals the k-bit matrix the quantizer computed, bit for bit.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from edgekiln.errors import InputError, ModelLoadError

from .group_quant import (check_weight, clipped_params, dequantize, expand, grouped, minmax_params,
                          quantize_codes)

MWQ_CONFIGS = {"2-4": (2, 4), "5-8": (5, 8)}
BASE_KINDS = {"mwq_base": "mwq_sign", "slice_base": "slice_bit"}  # base kind -> its later planes
KINDS = ("mwq_base", "mwq_sign", "slice_base", "slice_bit")
SLICE_CODE_BITS = 8
_MAGIC = b"EKMP"
_VERSION = 1
# magic, version, kind, code_bits, bits, rows, cols, group, n_scales, n_zeros, payload, crc32
_HEADER = struct.Struct("<4sHBBBxxxIIIIIII")


def _packed_len(rows: int, cols: int, code_bits: int) -> int:
    return code_bits * ((rows * cols + 7) // 8)


def pack_codes(codes: np.ndarray, code_bits: int) -> bytes:
    """Unsigned codes < 2^code_bits -> bit-sliced bytes, most significant bit first."""
    c = np.asarray(codes, np.uint8).ravel()
    return b"".join(np.packbits((c >> b) & 1).tobytes() for b in range(code_bits - 1, -1, -1))


def unpack_codes(payload: bytes, rows: int, cols: int, code_bits: int) -> np.ndarray:
    n, step = rows * cols, (rows * cols + 7) // 8
    buf = np.frombuffer(payload, np.uint8)
    out = np.zeros(n, np.uint8)
    for j in range(code_bits):
        out = (out << 1) | np.unpackbits(buf[j * step:(j + 1) * step], count=n)
    return out.reshape(rows, cols)


@dataclass
class Plane:
    """One bit-plane of one matrix. `bits` is the bit-width reached once this plane is read."""

    kind: str
    bits: int
    code_bits: int  # bits per weight in `payload` (b1 for a base, 1 for later planes)
    rows: int
    cols: int
    group: int
    payload: bytes
    scales: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    zeros: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __post_init__(self):
        self.scales = np.ascontiguousarray(self.scales, np.float32)
        self.zeros = np.ascontiguousarray(self.zeros, np.float32)
        if self.kind not in KINDS:
            raise InputError(f"plane kind {self.kind!r} is not one of {KINDS}")
        if self.rows <= 0 or self.cols <= 0 or self.group <= 0 or self.cols % self.group:
            raise InputError(f"plane shape ({self.rows}, {self.cols}) with group {self.group}: "
                             "the group must divide the input dimension")
        if not 1 <= self.code_bits <= self.bits <= SLICE_CODE_BITS:
            raise InputError(f"plane of {self.code_bits} code bits reaching {self.bits} bits: need 1 <= code_bits <= bits <= 8")
        if self.kind in ("mwq_sign", "slice_bit") and self.code_bits != 1:
            raise InputError(f"a {self.kind} plane holds 1 bit per weight, not {self.code_bits}")
        want = _packed_len(self.rows, self.cols, self.code_bits)
        if len(self.payload) != want:
            raise InputError(f"{self.kind} plane payload is {len(self.payload)} bytes; "
                             f"({self.rows}, {self.cols}) at {self.code_bits} bits needs {want}")
        gshape = (self.rows, self.cols // self.group)
        need_s = self.kind != "slice_bit"
        need_z = self.kind in ("mwq_base", "slice_base")
        for name, arr, need in (("scales", self.scales, need_s), ("zeros", self.zeros, need_z)):
            if need and arr.shape != gshape:
                raise InputError(f"{self.kind} plane {name} have shape {arr.shape}, expected {gshape} (rows, groups)")
            if not need and arr.size:
                raise InputError(f"a {self.kind} plane carries no {name}, got {arr.shape}")

    @property
    def nbytes(self) -> int:
        """Bytes of the serialized plane (what a read of it costs)."""
        return _HEADER.size + 4 * (self.scales.size + self.zeros.size) + len(self.payload)

    def to_bytes(self) -> bytes:
        body = self.scales.astype("<f4").tobytes() + self.zeros.astype("<f4").tobytes() + self.payload
        head = _HEADER.pack(_MAGIC, _VERSION, KINDS.index(self.kind), self.code_bits, self.bits, self.rows,
                            self.cols, self.group, self.scales.size, self.zeros.size, len(self.payload), 0)
        crc = zlib.crc32(head[:-4] + body)
        return head[:-4] + struct.pack("<I", crc) + body

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "Plane":
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise ModelLoadError(f"matryoshka plane of {len(data)} bytes is shorter than its {_HEADER.size}-byte header")
        magic, ver, kind, cbits, bits, rows, cols, group, ns, nz, npay, crc = _HEADER.unpack_from(data)
        if magic != _MAGIC or ver != _VERSION:
            raise ModelLoadError(f"not a matryoshka plane (magic {magic!r}, version {ver}); expected {_MAGIC!r} v{_VERSION}")
        if len(data) != _HEADER.size + 4 * (ns + nz) + npay:
            raise ModelLoadError(f"matryoshka plane is {len(data)} bytes, its header describes "
                                 f"{_HEADER.size + 4 * (ns + nz) + npay}; the file is truncated or mis-sliced")
        if zlib.crc32(data[:_HEADER.size - 4] + data[_HEADER.size:]) != crc:
            raise ModelLoadError("matryoshka plane checksum mismatch; the weight file is corrupt, re-pack it")
        if kind >= len(KINDS) or group == 0 or cols % group:
            raise ModelLoadError(f"matryoshka plane header is inconsistent (kind {kind}, cols {cols}, group {group})")
        o = _HEADER.size
        gshape = (rows, cols // group)
        sc = np.frombuffer(data, "<f4", ns, o).astype(np.float32)
        zs = np.frombuffer(data, "<f4", nz, o + 4 * ns).astype(np.float32)
        try:
            return cls(KINDS[kind], bits, cbits, rows, cols, group, data[o + 4 * (ns + nz):],
                       sc.reshape(gshape) if ns else sc.reshape(0, 0), zs.reshape(gshape) if nz else zs.reshape(0, 0))
        except (ValueError, InputError) as e:
            raise ModelLoadError(f"matryoshka plane header is inconsistent: {e}") from e


def check_planes(planes: Sequence[Plane]) -> None:
    """Raise InputError unless `planes` are a base followed by its consecutive later planes."""
    if not planes:
        raise InputError("no planes given: a matryoshka weight needs at least its base plane")
    base = planes[0]
    if not isinstance(base, Plane) or base.kind not in BASE_KINDS:
        raise InputError(f"the first plane must be a base plane ({sorted(BASE_KINDS)}), got "
                         f"{getattr(base, 'kind', type(base).__name__)!r}")
    for j, p in enumerate(planes[1:], 1):
        if not isinstance(p, Plane) or p.kind != BASE_KINDS[base.kind]:
            raise InputError(f"plane {j} is {getattr(p, 'kind', type(p).__name__)!r}; after a {base.kind} "
                             f"every plane must be {BASE_KINDS[base.kind]}")
        if (p.rows, p.cols, p.group) != (base.rows, base.cols, base.group):
            raise InputError(f"plane {j} is ({p.rows}, {p.cols}) group {p.group}; the base is "
                             f"({base.rows}, {base.cols}) group {base.group}")
        if p.bits != base.bits + j:
            raise InputError(f"plane {j} reaches {p.bits} bits; planes must go up one bit at a time "
                             f"from the base's {base.bits} (expected {base.bits + j})")


def slice_dequant(codes_k: np.ndarray, k: int, s: np.ndarray, z: np.ndarray, group: int) -> np.ndarray:
    """Top-k-bit slice of int8 codes -> float32 at the centre of the int8 bins it selects."""
    if k == SLICE_CODE_BITS:
        return dequantize(codes_k, s, z, group)
    shift = SLICE_CODE_BITS - k
    c = codes_k.astype(np.float32) * np.float32(2 ** shift) + np.float32(2 ** (shift - 1))
    return ((c - expand(z, group)) * expand(s, group)).astype(np.float32)


def reconstruct(planes: Sequence[Plane]) -> np.ndarray:
    """The float32 (out, in) matrix at planes[-1].bits from planes 1..k (validated)."""
    check_planes(planes)
    base = planes[0]
    codes = unpack_codes(base.payload, base.rows, base.cols, base.code_bits)
    if base.kind == "slice_base":
        for p in planes[1:]:
            codes = (codes << 1) | unpack_codes(p.payload, p.rows, p.cols, 1)
        return slice_dequant(codes, planes[-1].bits, base.scales, base.zeros, base.group)
    W = dequantize(codes, base.scales, base.zeros, base.group)
    for p in planes[1:]:
        W = add_sign_plane(W, unpack_codes(p.payload, p.rows, p.cols, 1), p.scales, p.group)
    return W


def add_sign_plane(W: np.ndarray, bits01: np.ndarray, s: np.ndarray, group: int) -> np.ndarray:
    """W + s * Q with Q = +1 where the bit is set, -1 elsewhere (float32)."""
    Q = bits01.astype(np.float32) * np.float32(2) - np.float32(1)
    return (W + expand(s, group) * Q).astype(np.float32)


@dataclass
class MatryoshkaWeight:
    """A matrix stored as nested bit-planes; `planes[j]` reaches `bits[j]` bits."""

    planes: list[Plane]

    def __post_init__(self):
        check_planes(self.planes)

    @property
    def mode(self) -> str:
        return "mwq" if self.planes[0].kind == "mwq_base" else "slice"

    @property
    def bits(self) -> tuple[int, ...]:
        return tuple(p.bits for p in self.planes)

    @property
    def shape(self) -> tuple[int, int]:
        return self.planes[0].rows, self.planes[0].cols

    @property
    def group(self) -> int:
        return self.planes[0].group

    def n_planes(self, bits: int) -> int:
        """How many planes give `bits` bits; InputError outside the stored range."""
        if not isinstance(bits, (int, np.integer)) or bits not in self.bits:
            raise InputError(f"bit-width {bits} is outside the stored range {self.bits[0]}..{self.bits[-1]} "
                             f"of this {self.mode} weight")
        return self.bits.index(bits) + 1

    def reconstruct(self, bits: int | None = None) -> np.ndarray:
        return reconstruct(self.planes[:self.n_planes(self.bits[-1] if bits is None else bits)])

    def nbytes(self, bits: int | None = None) -> int:
        """Serialized bytes of the planes needed for `bits` (all planes by default)."""
        return sum(p.nbytes for p in self.planes[:self.n_planes(self.bits[-1] if bits is None else bits)])

    def to_bytes(self) -> list[bytes]:
        return [p.to_bytes() for p in self.planes]

    @classmethod
    def from_bytes(cls, blobs: Sequence[bytes]) -> "MatryoshkaWeight":
        return cls([Plane.from_bytes(b) for b in blobs])


def quantize_mwq(W: np.ndarray, X: np.ndarray | None = None, base_bits: int = 2, max_bits: int = 4,
                 group: int = 64) -> MatryoshkaWeight:
    """D²MoE MWQ: output-aware b1-bit base (clipping searched on X), then sign residual planes."""
    W = check_weight(W, group, base_bits, X)
    if not (isinstance(max_bits, (int, np.integer)) and base_bits <= max_bits <= SLICE_CODE_BITS):
        raise InputError(f"max_bits {max_bits} must lie in base_bits..8 = {base_bits}..8")
    rows, cols = W.shape
    s, z = clipped_params(W, base_bits, group, X)
    codes = quantize_codes(W, s, z, base_bits, group)
    planes = [Plane("mwq_base", base_bits, base_bits, rows, cols, group, pack_codes(codes, base_bits), s, z)]
    Wk = dequantize(codes, s, z, group)
    for k in range(base_bits + 1, max_bits + 1):
        R = W - Wk
        sk = np.abs(grouped(R, group)).mean(axis=2).astype(np.float32)
        bits01 = (R >= 0).astype(np.uint8)
        planes.append(Plane("mwq_sign", k, 1, rows, cols, group, pack_codes(bits01, 1), sk))
        Wk = add_sign_plane(Wk, bits01, sk, group)
    return MatryoshkaWeight(planes)


def slice_codes(W: np.ndarray, group: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The int8 (unsigned 0..255) min/max codes MatQuant slices, with their scale and zero-point."""
    W = check_weight(W, group)
    Wg = grouped(W, group)
    s, z = minmax_params(Wg.min(axis=2), Wg.max(axis=2), SLICE_CODE_BITS)
    return quantize_codes(W, s, z, SLICE_CODE_BITS, group), s, z


def quantize_slice(W: np.ndarray, min_bits: int = 2, max_bits: int = SLICE_CODE_BITS,
                   group: int = 64) -> MatryoshkaWeight:
    """MatQuant-style slicing: top min_bits of the int8 code as the base, one bit per later plane."""
    if not (isinstance(min_bits, (int, np.integer)) and isinstance(max_bits, (int, np.integer))
            and 1 <= min_bits <= max_bits <= SLICE_CODE_BITS):
        raise InputError(f"slice bit-widths {min_bits}..{max_bits} must satisfy 1 <= min <= max <= 8")
    codes, s, z = slice_codes(W, group)
    rows, cols = codes.shape
    top = codes >> (SLICE_CODE_BITS - min_bits)
    planes = [Plane("slice_base", min_bits, min_bits, rows, cols, group, pack_codes(top, min_bits), s, z)]
    for k in range(min_bits + 1, max_bits + 1):
        bit = (codes >> (SLICE_CODE_BITS - k)) & 1
        planes.append(Plane("slice_bit", k, 1, rows, cols, group, pack_codes(bit, 1)))
    return MatryoshkaWeight(planes)


def quantize_matryoshka(W: np.ndarray, X: np.ndarray | None = None, mode: str = "mwq", min_bits: int = 2,
                        max_bits: int = 4, group: int = 64) -> MatryoshkaWeight:
    """Either mode by name (`mwq` uses X; `slice` ignores it)."""
    if mode == "mwq":
        return quantize_mwq(W, X, min_bits, max_bits, group)
    if mode == "slice":
        return quantize_slice(W, min_bits, max_bits, group)
    raise InputError(f"matryoshka mode {mode!r} is not 'mwq' or 'slice'")


# -- experts: the up and down matrices of one ReLU FFN, plane by plane ---------------------------
_EXPERT = struct.Struct("<4sBxxxIIIII")  # magic, has_bias, len_up, len_down, f, d, crc32
_EXPERT_MAGIC = b"EKXP"


@dataclass
class MatryoshkaExpert:
    """An expert y = relu(h @ up.T + b_up) @ down + b_down as nested planes.

    `up` stores the (f, d) up matrix; `down` stores down.T, (d, f), so its groups also run along
    its input (f). Expert plane j is up plane j + down plane j; plane 0 also carries the float32
    biases, so reading expert planes 0..j gives the whole expert at bits[j].
    """

    up: MatryoshkaWeight
    down: MatryoshkaWeight
    b_up: np.ndarray
    b_down: np.ndarray

    def __post_init__(self):
        f, d = self.up.shape
        self.b_up = np.ascontiguousarray(self.b_up, np.float32)
        self.b_down = np.ascontiguousarray(self.b_down, np.float32)
        if self.down.shape != (d, f):
            raise InputError(f"expert down planes are {self.down.shape}; with up {self.up.shape} they must be (d, f) = {(d, f)}")
        if self.up.bits != self.down.bits or self.up.mode != self.down.mode:
            raise InputError(f"expert up ({self.up.mode} {self.up.bits}) and down ({self.down.mode} {self.down.bits}) "
                             "planes must have the same mode and bit-widths")
        if self.b_up.shape != (f,) or self.b_down.shape != (d,):
            raise InputError(f"expert biases are {self.b_up.shape} and {self.b_down.shape}; expected ({f},) and ({d},)")

    @property
    def bits(self) -> tuple[int, ...]:
        return self.up.bits

    @property
    def n_planes(self) -> int:
        return len(self.up.planes)

    def weights(self, bits: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(up (f, d), b_up, down (f, d), b_down) at `bits` (the highest stored by default)."""
        return self.up.reconstruct(bits), self.b_up, np.ascontiguousarray(self.down.reconstruct(bits).T), self.b_down

    def plane_bytes(self, j: int) -> bytes:
        """Serialized expert plane j (0 = base with biases)."""
        if not 0 <= j < self.n_planes:
            raise InputError(f"expert plane {j} outside 0..{self.n_planes - 1}")
        up, down = self.up.planes[j].to_bytes(), self.down.planes[j].to_bytes()
        bias = self.b_up.astype("<f4").tobytes() + self.b_down.astype("<f4").tobytes() if j == 0 else b""
        f, d = self.up.shape
        head = _EXPERT.pack(_EXPERT_MAGIC, int(j == 0), len(up), len(down), f, d, 0)
        crc = zlib.crc32(head[:-4] + up + down + bias)
        return head[:-4] + struct.pack("<I", crc) + up + down + bias

    def plane_nbytes(self, j: int) -> int:
        f, d = self.up.shape
        return (_EXPERT.size + self.up.planes[j].nbytes + self.down.planes[j].nbytes
                + (4 * (f + d) if j == 0 else 0))

    def nbytes(self, bits: int | None = None) -> int:
        """Serialized bytes of the expert planes needed for `bits` (all by default)."""
        return sum(self.plane_nbytes(j) for j in range(self.up.n_planes(self.bits[-1] if bits is None else bits)))

    @classmethod
    def from_plane_bytes(cls, blobs: Sequence[bytes]) -> "MatryoshkaExpert":
        """Rebuild from expert planes 0..j (any prefix); checksums and consistency checked."""
        ups, downs, biases = [], [], None
        for j, raw in enumerate(blobs):
            raw = bytes(raw)
            if len(raw) < _EXPERT.size:
                raise ModelLoadError(f"expert plane {j} is {len(raw)} bytes, shorter than its header")
            magic, has_bias, lu, ld, f, d, crc = _EXPERT.unpack_from(raw)
            if magic != _EXPERT_MAGIC:
                raise ModelLoadError(f"expert plane {j} has magic {magic!r}, expected {_EXPERT_MAGIC!r}")
            if has_bias != (j == 0) or len(raw) != _EXPERT.size + lu + ld + (4 * (f + d) if has_bias else 0):
                raise ModelLoadError(f"expert plane {j} is inconsistent (bias flag {has_bias}, {len(raw)} bytes); "
                                     "planes must be given in order starting at the base")
            if zlib.crc32(raw[:_EXPERT.size - 4] + raw[_EXPERT.size:]) != crc:
                raise ModelLoadError(f"expert plane {j} checksum mismatch; the weight file is corrupt, re-pack it")
            o = _EXPERT.size
            ups.append(Plane.from_bytes(raw[o:o + lu]))
            downs.append(Plane.from_bytes(raw[o + lu:o + lu + ld]))
            if has_bias:
                b = np.frombuffer(raw, "<f4", f + d, o + lu + ld).astype(np.float32)
                biases = (b[:f], b[f:])
        if biases is None:
            raise ModelLoadError("no expert planes given; the base plane (with the biases) comes first")
        return cls(MatryoshkaWeight(ups), MatryoshkaWeight(downs), *biases)


def quantize_expert(up: np.ndarray, b_up: np.ndarray, down: np.ndarray, b_down: np.ndarray,
                    X: np.ndarray | None = None, mode: str = "mwq", min_bits: int = 2, max_bits: int = 4,
                    group: int = 64) -> MatryoshkaExpert:
    """Quantize one expert. X (n, d) are the expert's calibration inputs (the tokens routed to
    it); the down matrix is calibrated on the full-precision hidden activations relu(X up^T + b_up)."""
    up = np.asarray(up, np.float32)
    down = np.asarray(down, np.float32)
    if up.ndim != 2 or down.shape != up.shape:
        raise InputError(f"expert up {up.shape} and down {down.shape} must both be (f, d)")
    A = None if X is None else np.maximum(np.asarray(X, np.float32) @ up.T + b_up, 0)
    return MatryoshkaExpert(quantize_matryoshka(up, X, mode, min_bits, max_bits, group),
                            quantize_matryoshka(down.T, A, mode, min_bits, max_bits, group), b_up, b_down)
