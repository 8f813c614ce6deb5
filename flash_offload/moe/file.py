"""EKM: the bit-plane expert file of a matryoshka MoE model (layout in docs/moe_matryoshka.md).

One file holds the resident (non-expert) tensors as float32 and, per layer, per expert, per
bit-plane, one 4 KiB-aligned section with a crc32. A plane section holds the serialized
expert plane of quantize.matryoshka (`MatryoshkaExpert.plane_bytes(j)`: the up and down
matrices' plane j, plus the float32 biases in the base plane). The planes of one expert are
adjacent, so planes i..j are one contiguous read. Reading planes 1..k and reconstructing
(`MatryoshkaExpert.from_plane_bytes`) gives exactly the k-bit expert.

    bytes 0..63   fixed header: magic, version, data start, file size, JSON offset/length/crc
    bytes 64..    JSON metadata (config, bits b1..bmax, group size, mode, model hash, sections)
    data start    (4 KiB aligned) resident sections, then l0.e0.p1, l0.e0.p2, ..., each aligned
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.io.direct import open_direct, pread_exact
from edgekiln.flash_offload.io.sections import ALIGN, SectionChecksumError, align_up, atomic_write, crc_hex
from edgekiln.flash_offload.moe.memory import MemoryMeter, PlaneBuffer

MAGIC = b"\x89EKM\r\n\x1a\n"
VERSION = 1
FIXED = struct.Struct("<8sIIQQIII20x")  # 64 bytes


class MoeFileError(InputError):
    """A plane file that is not EKM, too new, truncated or corrupt."""


class MoeChecksumError(MoeFileError, SectionChecksumError):
    pass


@dataclass(frozen=True)
class PlaneSection:
    offset: int
    nbytes: int
    crc32: int

    def to_json(self) -> dict:
        return {"offset": self.offset, "nbytes": self.nbytes, "crc32": crc_hex(self.crc32)}

    @classmethod
    def from_json(cls, d: dict) -> "PlaneSection":
        return cls(int(d["offset"]), int(d["nbytes"]), int(d["crc32"], 16))


def content_hash(config: dict, resident: dict, plane_digests) -> str:
    """sha256 over the config, the resident tensors (sorted by name) and the sha256 of every
    plane in file order: names the quantized model, whatever file it sits in."""
    h = hashlib.sha256(b"ekm-model-v1\0")
    h.update(json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(resident):
        a = np.ascontiguousarray(resident[name], dtype="<f4")
        h.update(name.encode() + b"\0" + struct.pack(f"<Q{a.ndim}Q", a.ndim, *a.shape) + a.tobytes())
    for b in plane_digests:
        h.update(b)
    return h.hexdigest()


def write_moe_file(path, config: dict, resident: dict, experts, group_size: int, mode: str,
                   quant: dict | None = None) -> Path:
    """Write `experts[layer][expert]` (quantize.matryoshka.MatryoshkaExpert, or anything with
    `bits` and `plane_bytes(j)`) and the resident float32 tensors atomically (temp file in the
    same folder, fsync, rename). Every expert must have the same bit-widths."""
    path = Path(path)
    if not experts or not experts[0]:
        raise InputError("no experts: pass experts[layer][expert] = MatryoshkaExpert")
    bits = [int(b) for b in experts[0][0].bits]
    for li, layer in enumerate(experts):
        if len(layer) != len(experts[0]):
            raise InputError(f"layer {li} has {len(layer)} experts, layer 0 has {len(experts[0])}")
        for ei, ex in enumerate(layer):
            if [int(b) for b in ex.bits] != bits:
                raise InputError(f"expert {li}.{ei} has bit-widths {list(ex.bits)}, expert 0.0 has {bits}; "
                                 "quantize every expert with the same configuration")
    # Plan: resident sections, then planes of each expert back to back.
    pos = 0
    res_meta = []
    for name in sorted(resident):
        a = np.asarray(resident[name])
        res_meta.append({"name": name, "shape": list(a.shape), "offset": pos, "nbytes": a.size * 4})
        pos = align_up(pos + a.size * 4)
    plan = []
    for layer in experts:
        row = []
        for ex in layer:
            secs = []
            for k in range(len(bits)):
                n = len(ex.plane_bytes(k))
                secs.append((pos, n))
                pos = align_up(pos + n)
            row.append(secs)
        plan.append(row)
    data_bytes = pos
    meta = {"format": "ekm", "version": VERSION, "config": config, "bits": bits,
            "group_size": int(group_size), "mode": mode, "quant": quant or {},
            "n_layers": len(experts), "n_experts": len(experts[0]),
            "alignment": ALIGN, "model_hash": "0" * 64}
    # Checksums and the hash are fixed width, so placeholders size the header exactly.
    res_out = [dict(r, crc32="0" * 8) for r in res_meta]
    secs_out = [[[PlaneSection(off, n, 0) for off, n in ex] for ex in row] for row in plan]
    start = ALIGN
    while (need := align_up(FIXED.size + len(_meta_json(meta, res_out, secs_out, start)))) > start:
        start = need
    hasher = []
    with atomic_write(path) as fh:
        for r in res_out:
            b = np.ascontiguousarray(resident[r["name"]], dtype="<f4").tobytes()
            fh.seek(start + r["offset"])
            fh.write(b)
            r["crc32"] = crc_hex(zlib.crc32(b))
        for li, layer in enumerate(experts):
            for ei, ex in enumerate(layer):
                for k in range(len(bits)):
                    s = secs_out[li][ei][k]
                    blob = bytes(ex.plane_bytes(k))
                    fh.seek(start + s.offset)
                    fh.write(blob)
                    hasher.append(hashlib.sha256(blob).digest())
                    secs_out[li][ei][k] = PlaneSection(s.offset, s.nbytes, zlib.crc32(blob))
        meta["model_hash"] = content_hash(config, resident, hasher)
        js = _meta_json(meta, res_out, secs_out, start)
        assert FIXED.size + len(js) <= start, "fixed-width header fields changed length"
        fh.truncate(start + data_bytes)  # pads the last section to 4 KiB
        fh.seek(0)
        fh.write(FIXED.pack(MAGIC, VERSION, 0, start, start + data_bytes, FIXED.size, len(js),
                            zlib.crc32(js)))
        fh.write(js)
    return path


def _meta_json(meta: dict, res: list, secs: list, start: int) -> bytes:
    doc = dict(meta, data_start=start,
               resident=[dict(r, offset=r["offset"] + start) for r in res],
               experts=[[[dict(p.to_json(), offset=p.offset + start) for p in planes]
                         for planes in row] for row in secs])
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class MoeFile:
    """Header of an EKM file (metadata, section table); data is read by PlaneReader."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise MoeFileError(f"{self.path}: no such file; create one with `kiln moe pack`")
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            head = fh.read(FIXED.size)
            if len(head) < FIXED.size or head[:8] != MAGIC:
                raise MoeFileError(f"{self.path} is not an EKM bit-plane expert file (bad magic); "
                                   "pack one with `kiln moe pack`")
            _, version, _, start, file_size, js_off, js_len, js_crc = FIXED.unpack(head)
            if version != VERSION:
                raise MoeFileError(f"{self.path} is EKM version {version}; this edgekiln reads "
                                   f"version {VERSION}: re-pack it with `kiln moe pack`")
            if size < file_size:
                raise MoeFileError(f"{self.path} is truncated: {size} of {file_size} bytes; "
                                   "copy it again or re-pack it")
            fh.seek(js_off)
            js = fh.read(js_len)
        if zlib.crc32(js) != js_crc:
            raise MoeChecksumError(f"{self.path}: header checksum mismatch (file corrupt); "
                                   "re-pack it with `kiln moe pack`", "header")
        m = json.loads(js)
        self.meta = m
        self.config: dict = m["config"]
        self.bits: tuple[int, ...] = tuple(m["bits"])
        self.group_size: int = m["group_size"]
        self.mode: str = m["mode"]
        self.model_hash: str = m["model_hash"]
        self.n_layers: int = m["n_layers"]
        self.n_experts: int = m["n_experts"]
        self.file_size = file_size
        self.planes = [[[PlaneSection.from_json(p) for p in ex] for ex in row] for row in m["experts"]]

    @property
    def n_planes(self) -> int:
        return len(self.bits)

    def planes_for_bits(self, bits: int) -> int:
        """How many planes give `bits` (planes 1..k); refuses widths the file does not store."""
        if bits not in self.bits:
            raise InputError(f"bit-width {bits} is outside the stored range: {self.path} holds "
                             f"{list(self.bits)} (planes 1..{len(self.bits)})")
        return self.bits.index(bits) + 1

    def plane(self, layer: int, expert: int, k: int) -> PlaneSection:
        """Plane k (1-based) of one expert."""
        if not (0 <= layer < self.n_layers and 0 <= expert < self.n_experts):
            raise InputError(f"expert {layer}.{expert} outside {self.n_layers} layers x "
                             f"{self.n_experts} experts")
        if not 1 <= k <= self.n_planes:
            raise InputError(f"plane {k} outside 1..{self.n_planes} of {self.path}")
        return self.planes[layer][expert][k - 1]

    def plane_bytes(self, layer: int, expert: int, k: int) -> int:
        """Memory one plane occupies once loaded (its aligned buffer)."""
        return align_up(self.plane(layer, expert, k).nbytes)

    def expert_bytes(self, layer: int, expert: int, k: int) -> int:
        """Memory of planes 1..k of one expert, loaded as one buffer."""
        a, b = self.plane(layer, expert, 1), self.plane(layer, expert, k)
        return align_up(b.offset + b.nbytes - a.offset)

    def max_plane_bytes(self, k: int) -> int:
        return max(self.plane_bytes(li, e, k) for li in range(self.n_layers) for e in range(self.n_experts))

    def max_expert_bytes(self, k: int) -> int:
        return max(self.expert_bytes(li, e, k) for li in range(self.n_layers) for e in range(self.n_experts))

    def experts_payload_bytes(self, k: int | None = None) -> int:
        """Bytes of planes 1..k (all planes by default) of every expert, without padding."""
        k = k or self.n_planes
        return sum(p.nbytes for row in self.planes for ex in row for p in ex[:k])

    def resident(self) -> dict[str, np.ndarray]:
        out = {}
        with open(self.path, "rb") as fh:
            for r in self.meta["resident"]:
                fh.seek(r["offset"])
                b = fh.read(r["nbytes"])
                if len(b) != r["nbytes"] or zlib.crc32(b) != int(r["crc32"], 16):
                    raise MoeChecksumError(f"{self.path}: checksum mismatch in resident tensor "
                                           f"{r['name']!r} (file corrupt); re-pack it", r["name"])
                out[r["name"]] = np.frombuffer(b, dtype="<f4").reshape(r["shape"]).astype(np.float32)
        return out

    def verify(self) -> None:
        """Check every section's crc32 (raises MoeChecksumError naming the first bad one)."""
        self.resident()
        with PlaneReader(self, direct=False) as rd:
            for li in range(self.n_layers):
                for e in range(self.n_experts):
                    rd.read_planes(li, e, 1, self.n_planes).release()


