"""FULLY_CONNECTED (int8, per-tensor or per-channel weights [N, K])."""
from __future__ import annotations

from ...errors import UnsupportedModelError
from . import TfliteBuilder, fused_activation, tflite_op
from ._reader import Operator


@tflite_op("FULLY_CONNECTED")
def fully_connected(op: Operator, b: TfliteBuilder) -> None:
    from tflite.FullyConnectedOptions import FullyConnectedOptions

    opts = FullyConnectedOptions()
    opts.Init(op.options.Bytes, op.options.Pos)
    if opts.WeightsFormat() != 0:
        raise UnsupportedModelError(f"operator {op.index} (FULLY_CONNECTED): shuffled weights are not supported")
    bias = [b.constant(op.inputs[2])] if len(op.inputs) > 2 and op.inputs[2] >= 0 else []
    b.add("fully_connected", op, [b.value(op.inputs[0]), b.constant(op.inputs[1], axis=0)] + bias,
          {"activation": fused_activation(opts.FusedActivationFunction(), op),
           "keep_num_dims": bool(opts.KeepNumDims())})
