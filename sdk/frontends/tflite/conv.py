"""CONV_2D and DEPTHWISE_CONV_2D (int8, per-channel weights)."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from . import TfliteBuilder, fused_activation, tflite_op
from ._reader import Operator


def same_or_valid(padding: int, size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite's ComputePaddingHeightWidth: (begin, end) of SAME (0) or VALID (1)."""
    if padding == 1:
        return 0, 0
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def window_attrs(b: TfliteBuilder, op: Operator, kh: int, kw: int, opts) -> dict:
    x = b.tensor(op.inputs[0])
    sh, sw = opts.StrideH(), opts.StrideW()
    dh = opts.DilationHFactor() if hasattr(opts, "DilationHFactor") else 1
    dw = opts.DilationWFactor() if hasattr(opts, "DilationWFactor") else 1
    top, bottom = same_or_valid(opts.Padding(), x.shape[1], kh, sh, dh)
    left, right = same_or_valid(opts.Padding(), x.shape[2], kw, sw, dw)
    return {"strides": [sh, sw], "dilations": [dh, dw], "pads": [top, left, bottom, right],
            "activation": fused_activation(opts.FusedActivationFunction(), op)}


def _inputs(b: TfliteBuilder, op: Operator, w_name: str) -> list[str]:
    bias = [b.constant(op.inputs[2])] if len(op.inputs) > 2 and op.inputs[2] >= 0 else []
    return [b.value(op.inputs[0]), w_name] + bias


@tflite_op("CONV_2D")
def conv_2d(op: Operator, b: TfliteBuilder) -> None:
    from tflite.Conv2DOptions import Conv2DOptions

    opts = Conv2DOptions()
    opts.Init(op.options.Bytes, op.options.Pos)
    w = b.tensor(op.inputs[1])  # [O, KH, KW, I]
    x = b.tensor(op.inputs[0])
    if x.shape[3] % w.shape[3]:
        raise UnsupportedModelError(f"operator {op.index} (CONV_2D): {x.shape[3]} input channels, filter depth {w.shape[3]}")
    attrs = window_attrs(b, op, w.shape[1], w.shape[2], opts)
    attrs["group"] = x.shape[3] // w.shape[3]
    b.add("conv", op, _inputs(b, op, b.constant(op.inputs[1], axis=0)), attrs)


@tflite_op("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(op: Operator, b: TfliteBuilder) -> None:
    from tflite.DepthwiseConv2DOptions import DepthwiseConv2DOptions

    opts = DepthwiseConv2DOptions()
    opts.Init(op.options.Bytes, op.options.Pos)
    w = b.tensor(op.inputs[1])  # [1, KH, KW, C*M]
    x = b.tensor(op.inputs[0])
    attrs = window_attrs(b, op, w.shape[1], w.shape[2], opts)
    attrs["group"] = x.shape[3]
    wt = np.ascontiguousarray(np.transpose(w.data, (3, 1, 2, 0)))  # [C*M, KH, KW, 1]
    b.add("conv", op, _inputs(b, op, b.constant(op.inputs[1], wt, axis=0)), attrs)
