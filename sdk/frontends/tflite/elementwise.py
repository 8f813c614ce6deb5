"""ADD, SUB, MUL (int8, numpy broadcasting, a constant on either side), CONCATENATION (any
axis) and PAD / PADV2 (constant pad)."""
from __future__ import annotations

import importlib

import numpy as np

from ...errors import ModelLoadError, UnsupportedModelError
from . import TfliteBuilder, fused_activation, tflite_op
from ._reader import Operator


def _options(op: Operator, table: str):
    """The operator's options table of class `table` (tflite.<table>), or None."""
    if op.options is None:
        return None
    cls = getattr(importlib.import_module(f"tflite.{table}"), table)
    opts = cls()
    opts.Init(op.options.Bytes, op.options.Pos)
    return opts


def _per_tensor(op: Operator, b: TfliteBuilder, indices) -> None:
    for i in indices:
        t = b.tensor(i)
        if t.scale is None or len(t.scale) != 1:
            raise UnsupportedModelError(f"operator {op.index} ({op.op}): input {t.name!r} needs per-tensor quantization")


@tflite_op("ADD", "SUB", "MUL")
def binary(op: Operator, b: TfliteBuilder) -> None:
    opts = _options(op, {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}[op.op])
    act = fused_activation(opts.FusedActivationFunction(), op) if opts is not None else "none"
    _per_tensor(op, b, op.inputs[:2])
    s1, s2 = (b.tensor(i).shape for i in op.inputs[:2])
    out = b.tensor(op.outputs[0]).shape
    try:
        shape = tuple(np.broadcast_shapes(tuple(s1), tuple(s2)))
    except ValueError:
        shape = None
    if shape != tuple(out):
        raise ModelLoadError(f"operator {op.index} ({op.op}): inputs {list(s1)} and {list(s2)} do not broadcast to "
                             f"the output {list(out)} (numpy rules: aligned from the last dim, each pair equal or 1)")
    b.add(op.op.lower(), op, [b.value(op.inputs[0]), b.value(op.inputs[1])], {"activation": act})


@tflite_op("CONCATENATION")
def concatenation(op: Operator, b: TfliteBuilder) -> None:
    opts = _options(op, "ConcatenationOptions")
    axis = int(opts.Axis()) if opts is not None else 0
    if opts is not None and fused_activation(opts.FusedActivationFunction(), op) != "none":
        raise UnsupportedModelError(f"operator {op.index} (CONCATENATION): a fused activation is not supported")
    _per_tensor(op, b, op.inputs)
    rank = len(b.tensor(op.outputs[0]).shape)
    b.add("concat", op, [b.value(i) for i in op.inputs], {"axis": axis % rank if rank else 0})


@tflite_op("PAD", "PADV2")
def pad(op: Operator, b: TfliteBuilder) -> None:
    x = b.tensor(op.inputs[0])
    p = b.tensor(op.inputs[1])
    if p.data is None:
        raise UnsupportedModelError(f"operator {op.index} ({op.op}): paddings must be a constant tensor")
    r = len(x.shape)
    pads = np.asarray(p.data).astype(np.int64).reshape(-1)
    if pads.size != 2 * r or pads.min(initial=0) < 0:
        raise ModelLoadError(f"operator {op.index} ({op.op}): paddings {pads.tolist()} for a rank-{r} input "
                             f"(need {r} x 2, none negative)")
    value = 0.0
    if op.op == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        c = b.tensor(op.inputs[2])
        out = b.tensor(op.outputs[0])
        if c.data is None or c.scale is None:
            raise UnsupportedModelError(f"operator {op.index} (PADV2): the pad value must be a quantized constant")
        if np.float32(c.scale[0]) != np.float32(out.scale[0]) or int(c.zero_point[0]) != int(out.zero_point[0]):
            raise UnsupportedModelError(f"operator {op.index} (PADV2): the pad value needs the output's scale and "
                                        "zero point (as TFLite's int8 PADV2)")
        # the stored int8 value as a real number; the int8 node quantizes it back to the same integer
        value = float(np.float32(out.scale[0]) * np.float32(int(np.asarray(c.data).reshape(-1)[0]) - int(out.zero_point[0])))
    pr = pads.reshape(r, 2)
    b.add("pad", op, [b.value(op.inputs[0])], {"pads": [int(v) for v in pr[:, 0]] + [int(v) for v in pr[:, 1]],
                                                "value": value})
