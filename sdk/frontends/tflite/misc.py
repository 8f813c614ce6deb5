"""RESHAPE, TRANSPOSE (a constant permutation) and SOFTMAX (int8); ADD, SUB, MUL, CONCATENATION, PAD: elementwise.py."""
from __future__ import annotations

import numpy as np

from ...errors import ModelLoadError, UnsupportedModelError
from . import TfliteBuilder, tflite_op
from ._reader import Operator


@tflite_op("RESHAPE")
def reshape(op: Operator, b: TfliteBuilder) -> None:
    out = b.tensor(op.outputs[0])
    b.add("reshape", op, [b.value(op.inputs[0])], {"shape": list(out.shape)})


@tflite_op("TRANSPOSE")
def transpose(op: Operator, b: TfliteBuilder) -> None:
    x, p = b.tensor(op.inputs[0]), b.tensor(op.inputs[1])
    if p.data is None:
        raise UnsupportedModelError(f"operator {op.index} (TRANSPOSE): the permutation must be a constant tensor")
    perm = [int(v) for v in np.asarray(p.data).reshape(-1)]
    if sorted(perm) != list(range(len(x.shape))):
        raise ModelLoadError(f"operator {op.index} (TRANSPOSE): permutation {perm} for a rank-{len(x.shape)} input")
    b.add("transpose", op, [b.value(op.inputs[0])], {"perm": perm})


@tflite_op("SOFTMAX")
def softmax(op: Operator, b: TfliteBuilder) -> None:
    from tflite.SoftmaxOptions import SoftmaxOptions

    opts = SoftmaxOptions()
    opts.Init(op.options.Bytes, op.options.Pos)
    out = b.tensor(op.outputs[0])
    if out.zero_point is None or int(out.zero_point[0]) != -128 or abs(float(out.scale[0]) - 1 / 256) > 1e-3 / 256:
        raise UnsupportedModelError(f"operator {op.index} (SOFTMAX): int8 output must have scale 1/256 and zero point -128")
    b.add("softmax", op, [b.value(op.inputs[0])], {"axis": -1, "beta": float(opts.Beta())})
