"""AveragePool, MaxPool and GlobalAveragePool (channel-last `avg_pool`/`max_pool`)."""
from __future__ import annotations

from ...errors import UnsupportedModelError
from . import attrs_of, onnx_op
from ._builder import OnnxBuilder, channel_last
from .conv import out_spatial, window


@onnx_op("AveragePool", "MaxPool", "GlobalAveragePool")
def pool(node, b: OnnxBuilder) -> None:
    at = attrs_of(node)
    x = b.act(node.input[0])
    spatial = x.shape[2:]
    if node.op_type == "GlobalAveragePool":
        kernel, w = list(spatial), {"strides": list(spatial), "dilations": [1] * len(spatial), "pads": [0] * 2 * len(spatial)}
    else:
        kernel = list(at["kernel_shape"])
        w = window(b, at, spatial, kernel)
        if any(d != 1 for d in w["dilations"]) or at.get("ceil_mode", 0) or len(node.output) > 1:
            raise UnsupportedModelError(f"node {b.node_name}: {node.op_type} with dilations, ceil_mode or Indices is not supported")
    attrs = {"kernel": kernel, "strides": w["strides"], "pads": w["pads"],
             "count_include_pad": bool(at.get("count_include_pad", 0))}
    shape = (x.shape[0], x.shape[1], *out_spatial(spatial, kernel, w))
    op = "max_pool" if node.op_type == "MaxPool" else "avg_pool"
    b.emit(op, [b.channel_last(node.input[0])], attrs, node.output[0], shape, channel_last(len(shape)))
