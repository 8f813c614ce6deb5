"""TFLite's Prepare-time integers for int8 network nodes, written into the IR.

`prepare_int8(graph)` is quantize's decision for every int8 node: the fixed-point
multipliers and shifts (per output channel for conv), the double scales of fully
connected (per tensor or per channel: LiteRT's reference FC requantizes in double), the zero-point offsets, the clamp of the fused activation, the softmax and add
parameters, computed exactly as TFLite's Prepare does (the same functions the int8 golden
model runs, `int8_reference.channel_multipliers` and `tflite_math`). It stores them as
`node.attrs["int8"]`; codegen only reads them (the layer rule: codegen never imports
quantize). Float32 nodes are left as they are.
"""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Graph, Node, QuantParams

from .int8_params import INT8_PARAMS
from .int8_reference import channel_multipliers, fc_scales
from .tflite_math import calculate_activation_range, quantize_multiplier, softmax_params

ADD_LEFT_SHIFT = 20  # PrepareInt8AddSub


def _q(graph: Graph, name: str) -> QuantParams | None:
    if name in graph.constants:
        return graph.constants[name].quant
    return graph.value(name).quant


def _act(node: Node, qout: QuantParams) -> dict:
    lo, hi = calculate_activation_range(node.attrs.get("activation", "none"), qout.scale[0], qout.zero_point[0])
    return {"act_min": int(lo), "act_max": int(hi)}


def _need(node: Node, *qs: QuantParams | None) -> None:
    if any(q is None for q in qs):
        raise UnsupportedModelError(f"node {node.name}: an int8 {node.op} needs scales and zero points on every tensor")


def add_sub_params(graph: Graph, node: Node, qin: QuantParams, qout: QuantParams, sign: int = 1) -> dict:
    """PrepareInt8AddSub; SUB (`sign` -1) negates input 2's multiplier (sub.cc)."""
    q2 = _q(graph, node.inputs[1])
    _need(node, q2)
    s1, s2, so = (np.float32(qin.scale[0]), np.float32(q2.scale[0]), np.float32(qout.scale[0]))
    twice_max = float(np.float32(2) * max(s1, s2))
    m1, e1 = quantize_multiplier(float(s1) / twice_max)
    m2, e2 = quantize_multiplier(float(s2) / twice_max)
    mo, eo = quantize_multiplier(twice_max / float(np.float32(1 << ADD_LEFT_SHIFT) * so))
    return {"input1_offset": -qin.zero_point[0], "input2_offset": -q2.zero_point[0],
            "output_offset": qout.zero_point[0], "input1_multiplier": int(m1), "input1_shift": int(e1),
            "input2_multiplier": int(sign * m2), "input2_shift": int(e2), "output_multiplier": int(mo),
            "output_shift": int(eo), "left_shift": ADD_LEFT_SHIFT, **_act(node, qout)}


def node_params(graph: Graph, node: Node) -> dict | None:
    """The int8 parameters of one node (None when it is not an int8 node)."""
    out = graph.value(node.outputs[0])
    if out.dtype != "int8":
        return None
    qin, qout = _q(graph, node.inputs[0]), out.quant
    _need(node, qin, qout)
    if node.op == "conv":
        qw = _q(graph, node.inputs[1])
        _need(node, qw)
        channels = int(graph.constants[node.inputs[1]].data.shape[0])
        mult, shift = channel_multipliers(qin, qw, qout, channels)
        return {"input_offset": -qin.zero_point[0], "output_offset": qout.zero_point[0], **_act(node, qout),
                "multiplier": [int(m) for m in mult], "shift": [int(s) for s in shift]}
    if node.op == "fully_connected":
        qw = _q(graph, node.inputs[1])
        _need(node, qw)
        channels = int(graph.constants[node.inputs[1]].data.shape[0])
        # LiteRT's reference FC requantizes in double (int8_reference.fc_requantize): the
        # kernels get the doubles, one per tensor or per channel.
        scale = fc_scales(qin, qw, qout, channels)
        scale = [float(scale[0])] if not qw.per_channel else [float(v) for v in scale]
        return {"input_offset": -qin.zero_point[0], "filter_offset": -qw.zero_point[0],
                "output_offset": qout.zero_point[0], **_act(node, qout), "scale": scale}
    if node.op in ("avg_pool", "max_pool"):
        if qin.scale != qout.scale or qin.zero_point != qout.zero_point:
            raise UnsupportedModelError(f"node {node.name}: int8 pooling needs the same scale in and out (as TFLite)")
        return _act(node, qout)
    if node.op == "reshape":
        return {}
    if node.op == "softmax":
        m, left, diff_min = softmax_params(float(node.attrs.get("beta", 1.0)), float(np.float32(qin.scale[0])))
        return {"input_multiplier": int(m), "input_left_shift": int(left), "diff_min": int(diff_min)}
    if node.op == "add":
        return add_sub_params(graph, node, qin, qout)
    more = INT8_PARAMS.get(node.op)  # ops with their own module in int8_params/
    if more is not None:
        return more(graph, node, qin, qout)
    raise UnsupportedModelError(f"node {node.name}: op {node.op!r} has no int8 parameters (no int8 kernel yet)")


def prepare_int8(graph: Graph) -> Graph:
    """Write `attrs["int8"]` into every int8 node of `graph` and the tables into every `mfcc`
    node's consts (in place; returns it)."""
    for node in graph.nodes:
        if node.op == "mfcc":  # the audio front end's tables (float and integer): quantize/nn/mfcc_fixed.py
            from .mfcc_fixed import node_consts, s8_params

            node.consts.update(node_consts(node.attrs))
            out = graph.value(node.outputs[0])
            if out.dtype == "int8":
                node.attrs["int8"] = s8_params(out.quant)
            continue
        params = node_params(graph, node)
        if params is not None:
            node.attrs["int8"] = params
    return graph


def quantize_input(x: np.ndarray, quant: QuantParams, dtype: str = "int8") -> np.ndarray:
    """Float inputs -> stored integers as TFLite's reference Quantize does:
    round(x / scale) (float32 division, half away from zero) + zero point, saturated."""
    info = np.iinfo(np.dtype(dtype))
    v = np.asarray(x, dtype=np.float32) / np.float32(quant.scale[0])
    r = np.where(v >= 0, np.floor(v.astype(np.float64) + 0.5), -np.floor(-v.astype(np.float64) + 0.5))
    return np.clip(r + quant.zero_point[0], info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, quant: QuantParams) -> np.ndarray:
    """Stored integers -> real values: scale * (q - zero point), in float32."""
    centred = (np.asarray(q, np.int32) - quant.zero_point[0]).astype(np.float32)
    return (np.float32(quant.scale[0]) * centred).astype(np.float32)
