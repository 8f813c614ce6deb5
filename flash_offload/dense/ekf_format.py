"""EKF: the bundled weight file of flash_offload (byte layout in docs/flash_offload_format.md).

One file holds a decoder LM: the DRAM-resident tensors, and per layer the FFN neurons in
the "bundled" layout (bundle j = [up row j | down row j | b_up j (| lin row j)], fixed
stride) and/or the "split" layout (up, down, b_up (, lin) as separate sections), stored as
float32, float16 or int8 with per-row scales (storage.py). Version 1 files (float32, ReLU
FFN, no blobs) are still written for such models and read as before; anything else is
version 2 (also: blob sections such as the tokenizer, and the `arch` config of lm/arch.py). Every section starts on a 4 KiB
boundary so O_DIRECT reads work; every section has a crc32; a binary section table (for C)
and a JSON header (for Python and humans) describe the same sections.
"""
from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.io.sections import ALIGN, SectionChecksumError, align_up, atomic_write, crc_hex
from edgekiln.flash_offload.dense.storage import RowCodec, canonical, row_width, split_canonical, storage_name

MAGIC = b"\x89EKF\r\n\x1a\n"  # PNG-style: catches text-mode transfers and truncation at byte 0
VERSION = 2            # the newest this edgekiln writes
READABLE = (1, 2)      # versions it reads
FIXED_HEADER = struct.Struct("<8sIIQQIIIIII8x")  # 64 bytes, see the doc
TABLE_ENTRY = struct.Struct("<64sIIIIIIIIQQQ")    # 120 bytes, padded to 128
TABLE_ENTRY_BYTES = 128
NAME_BYTES = 64
NO_LAYER = 0xFFFFFFFF
KINDS = {"resident": 0, "bundled": 1, "split_up": 2, "split_down": 3, "split_b_up": 4, "split_lin": 5, "blob": 6}
SPLIT_PARTS = {"split_up": "up", "split_down": "down", "split_b_up": "b_up", "split_lin": "lin"}
KIND_NAMES = {v: k for k, v in KINDS.items()}
LAYOUTS = ("bundled", "split")


class EkfFormatError(InputError):
    """A bundled weight file that is not EKF, too new, truncated or corrupt."""


class EkfBadMagicError(EkfFormatError):
    pass


class EkfVersionError(EkfFormatError):
    pass


class EkfTruncatedError(EkfFormatError):
    pass


class EkfChecksumError(EkfFormatError, SectionChecksumError):
    pass


@dataclass(frozen=True)
class Section:
    """One 4 KiB-aligned region of the file. For bundled sections `stride` is the bytes per
    bundle and `shape` is (n_neurons, floats_per_bundle); otherwise `stride` is bytes per row."""
    name: str
    kind: str
    layer: int | None
    shape: tuple[int, ...]
    offset: int
    nbytes: int
    stride: int
    crc32: int

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "layer": self.layer,
                "shape": list(self.shape), "offset": self.offset, "nbytes": self.nbytes,
                "stride": self.stride, "crc32": crc_hex(self.crc32)}

    @classmethod
    def from_json(cls, d: dict) -> "Section":
        return cls(d["name"], d["kind"], d["layer"], tuple(d["shape"]), int(d["offset"]),
                   int(d["nbytes"]), int(d["stride"]), int(d["crc32"], 16))


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype="<f4"))


