"""A Hugging Face checkpoint folder: config.json and its *.safetensors shards, read as numpy.

Shards: `model.safetensors`, or the shards named by `model.safetensors.index.json`'s
weight_map (every shard present, every tensor where the index says, nothing unlisted), or
`model-0000k-of-0000N.safetensors` without an index (all N present). Tensors are read with
`safetensors` (numpy); bfloat16, which numpy lacks, is widened to float32 from the raw bytes.
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np

from edgekiln.errors import InputError, ModelLoadError

INDEX = "model.safetensors.index.json"
SHARD_RE = re.compile(r"^(?P<stem>.+)-(?P<k>\d+)-of-(?P<n>\d+)\.safetensors$")


class CheckpointError(ModelLoadError):
    """A Hugging Face checkpoint folder that cannot be read as it is."""


def read_config(folder: Path) -> dict:
    p = folder / "config.json"
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; pass a Hugging Face checkpoint folder "
                              "(config.json + *.safetensors)")
    if not p.is_file():
        raise CheckpointError(f"{folder} has no config.json; it is not a Hugging Face checkpoint folder")
    try:
        cfg = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{p} is not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{p} is not a JSON object")
    return cfg


def _shard_files(folder: Path) -> dict[str, Path | None]:
    """tensor name -> shard (None: listed by the index, whose shard is missing)."""
    index = folder / INDEX
    if index.is_file():
        try:
            wm = json.loads(index.read_text())["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{index} has no readable weight_map ({e})") from None
        missing = sorted({f for f in wm.values() if not (folder / f).is_file()})
        if missing:
            raise CheckpointError(f"{folder}: safetensors shards named by {INDEX} are missing: "
                                  f"{', '.join(missing)}; copy the whole checkpoint")
        return {k: folder / v for k, v in wm.items()}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        other = [p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".gguf")]
        hint = f" (found {', '.join(other)}: save it with save_pretrained(..., safe_serialization=True))" if other else ""
        raise CheckpointError(f"{folder} has no *.safetensors weights{hint}")
    groups: dict[str, tuple[int, set[int]]] = {}
    for f in files:
        m = SHARD_RE.match(f.name)
        if m:
            n, seen = groups.setdefault(m["stem"], (int(m["n"]), set()))
            if int(m["n"]) != n:
                raise CheckpointError(f"{folder}: shards of {m['stem']} disagree on their count ({f.name})")
            seen.add(int(m["k"]))
    for stem, (n, seen) in groups.items():
        lost = sorted(set(range(1, n + 1)) - seen)
        if lost:
            raise CheckpointError(f"{folder}: {len(lost)} of {n} shards of {stem} are missing "
                                  f"(numbers {', '.join(map(str, lost))}); copy the whole checkpoint")
    return {}


def _bf16(path: Path, name: str) -> np.ndarray:
    """A BF16 tensor of a safetensors file, widened to float32 (numpy has no bfloat16)."""
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        meta = json.loads(fh.read(n))[name]
        a, b = meta["data_offsets"]
        fh.seek(8 + n + a)
        raw = np.frombuffer(fh.read(b - a), "<u2")
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(meta["shape"])


class Tensors:
    """The checkpoint's tensors by name (a leading `model.` is dropped), read on demand."""

    def __init__(self, folder: Path):
        from safetensors import safe_open

        self.folder = folder
        listed = _shard_files(folder)
        files = sorted(set(listed.values())) if listed else sorted(folder.glob("*.safetensors"))
        self._where: dict[str, tuple[Path, str]] = {}
        self._dtype: dict[str, str] = {}
        for f in files:
            try:
                with safe_open(str(f), framework="numpy") as sf:
                    keys = list(sf.keys())
                head = _header(f)
                for k in keys:
                    self._dtype[k] = head.get(k, {}).get("dtype", "")
            except Exception as e:  # safetensors raises its own error types
                raise CheckpointError(f"{f} is not a readable safetensors file ({e})") from None
            if listed:
                want = {k for k, v in listed.items() if v == f}
                extra, lost = set(keys) - want, want - set(keys)
                if lost or extra:
                    raise CheckpointError(
                        f"{f.name} does not match {INDEX}: " +
                        (f"missing {sorted(lost)[:5]}" if lost else "") + (" " if lost and extra else "") +
                        (f"not listed {sorted(extra)[:5]}" if extra else "") + "; copy the whole checkpoint")
            for k in keys:
                short = k[6:] if k.startswith("model.") else k
                if short in self._where:
                    raise CheckpointError(f"{folder}: tensor {k} is in two shards "
                                          f"({self._where[short][0].name}, {f.name})")
                self._where[short] = (f, k)

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def names(self) -> list[str]:
        return sorted(self._where)

    def get(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """float32 array of `name`; its shape checked against the config's."""
        from safetensors import safe_open

        if name not in self._where:
            raise CheckpointError(f"{self.folder}: tensor {name} is missing from the safetensors shards")
        f, key = self._where[name]
        if self._dtype.get(key) == "BF16":
            a = _bf16(f, key)
        else:
            with safe_open(str(f), framework="numpy") as sf:
                a = sf.get_tensor(key)
        if shape is not None and tuple(a.shape) != tuple(shape):
            raise CheckpointError(f"{self.folder}: tensor {name} has shape {list(a.shape)}, "
                                  f"the config says {list(shape)}")
        if not np.issubdtype(a.dtype, np.floating):
            raise InputError(f"{self.folder}: tensor {name} is {a.dtype}, not a float tensor "
                             "(quantized checkpoints are not read; use the float one)")
        return np.ascontiguousarray(a, dtype=np.float32)


def _header(path: Path) -> dict:
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        return json.loads(fh.read(n))
