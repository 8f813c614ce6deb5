"""AVERAGE_POOL_2D and MAX_POOL_2D (int8; padding counts no taps, as TFLite)."""
from __future__ import annotations

from . import TfliteBuilder, fused_activation, tflite_op
from ._reader import Operator
from .conv import same_or_valid


@tflite_op("AVERAGE_POOL_2D", "MAX_POOL_2D")
def pool_2d(op: Operator, b: TfliteBuilder) -> None:
    from tflite.Pool2DOptions import Pool2DOptions

    opts = Pool2DOptions()
    opts.Init(op.options.Bytes, op.options.Pos)
    x = b.tensor(op.inputs[0])
    kh, kw, sh, sw = opts.FilterHeight(), opts.FilterWidth(), opts.StrideH(), opts.StrideW()
    top, bottom = same_or_valid(opts.Padding(), x.shape[1], kh, sh, 1)
    left, right = same_or_valid(opts.Padding(), x.shape[2], kw, sw, 1)
    b.add("avg_pool" if op.op == "AVERAGE_POOL_2D" else "max_pool", op, [b.value(op.inputs[0])],
          {"kernel": [kh, kw], "strides": [sh, sw], "pads": [top, left, bottom, right], "count_include_pad": False,
           "activation": fused_activation(opts.FusedActivationFunction(), op)})
