"""Conv (standard, depthwise, grouped; 1-D and 2-D) and BatchNormalization (folded into the
conv before it when it is the conv's only reader, else a per-channel mul + add)."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from . import attrs_of, onnx_op
from ._builder import OnnxBuilder, channel_last


def window(b: OnnxBuilder, at: dict, spatial: tuple[int, ...], kernel: list[int]) -> dict:
    """strides, dilations and pads [begin..., end...] (auto_pad resolved) of a conv/pool."""
    r = len(spatial)
    strides = list(at.get("strides", [1] * r))
    dilations = list(at.get("dilations", [1] * r))
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        pads = list(at.get("pads", [0] * 2 * r))
    elif auto == "VALID":
        pads = [0] * 2 * r
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        pads = begin + end
    else:
        raise UnsupportedModelError(f"node {b.node_name}: auto_pad {auto!r} is not supported")
    return {"strides": strides, "dilations": dilations, "pads": pads}


def out_spatial(spatial, kernel, w: dict, ceil: bool = False) -> list[int]:
    r = len(spatial)
    out = []
    for i in range(r):
        span = spatial[i] + w["pads"][i] + w["pads"][i + r] - ((kernel[i] - 1) * w["dilations"][i] + 1)
        out.append((-(-span // w["strides"][i]) if ceil else span // w["strides"][i]) + 1)
    return out


@onnx_op("Conv")
def conv(node, b: OnnxBuilder) -> None:
    at = attrs_of(node)
    x = b.act(node.input[0])
    wt = b.const(node.input[1], "weight").astype(np.float32)
    rank = len(x.shape) - 2
    if rank not in (1, 2) or wt.ndim != rank + 2:
        raise UnsupportedModelError(f"node {b.node_name}: Conv with {rank} spatial dims (1-D and 2-D are supported)")
    group = int(at.get("group", 1))
    if x.shape[1] != wt.shape[1] * group or wt.shape[0] % group:
        raise UnsupportedModelError(f"node {b.node_name}: weight {list(wt.shape)} does not fit {x.shape[1]} channels in {group} groups")
    kernel = list(wt.shape[2:])
    w = window(b, at, x.shape[2:], kernel)
    attrs = dict(w, group=group)
    inputs = [b.channel_last(node.input[0]), b.ir_const(np.transpose(wt, (0, *range(2, rank + 2), 1)), f"{b.node_name}_w", node.input[1])]
    if len(node.input) > 2 and node.input[2]:
        inputs.append(b.ir_const(b.const(node.input[2], "bias").astype(np.float32), f"{b.node_name}_b", node.input[2]))
    shape = (x.shape[0], wt.shape[0], *out_spatial(x.shape[2:], kernel, w))
    b.emit("conv", inputs, attrs, node.output[0], shape, channel_last(len(shape)))


@onnx_op("BatchNormalization")
def batch_norm(node, b: OnnxBuilder) -> None:
    at = attrs_of(node)
    x = b.act(node.input[0])
    scale, bias, mean, var = (b.const(n, "BatchNormalization parameter").astype(np.float64) for n in node.input[1:5])
    k = scale / np.sqrt(var + float(at.get("epsilon", 1e-5)))
    shift = bias - mean * k
    prev = b.last_node_writing(x.ir)
    if prev is not None and prev.op == "conv" and b.consumers.get(node.input[0], 0) == 1:
        w = b.constants[prev.inputs[1]].data.astype(np.float64)
        b.constants[prev.inputs[1]].data = (w * k.reshape(-1, *[1] * (w.ndim - 1))).astype(np.float32)
        old = b.constants[prev.inputs[2]].data.astype(np.float64) if len(prev.inputs) > 2 else 0.0
        if len(prev.inputs) > 2:
            b.constants[prev.inputs[2]].data = (old * k + shift).astype(np.float32)
        else:
            prev.inputs.append(b.ir_const((shift).astype(np.float32), f"{prev.name}_b"))
        b.acts[node.output[0]] = x
        return
    src = b.channel_last(node.input[0]) if len(x.shape) >= 3 else b.plain(node.input[0])
    perm = channel_last(len(x.shape)) if len(x.shape) >= 3 else tuple(range(len(x.shape)))
    mid = b.emit("mul", [src, b.ir_const(k.astype(np.float32), f"{b.node_name}_k")], {}, node.output[0] + "__bn", x.shape, perm)
    b.emit("add", [mid.ir, b.ir_const(shift.astype(np.float32), f"{b.node_name}_s")], {}, node.output[0], x.shape, perm)
