"""Per-op fixed-point decisions, one module per IR op (like codegen/ops).

Each module registers a `FixedOp` with `@fixed_op("op")`: the input format the op wants,
the constants a scaler or PCA in front folds into, the quantizer that writes the integer
constants and formats into the IR (node.consts["*_q"], node.attrs["fixed"]) for codegen to
read, and the numpy golden model of the integer kernels. Modules load on first use, so
adding an op is a new file.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Node

_FIXED_OPS: dict[str, "FixedOp"] = {}
_loaded = False


def fixed_op(op: str):
    def wrap(cls: type["FixedOp"]) -> type["FixedOp"]:
        cls.op = op
        _FIXED_OPS[op] = cls()
        return cls

    return wrap


def fixed_op_for(node: Node) -> "FixedOp":
    """The fixed-point decisions for `node`, or a clear error when there are none."""
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True
    entry = _FIXED_OPS.get(node.op)
    if entry is None or entry.unsupported:
        why = entry.unsupported if entry else "no fixed-point kernel yet"
        covered = sorted(op for op, e in _FIXED_OPS.items() if not e.unsupported)
        raise UnsupportedModelError(
            f"--dtype fixed is not offered for {node.op!r}: {why}. Use --dtype float32 (soft float on cores "
            f"without an FPU); fixed covers: {', '.join(covered)}")
    return entry


class FixedOp:
    """Base class; subclasses set the input policy and implement quantize / predict_labels."""

    op: ClassVar[str] = ""
    input_bits: ClassVar[int] = 16  # 16 for multiply-accumulate kernels; 0: the op reads the float input
    shared_input_format: ClassVar[bool] = False  # distances mix features: one Q format for all
    unsupported: ClassVar[str] = ""  # why there is no fixed-point kernel (the op is float32 only)

    def affine_consts(self, node: Node) -> tuple[str, str] | None:
        """The (weight, bias) constants a scaler or PCA in front folds into, if any."""
        return None

    def quantize(self, node: Node, plan: dict) -> None:
        """Write the integer constants and `node.attrs["fixed"]` (formats, widths, report)."""
        raise NotImplementedError

    def predict_labels(self, node: Node, plan: dict, xq: np.ndarray) -> np.ndarray:
        """Golden model: the class (or cluster) indices the integer kernels compute from xq."""
        raise UnsupportedModelError(f"no fixed-point golden model for {node.op!r}")


def accumulator_bits(worst: float) -> int:
    """32 when the worst-case sum fits int32, else 64 (widened, and reported)."""
    return 32 if worst <= 2 ** 31 - 1 else 64


def accumulator_text(bits: int) -> str:
    """How a kernel's report names its accumulator (printed by kiln export)."""
    return "int64 (widened: the worst case exceeds int32)" if bits == 64 else "int32"