def model_hash(config: dict, resident: dict, ffn: list) -> str:
    """sha256 of the model's content, independent of layout; predictors store it to refuse a
    different model. Covers the config (canonical JSON), resident tensors by sorted name,
    then per layer up, b_up, down; each tensor as name, ndim, dims (u64 LE), float32 LE."""
    h = hashlib.sha256(b"ekf-model-v1\0")
    try:
        h.update(json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    except TypeError as e:
        raise InputError(f"model config is not JSON-serialisable ({e}); use plain numbers, "
                         "strings, lists and dicts") from None

    def put(name: str, a) -> None:
        a = _f32(a)
        h.update(name.encode() + b"\0" + struct.pack(f"<Q{a.ndim}Q", a.ndim, *a.shape))
        h.update(a.tobytes())

    for name in sorted(resident):
        put(name, resident[name])
    for i, layer in enumerate(ffn):
        put(f"l{i}.up", layer[0])
        put(f"l{i}.b_up", layer[1])
        put(f"l{i}.down", layer[2])
        if len(layer) > 3:
            put(f"l{i}.lin", layer[3])
    return h.hexdigest()


def bundle_matrix(up, b_up, down, stride_floats: int | None = None) -> np.ndarray:
    """(f, stride_floats) float32: row j = [up j | down j | b_up j | zero padding]."""
    up, b_up, down = _f32(up), _f32(b_up), _f32(down)
    f, d = up.shape
    width = stride_floats or 2 * d + 1
    out = np.zeros((f, width), dtype="<f4")
    out[:, :d], out[:, d:2 * d], out[:, 2 * d] = up, down, b_up
    return out


def _check_model(resident: dict, ffn: list, layouts) -> tuple[int, int]:
    bad = [x for x in layouts if x not in LAYOUTS]
    if bad or not layouts:
        raise InputError(f"unknown layouts {list(layouts)}: use one or both of {LAYOUTS}")
    if not ffn:
        raise InputError("the model has no FFN layers: pass one (up, b_up, down) per layer")
    d = np.shape(ffn[0][0])[1]
    arity = len(ffn[0])
    for i, layer in enumerate(ffn):
        if len(layer) != arity or arity not in (3, 4):
            raise InputError(f"layer {i}: every layer needs (up, b_up, down) or, gated, (up, b_up, down, lin)")
        up, b_up, down = layer[:3]
        f = np.shape(up)[0]
        if np.shape(up) != (f, d) or np.shape(down) != (f, d) or np.shape(b_up) != (f,) or \
                (arity == 4 and np.shape(layer[3]) != (f, d)):
            raise InputError(
                f"layer {i}: expected up ({f},{d}), b_up ({f},), down ({f},{d}); got "
                f"{np.shape(up)}, {np.shape(b_up)}, {np.shape(down)}. Rows are neurons.")
    ffn_names = {f"l{i}.{p}" for i in range(len(ffn)) for p in ("bundled", "up", "down", "b_up", "lin")}
    for name, a in resident.items():
        if len(name.encode()) >= NAME_BYTES:
            raise InputError(f"tensor name {name!r} is over {NAME_BYTES - 1} bytes: shorten it")
        if name in ffn_names:
            raise InputError(f"resident tensor {name!r} clashes with an FFN section name; "
                             "pass FFN weights through `ffn`, not `resident`")
        if np.ndim(a) > 4:
            raise InputError(f"resident tensor {name!r} has {np.ndim(a)} dims; at most 4")
    return d, np.shape(ffn[0][0])[0]


def _plan(resident: dict, ffn: list, layouts, bundle_align: int, storage: str = "float32",
          blobs: dict | None = None) -> tuple[list[Section], dict]:
    """Sections with offsets relative to the data start and crc 0 (filled while writing)."""
    secs: list[Section] = []
    pos = 0

    def add(name, kind, layer, shape, nbytes, stride):
        nonlocal pos
        secs.append(Section(name, kind, layer, tuple(int(s) for s in shape), pos, nbytes,
                            stride, 0))
        pos = align_up(pos + nbytes)

    for name in sorted(resident):
        a = np.asarray(resident[name])
        add(name, "resident", None, a.shape, a.size * 4, a.shape[-1] * 4 if a.ndim else 4)
    for name in sorted(blobs or {}):
        add(name, "blob", None, (len(blobs[name]),), len(blobs[name]), 1)
    d = np.shape(ffn[0][0])[1]
    gated = len(ffn[0]) == 4
    row = RowCodec(storage, d, gated).row_bytes
    stride = align_up(row, bundle_align)
    for i, layer in enumerate(ffn):
        f = np.shape(layer[0])[0]
        if "bundled" in layouts:
            add(f"l{i}.bundled", "bundled", i, (f, stride // 4), f * stride, stride)
        if "split" in layouts:
            for kind, part in SPLIT_PARTS.items():
                if part == "lin" and not gated:
                    continue
                rb = RowCodec(storage, d, gated, part).row_bytes
                add(f"l{i}.{part}", kind, i, (f,) if part == "b_up" else (f, d), f * rb, rb)
    layout = {"layouts": [x for x in LAYOUTS if x in layouts], "n_layers": len(ffn),
              "d_model": int(d), "d_ff": [int(np.shape(layer[0])[0]) for layer in ffn],
              "bundle_floats": row_width(d, gated), "bundle_stride": stride, "alignment": ALIGN,
              "dtype": storage, "byteorder": "little"}
    if storage != "float32" or gated or blobs:  # version 2 fields
        layout.update(storage=storage, gated=gated, row_bytes=row)
    return secs, {"layout": layout, "data_bytes": pos}


def _header_bytes(secs: list[Section], data_start: int, meta: dict) -> tuple[bytes, bytes]:
    moved = [Section(s.name, s.kind, s.layer, s.shape, s.offset + data_start, s.nbytes,
                     s.stride, s.crc32) for s in secs]
    doc = dict(meta, sections=[s.to_json() for s in moved])
    js = json.dumps(doc, sort_keys=True, indent=1).encode()
    table = bytearray()
    for s in moved:
        dims = list(s.shape) + [0] * (4 - len(s.shape))
        layer = NO_LAYER if s.layer is None else s.layer
        table += TABLE_ENTRY.pack(s.name.encode(), KINDS[s.kind], layer, len(s.shape), *dims,
                                  s.crc32, s.offset, s.nbytes, s.stride)
        table += bytes(TABLE_ENTRY_BYTES - TABLE_ENTRY.size)
    return bytes(table), js


def _section_chunks(s: Section, resident: dict, ffn: list, storage: str, blobs: dict | None):
    """Yield the bytes of one section (a layer at a time, never the whole model)."""
    if s.kind == "resident":
        yield _f32(resident[s.name]).tobytes()
        return
    if s.kind == "blob":
        yield bytes(blobs[s.name])
        return
    layer = ffn[s.layer]
    d = np.shape(layer[0])[1]
    codec = RowCodec(storage, d, len(layer) == 4, "bundled" if s.kind == "bundled" else SPLIT_PARTS[s.kind])
    rows = codec.encode(canonical(*layer))
    if s.stride > codec.row_bytes:
        rows = np.concatenate([rows, np.zeros((len(rows), s.stride - codec.row_bytes), np.uint8)], axis=1)
    yield rows.tobytes()


def write_ekf(path, config: dict, resident: dict, ffn: list, layouts=LAYOUTS,
              bundle_align: int = 4, storage: str = "float32", blobs: dict | None = None) -> Path:
    """Write a model to `path` atomically (temp file in the same folder, fsync, rename).

    config: model config (JSON-serialisable), stored as is. resident: name -> float32 array.
    ffn: per layer (up (f,d), b_up (f,), down (f,d)[, lin (f,d)]), rows are neurons.
    bundle_align: the bundle stride is the stored row rounded up to this many bytes (4 = no
    padding). storage: float32, float16 or int8 (per-row scales). blobs: name -> bytes
    stored as is (the tokenizer). The model hash covers the weights as stored."""
    from edgekiln.flash_offload.dense.storage import stored_ffn

    path = Path(path)
    layouts = tuple(layouts)
    storage = storage_name(storage)
    d, _ = _check_model(resident, ffn, layouts)
    if bundle_align % 4:
        raise InputError(f"bundle_align={bundle_align} must be a multiple of 4 bytes")
    for name in blobs or {}:
        if name in resident or len(name.encode()) >= NAME_BYTES:
            raise InputError(f"blob name {name!r} clashes with a tensor or is over {NAME_BYTES - 1} bytes")
    secs, extra = _plan(resident, ffn, layouts, bundle_align, storage, blobs)
    if config.get("arch", "toy") != "toy":  # a version 1 reader would run it as the byte-level toy
        extra["layout"].update(storage=storage, gated=len(ffn[0]) == 4, row_bytes=RowCodec(storage, d, len(ffn[0]) == 4).row_bytes)
    version = 2 if "storage" in extra["layout"] else 1
    meta = {"format": "ekf", "version": version, "config": config,
            "model_hash": model_hash(config, resident, stored_ffn(ffn, storage)), "layout": extra["layout"]}
    # The header size depends on the JSON, whose offsets depend on the header size: iterate.
    start = ALIGN
    while True:
        table, js = _header_bytes(secs, start, meta)
        need = align_up(FIXED_HEADER.size + len(table) + len(js))
        if need <= start:
            break
        start = need
    file_size = start + extra["data_bytes"]
    with atomic_write(path) as fh:
        done = []
        for s in secs:
            fh.seek(start + s.offset)
            crc = 0
            for chunk in _section_chunks(s, resident, ffn, storage, blobs):
                fh.write(chunk)
                crc = zlib.crc32(chunk, crc)
            done.append(Section(s.name, s.kind, s.layer, s.shape, s.offset, s.nbytes,
                                s.stride, crc))
        fh.truncate(file_size)  # pads the last section to 4 KiB
        table, js = _header_bytes(done, start, meta)
        assert FIXED_HEADER.size + len(table) + len(js) <= start
        table_off = FIXED_HEADER.size
        json_off = table_off + len(table)
        hcrc = zlib.crc32(js, zlib.crc32(table))
        fh.seek(0)
        fh.write(FIXED_HEADER.pack(MAGIC, version, len(done), start, file_size,
                                   table_off, json_off, len(js), hcrc, 0, 0))
        fh.write(table)
        fh.write(js)
    return path


class EkfFile:
    """Reader of an EKF file: header on open; tensors and neuron sections on demand."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise EkfFormatError(f"{self.path}: no such file; create one with "
                                 "`kiln flash-offload pack MODEL.npz -o model.ekf`")
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            head = fh.read(FIXED_HEADER.size)
            if len(head) < FIXED_HEADER.size or head[:8] != MAGIC:
                raise EkfBadMagicError(
                    f"{self.path} is not an EKF bundled weight file (bad magic bytes); "
                    "pack the model with `kiln flash-offload pack`")
            (_, version, n_sec, start, file_size, table_off, json_off, json_len, hcrc,
             _, _) = FIXED_HEADER.unpack(head)
            if version not in READABLE:
                raise EkfVersionError(
                    f"{self.path} is EKF version {version}; this edgekiln reads versions "
                    f"{', '.join(map(str, READABLE))}. Re-pack the model with this edgekiln or upgrade it.")
            if not (FIXED_HEADER.size <= table_off and table_off + n_sec * TABLE_ENTRY_BYTES
                    <= json_off and json_off + json_len <= start <= file_size
                    and start % ALIGN == 0):
                raise EkfFormatError(f"{self.path}: corrupt EKF header (offsets out of order); "
                                     "re-pack the model")
            if size < file_size:
                raise EkfTruncatedError(
                    f"{self.path} is truncated: {size} bytes of {file_size}; copy it again "
                    "or re-pack the model")
            fh.seek(table_off)
            table = fh.read(n_sec * TABLE_ENTRY_BYTES)
            fh.seek(json_off)
            js = fh.read(json_len)
        if zlib.crc32(js, zlib.crc32(table)) != hcrc:
            raise EkfChecksumError(f"{self.path}: header checksum mismatch (file corrupt); "
                                   "re-pack the model", "header")
        try:
            meta = json.loads(js)
        except ValueError:
            raise EkfFormatError(f"{self.path}: the header is not valid JSON; re-pack the model") from None
        self.version = version
        self.header_bytes = start
        self.file_size = file_size
        self.config: dict = meta["config"]
        self.model_hash: str = meta["model_hash"]
        self.layout: dict = meta["layout"]
        self.sections: dict[str, Section] = {
            s["name"]: Section.from_json(s) for s in meta["sections"]}

    # --- shape of the model ---
    @property
    def n_layers(self) -> int:
        return self.layout["n_layers"]

    @property
    def d_model(self) -> int:
        return self.layout["d_model"]

    def d_ff(self, layer: int) -> int:
        return self.layout["d_ff"][layer]

    @property
    def layouts(self) -> tuple[str, ...]:
        return tuple(self.layout["layouts"])

    @property
    def storage(self) -> str:
        """float32 (every version 1 file), float16 or int8."""
        return self.layout.get("storage", "float32")

    @property
    def gated(self) -> bool:
        return bool(self.layout.get("gated", False))

    @property
    def row_floats(self) -> int:
        """Columns of a neuron's canonical float32 row in DRAM (2d+1, +d gated)."""
        return row_width(self.d_model, self.gated)

    def codec(self, part: str = "bundled") -> RowCodec:
        return RowCodec(self.storage, self.d_model, self.gated, part)

    @property
    def bundle_stride(self) -> int:
        """Bytes from bundle j to bundle j+1 in a bundled section."""
        return self.layout["bundle_stride"]

    def bundled_section(self, layer: int) -> Section:
        return self._need(f"l{layer}.bundled", "bundled")

    def split_sections(self, layer: int) -> tuple[Section, ...]:
        """(up, down, b_up[, lin]) sections of the split layout."""
        parts = ("up", "down", "b_up", "lin") if self.gated else ("up", "down", "b_up")
        return tuple(self._need(f"l{layer}.{p}", "split") for p in parts)

    def _need(self, name: str, layout: str) -> Section:
        if name not in self.sections:
            raise InputError(f"{self.path} has no {layout!r} layout (it has {self.layouts}); "
                             f"re-pack with --layout {layout}")
        return self.sections[name]

    @property
    def resident_bytes(self) -> int:
        return sum(s.nbytes for s in self.sections.values() if s.kind == "resident")

    @property
    def ffn_bytes(self) -> int:
        """Bytes of the FFN weights (up, down, b_up[, lin]) of all layers as stored, without padding."""
        row = self.codec().row_bytes
        return sum(f * row for f in self.layout["d_ff"])

    # --- data ---
    def read_section(self, s: Section, check: bool = True) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(s.offset)
            data = fh.read(s.nbytes)
        if len(data) != s.nbytes:
            raise EkfTruncatedError(f"{self.path}: section {s.name} is cut short; "
                                    "copy the file again or re-pack the model")
        if check and zlib.crc32(data) != s.crc32:
            raise EkfChecksumError(
                f"{self.path}: checksum mismatch in section {s.name!r} (file corrupt); "
                "copy the file again or re-pack the model", s.name)
        return data

    def array(self, s: Section, check: bool = True) -> np.ndarray:
        a = np.frombuffer(self.read_section(s, check), dtype="<f4")
        return a.reshape(s.shape).astype(np.float32, copy=False)

    def resident(self) -> dict[str, np.ndarray]:
        """The DRAM-resident tensors by name (checksums verified)."""
        return {s.name: self.array(s) for s in self.sections.values() if s.kind == "resident"}

    def ffn(self, layer: int) -> tuple[np.ndarray, ...]:
        """(up, b_up, down[, lin]) of a whole layer as stored (decoded to float32; reference)."""
        f = self.d_ff(layer)
        rows = np.zeros((f, self.row_floats), np.float32)
        if "split" in self.layouts:
            for s in self.split_sections(layer):
                raw = np.frombuffer(self.read_section(s), np.uint8).reshape(f, s.stride)
                self.codec(SPLIT_PARTS[s.kind]).decode(raw, rows)
        else:
            s = self.bundled_section(layer)
            self.codec().decode(np.frombuffer(self.read_section(s), np.uint8).reshape(f, s.stride), rows)
        return split_canonical(rows, self.d_model)

    def blob(self, name: str) -> bytes | None:
        """A blob section's bytes (checksum verified), None if the file has none of that name."""
        s = self.sections.get(name)
        return None if s is None or s.kind != "blob" else self.read_section(s)

    def verify(self) -> None:
        """Check every section's crc32; raises EkfChecksumError naming the first bad one."""
        for s in self.sections.values():
            self.read_section(s, check=True)

    def __repr__(self) -> str:
        return (f"EkfFile({str(self.path)!r}, layers={self.n_layers}, d={self.d_model}, "
                f"layouts={self.layouts})")
