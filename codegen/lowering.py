"""Per-op lowering: how one IR node becomes C constants, a kernel call and runtime files.

Each op registers a `Lowering` subclass with `@lowers("op")` in its own module under
codegen/ops/; the modules are imported on first use, so adding an op is new files.
Fixed-point lowerings (`@lowers("op", dtype="fixed")`) decide nothing: they read the integer
constants and formats quantize/fixed_ops wrote into the node (see `fixed_attrs`).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from edgekiln.errors import InputError, UnsupportedModelError
from edgekiln.ir import Graph, Node

# (op, dtype) -> lowering; dtype "float32" or "fixed" (codegen/ops/*_fixed.py) for classic
# models, "s8", "s4" or "f32" for network nodes (codegen/ops/nn_*.py, codegen/nn_lower.py:
# chosen by the node's tensor dtypes).
_LOWERINGS: dict[tuple[str, str], type["Lowering"]] = {}
_loaded = False

_CTYPES = {
    np.dtype(np.float32): "float", np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t", np.dtype(np.uint16): "uint16_t", np.dtype(np.int32): "int32_t",
    np.dtype(np.int64): "int64_t",
}


@dataclass
class CArray:
    """A `static const` array in flash."""

    name: str
    values: np.ndarray
    ctype: str = ""

    def __post_init__(self) -> None:
        self.values = np.ascontiguousarray(self.values).reshape(-1)
        if not self.ctype:
            self.ctype = _CTYPES[self.values.dtype]

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)


def lowers(op: str, dtype: str = "float32"):
    def wrap(cls: type["Lowering"]) -> type["Lowering"]:
        cls.op = op
        _LOWERINGS[(op, dtype)] = cls
        return cls

    return wrap


def _load_ops() -> None:
    global _loaded
    if not _loaded:
        from . import ops

        for mod in pkgutil.iter_modules(ops.__path__):
            importlib.import_module(f"{ops.__name__}.{mod.name}")
        _loaded = True


def find_lowering(op: str, dtype: str):
    """The lowering class registered for (op, dtype), or None (network nodes: nn_project)."""
    _load_ops()
    return _LOWERINGS.get((op, dtype))


def registered(dtypes: tuple[str, ...]) -> list[str]:
    """'op/dtype' of every lowering of these dtypes."""
    _load_ops()
    return sorted(f"{o}/{d}" for o, d in _LOWERINGS if d in dtypes)


def lowering_for(node: Node, dtype: str = "float32", options: dict | None = None) -> "Lowering":
    """The lowering of `node` for `dtype`, holding its own copy of the codegen options."""
    _load_ops()
    if (node.op, "float32") not in _LOWERINGS:
        known = sorted({op for op, _ in _LOWERINGS})
        raise UnsupportedModelError(f"no C lowering for op {node.op!r}; known ops: {', '.join(known)}")
    if (node.op, dtype) not in _LOWERINGS:
        fixed = sorted(op for op, d in _LOWERINGS if d == dtype)
        raise UnsupportedModelError(
            f"--dtype {dtype} is not offered for {node.op!r}: no {dtype} kernel yet. Use --dtype float32 (soft float "
            f"on cores without an FPU); {dtype} covers: {', '.join(fixed)}")
    return _LOWERINGS[(node.op, dtype)](options)


class Lowering:
    """Base class. Subclasses set `template`, `kernels`, `headers` and fill `context`."""

    op: ClassVar[str] = ""
    template: ClassVar[str] = ""          # file under codegen/templates/ops/
    kernels: ClassVar[tuple[str, ...]] = ()  # runtime_c/kernels/<family>/ file names
    headers: ClassVar[tuple[str, ...]] = ()  # runtime_c/include/ file names

    def __init__(self, options: dict | None = None) -> None:
        self.options = dict(options or {})  # codegen options of this use (tree_layout, cores, …)

    @property
    def cores(self) -> int:
        """Cores the generated kernels may use (options["cores"], default 1)."""
        return int(self.options.get("cores", 1))

    def context(self, node: Node, graph: Graph, cid: str) -> dict:
        """Template variables; must include `arrays`: list[CArray]."""
        raise NotImplementedError

    def scratch_bytes(self, node: Node) -> int:
        return 0


def fixed_attrs(node: Node) -> dict:
    """What quantize decided for a fixed-point node (formats, widths, report): codegen only reads it."""
    if "fixed" not in node.attrs:
        raise InputError(f"node {node.name!r} is not quantized: fixed point needs the graph prepared by "
                         "edgekiln.quantize.fixed_graph.prepare_fixed (pass calibration data, --calib)")
    return node.attrs["fixed"]


def pack_bits(flags: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(flags, dtype=np.uint8), bitorder="little")


def smallest_int_type(lo: int, hi: int, signed: bool = True) -> type:
    kinds = (np.int8, np.int16, np.int32) if signed else (np.uint8, np.uint16, np.uint32)
    for t in kinds:
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            return t
    raise UnsupportedModelError(f"index range {lo}..{hi} does not fit 32 bits")