class LoadedPlanes:
    """Planes first..last of one expert in one aligned buffer; blob(k) gives plane k's bytes.
    release() frees the buffer (and its meter count)."""

    def __init__(self, buf: PlaneBuffer, sections: list[PlaneSection], first: int, base: int):
        self.buffer, self.sections, self.first, self.base = buf, sections, first, base

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes

    def blob(self, k: int) -> memoryview:
        s = self.sections[k - self.first]
        return self.buffer.view(s.offset - self.base, s.offset - self.base + s.nbytes)

    def release(self) -> None:
        self.buffer.release()


class PlaneReader:
    """pread planes of experts into metered, page-aligned buffers (O_DIRECT when possible).
    Thread-safe: preadv is positional, counters are locked."""

    def __init__(self, mf: MoeFile | str | os.PathLike, direct: bool = True, check: bool = True):
        self.file = mf if isinstance(mf, MoeFile) else MoeFile(mf)
        self.check = check
        self._fd_buffered = os.open(self.file.path, os.O_RDONLY)
        self._fd_direct = open_direct(self.file.path) if direct else None
        self.direct = self._fd_direct is not None
        self.cold = direct
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.n_reads = 0

    def read_planes(self, layer: int, expert: int, first: int, last: int,
                    meter: MemoryMeter | None = None) -> LoadedPlanes:
        """Planes first..last (1-based, inclusive) of one expert in one read, crc-checked."""
        if not 1 <= first <= last <= self.file.n_planes:
            raise InputError(f"planes {first}..{last} outside 1..{self.file.n_planes}")
        a, b = self.file.plane(layer, expert, first), self.file.plane(layer, expert, last)
        buf = PlaneBuffer(b.offset + b.nbytes - a.offset, meter)
        return self.read_into(buf, layer, expert, first, last)

    def read_into(self, buf: PlaneBuffer, layer: int, expert: int, first: int,
                  last: int | None = None) -> LoadedPlanes:
        """Read planes first..last (default: first only) into `buf`, which the caller
        allocated (and counted) beforehand; buf is released on error."""
        last = first if last is None else last
        try:
            secs = [self.file.plane(layer, expert, k) for k in range(first, last + 1)]
            start = secs[0].offset  # sections are 4 KiB aligned
            n = align_up(secs[-1].offset + secs[-1].nbytes) - start
            if buf.nbytes < n:
                raise InputError(f"plane buffer of {buf.nbytes} bytes is smaller than the {n} to read")
            self._pread(buf, start, n)
            if self.check:
                for k, s in zip(range(first, last + 1), secs):
                    if zlib.crc32(buf.view(s.offset - start, s.offset - start + s.nbytes)) != s.crc32:
                        raise MoeChecksumError(
                            f"{self.file.path}: checksum mismatch in plane {k} of expert "
                            f"{layer}.{expert} (file corrupt or inconsistent); re-pack it with "
                            "`kiln moe pack`", f"l{layer}.e{expert}.p{k}")
        except BaseException:
            buf.release()
            raise
        return LoadedPlanes(buf, secs, first, start)

    def _pread(self, buf: PlaneBuffer, offset: int, n: int) -> None:
        fd = self._fd_direct if self.direct else self._fd_buffered
        if self.cold and not self.direct and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd_buffered, offset, n, os.POSIX_FADV_DONTNEED)
        pread_exact(fd, buf.view(0, n), offset, self.file.path, self.file.file_size, MoeFileError)
        with self._lock:
            self.bytes_read += n
            self.n_reads += 1

    def close(self) -> None:
        if self._fd_direct is not None:
            os.close(self._fd_direct)
        os.close(self._fd_buffered)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
