"""QDQ ONNX graphs (QuantizeLinear/DequantizeLinear around each op, as onnxruntime's
`quantize_static` and `kiln quantize` write them) -> the int8 IR the TFLite frontend makes.

1. `strip`: every DequantizeLinear of an initializer (a weight, a bias, an operand) becomes
   the float initializer it computes, its integers and parameters kept aside; every
   QuantizeLinear -> DequantizeLinear pair on an activation is removed, the tensor's
   scale and zero point kept (uint8 pairs become the int8 pair of the same real values:
   zero point - 128). The result is the float graph, converted as any other.
2. The float IR gets the kept parameters: each activation its per-tensor QuantParams,
   weights back to their integers (per channel along the output channel, axis 0, or per
   tensor; zero point 0), biases int32 with scale in_scale * w_scale[c] (the file's integers
   when its scale is that product, else rescaled), other constants int8 with their own
   parameters; a Relu/Clip whose input and output share parameters is fused into the op
   before it. Where TFLite's int8 kernels need fixed parameters (softmax and sigmoid outputs
   1/256 and -128, tanh 1/128 and 0; reshape, transpose, pools and pad keep their input's),
   the IR takes those and `graph.meta["qdq_notes"]` says which tensors moved.
INT4 weights (opset 21) are read as int4 values with `weight_bits: 4` on the node."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ModelLoadError, UnsupportedModelError
from ...fingerprint import graph_fingerprint
from ...ir import Constant, Graph, QuantParams

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
SHARED = ("reshape", "transpose", "max_pool", "avg_pool", "pad")
FIXED = {"softmax": (1 / 256, -128), "sigmoid": (1 / 256, -128), "tanh": (1 / 128, 0)}
FUSES_INTO = ("conv", "fully_connected", "add", "sub", "mul")
f32 = np.float32


def is_qdq(model) -> bool:
    return any(n.op_type in QDQ_OPS and n.domain in ("", "ai.onnx") for n in model.graph.node)


def _array(t, folder) -> np.ndarray:
    from onnx import TensorProto

    from ._load import tensor_to_array

    if t.data_type in (TensorProto.INT4, TensorProto.UINT4):
        count = int(np.prod(list(t.dims), dtype=np.int64)) if t.dims else 1
        raw = np.frombuffer(t.raw_data, np.uint8) if t.HasField("raw_data") else np.asarray(t.int32_data, np.uint8)
        if raw.size != (count + 1) // 2:
            raise ModelLoadError(f"tensor {t.name!r}: {count} int4 values need {(count + 1) // 2} bytes, the file holds {raw.size}")
        nib = np.empty(raw.size * 2, np.int16)
        nib[0::2], nib[1::2] = raw & 0xF, raw >> 4
        if t.data_type == TensorProto.INT4:
            nib = np.where(nib >= 8, nib - 16, nib)
        return nib[:count].reshape(list(t.dims)).astype(np.int16)
    return tensor_to_array(t, folder, "initializer")


class _Params:
    """scale, zero point, axis and integer type of one Q/DQ node."""

    def __init__(self, node, values: dict, rank: int | None):
        from onnx import TensorProto, helper

        if node.input[1] not in values:
            raise UnsupportedModelError(f"node {node.name or node.op_type}: its scale must be a constant")
        self.scale = np.asarray(values[node.input[1]], f32).reshape(-1)
        zp = values.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "DequantizeLinear" and f"{node.input[0]}#type" in values:
            self.elem = int(values[f"{node.input[0]}#type"])      # the integers' own type
        elif zp is not None:
            self.elem = int(values[f"{node.input[2]}#type"])
        else:
            self.elem = int(at.get("output_dtype", 0)) or TensorProto.UINT8  # ONNX's default
        self.zero_point = np.zeros(self.scale.size, np.int64) if zp is None else np.asarray(zp, np.int64).reshape(-1)
        self.axis = int(at.get("axis", 1)) if self.scale.size > 1 else None
        if self.axis is not None and rank is not None:
            self.axis %= rank
        if at.get("block_size", 0):
            raise UnsupportedModelError(f"node {node.name or node.op_type}: blocked quantization is not supported")
        if self.elem == TensorProto.UINT8:      # the int8 pair of the same real values
            self.zero_point = self.zero_point - 128
            self.shift = 128
        elif self.elem == TensorProto.UINT4:
            self.zero_point = self.zero_point - 8
            self.shift = 8
        else:
            self.shift = 0
        self.bits = 4 if self.elem in (TensorProto.INT4, TensorProto.UINT4) else 32 if self.elem == TensorProto.INT32 else 8

    def quant(self) -> QuantParams:
        return QuantParams(list(self.scale), list(self.zero_point), self.axis)


def strip(model, folder: Path | None):
    """(float model, {activation: _Params}, {float initializer: (integers, _Params)})."""
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    values: dict = {}
    for name, t in inits.items():
        values[name] = _array(t, folder)
        values[f"{name}#type"] = t.data_type
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    values[n.output[0]] = _array(a.t, None)
                    values[f"{n.output[0]}#type"] = a.t.data_type
    q_out: dict[str, tuple[str, _Params]] = {}
    act: dict[str, _Params] = {}
    consts: dict[str, tuple[np.ndarray, _Params]] = {}
    pairs: list[tuple[str, str]] = []
    new_inits: list = []
    keep = []
    for n in g.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in values:
            q = values[n.input[0]]
            p = _Params(n, values, q.ndim)
            ints = q.astype(np.int64) - p.shift
            shape = [1] * q.ndim
            if p.axis is not None:
                shape[p.axis] = -1
            real = ((ints - p.zero_point.reshape(shape)) * p.scale.reshape(shape)).astype(f32)
            consts[n.output[0]] = (ints, p)
            new_inits.append(numpy_helper.from_array(real, n.output[0]))
        elif n.op_type == "QuantizeLinear":
            q_out[n.output[0]] = (n.input[0], _Params(n, values, None))
            if q_out[n.output[0]][1].scale.size != 1:
                raise UnsupportedModelError(f"node {n.name or n.op_type}: per-channel activation quantization is not supported")
        elif n.op_type == "DequantizeLinear":
            if n.input[0] not in q_out:
                raise UnsupportedModelError(f"node {n.name or n.op_type}: DequantizeLinear of {n.input[0]!r}, which no "
                                            "QuantizeLinear writes (integer graph inputs are not supported)")
            src, p = q_out[n.input[0]]
            act[src] = p
            pairs.append((src, n.output[0]))
        else:
            keep.append(n)
    outputs = {o.name for o in g.output}
    canon: dict[str, str] = {}

    def find(x: str) -> str:
        while x in canon:
            x = canon[x]
        return x

    for src, dq in pairs:
        a, b = find(src), find(dq)
        if a == b:
            continue
        if b in outputs:
            canon[a] = b
            if a in act:
                act[b] = act.pop(a)
        else:
            canon[b] = a
    nodes = []
    for n in keep:
        m = helper.make_node(n.op_type, [find(i) if i else i for i in n.input], [find(o) for o in n.output],
                             name=n.name, domain=n.domain)
        m.attribute.extend(n.attribute)
        nodes.append(m)
    act = {find(k): v for k, v in act.items()}
    _check_weight_axes(nodes, consts)
    used = {i for n in nodes for i in n.input}
    initializers = [t for t in g.initializer if t.name in used] + [t for t in new_inits if t.name in used]
    graph = helper.make_graph(nodes, g.name, [v for v in g.input if v.name not in inits],
                              list(g.output), initializer=initializers)
    float_model = helper.make_model(graph, opset_imports=list(model.opset_import))
    float_model.ir_version = model.ir_version
    float_model.metadata_props.extend(model.metadata_props)
    return float_model, act, consts


def _check_weight_axes(nodes, consts: dict) -> None:
    """A per-channel weight's axis must be its output channel in the reading op's layout."""
    from onnx import helper

    for n in nodes:
        if n.op_type not in ("Conv", "MatMul", "Gemm") or len(n.input) < 2 or n.input[1] not in consts:
            continue
        ints, p = consts[n.input[1]]
        if p.axis is None:
            continue
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        want = 0 if n.op_type == "Conv" else ints.ndim - 1 if n.op_type == "MatMul" else (0 if at.get("transB", 0) else 1)
        if p.axis != want:
            raise UnsupportedModelError(f"node {n.name or n.op_type}: weight {n.input[1]!r} is quantized per channel along "
                                        f"axis {p.axis}, not its output channel (axis {want}); edgekiln's int8 kernels "
                                        "take one scale per output channel")


def from_qdq(model, name: str, folder: Path | None) -> Graph:
    from . import from_onnx

    float_model, act, consts = strip(model, folder)
    g = from_onnx(float_model, name, folder)
    return to_int8(g, act, consts)


def _round(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def to_int8(g: Graph, act: dict, consts: dict) -> Graph:
    tensors, sources = g.meta["onnx_tensors"], g.meta["onnx_constants"]
    notes: list[str] = []
    quant: dict[str, QuantParams] = {}
    for onnx_name, p in act.items():
        if onnx_name in tensors:
            quant[tensors[onnx_name]] = p.quant()
    for n in g.nodes:  # relayouts the frontend inserted keep their input's parameters
        if n.outputs[0] not in quant and n.op in ("reshape", "transpose") and n.inputs[0] in quant:
            quant[n.outputs[0]] = quant[n.inputs[0]]
    for n in reversed(g.nodes):  # a float input reshaped before its first QDQ pair takes that pair's
        if n.inputs[0] not in quant and n.op in ("reshape", "transpose") and n.outputs[0] in quant:
            quant[n.inputs[0]] = quant[n.outputs[0]]
    for v in g.all_values():
        if v.name not in quant:
            raise UnsupportedModelError(f"tensor {v.name}: no QuantizeLinear/DequantizeLinear pair; a QDQ graph must "
                                        "quantize every activation (quantize_static does)")
    _fuse(g, quant)
    for n in g.nodes:
        out = n.outputs[0]
        if n.op in SHARED and not _same(quant[n.inputs[0]], quant[out]):
            quant[out] = quant[n.inputs[0]]
            notes.append(f"{out}: takes {n.op}'s input parameters (TFLite's int8 {n.op} does not rescale)")
        if n.op in FIXED and not _same(quant[out], QuantParams([FIXED[n.op][0]], [FIXED[n.op][1]])):
            quant[out] = QuantParams([FIXED[n.op][0]], [FIXED[n.op][1]])
            notes.append(f"{out}: int8 {n.op} writes scale {FIXED[n.op][0]:g}, zero point {FIXED[n.op][1]}")
        if n.op == "concat" and any(not _same(quant[i], quant[out]) for i in n.inputs if i in quant):
            # TFLite's int8 concat copies bytes; its converter puts a QUANTIZE in front of an input
            # with other parameters, and the concat kernel does that requantization itself
            notes.append(f"{out}: concat inputs with their own scale are requantized to the output's")
    for v in g.all_values():
        v.dtype, v.quant = "int8", quant[v.name]
    for n in g.nodes:
        _constants(g, n, quant, sources, consts)
    g.meta["source"] = "onnx-qdq"
    if notes:
        g.meta["qdq_notes"] = notes
    g.meta["fingerprint"] = graph_fingerprint(g)
    return g


def _same(a: QuantParams, b: QuantParams) -> bool:
    return f32(a.scale[0]) == f32(b.scale[0]) and a.zero_point[0] == b.zero_point[0]


def _fuse(g: Graph, quant: dict) -> None:
    readers: dict[str, int] = {}
    for n in g.nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    outputs = {v.name for v in g.outputs}
    writer = {n.outputs[0]: n for n in g.nodes}
    keep = []
    for n in g.nodes:
        prev = writer.get(n.inputs[0]) if n.inputs else None
        act = _activation(n)
        if (act and prev is not None and prev.op in FUSES_INTO and prev.attrs.get("activation", "none") == "none"
                and readers.get(n.inputs[0], 0) == 1 and n.inputs[0] not in outputs
                and _same(quant[n.inputs[0]], quant[n.outputs[0]])):
            prev.attrs["activation"] = act
            g.intermediates = [v for v in g.intermediates if v.name != n.inputs[0]]
            prev.outputs = [n.outputs[0]]
            writer[n.outputs[0]] = prev
            continue
        keep.append(n)
    g.nodes = keep


def _activation(n) -> str | None:
    if n.op == "relu":
        return "relu"
    if n.op == "clip":
        lo, hi = float(n.attrs.get("min", -np.inf)), float(n.attrs.get("max", np.inf))
        return {(0.0, 6.0): "relu6", (-1.0, 1.0): "relu_n1_to_1", (0.0, np.inf): "relu"}.get((lo, hi))
    return None


def _constants(g: Graph, n, quant: dict, sources: dict, consts: dict) -> None:
    def kept(c: str):
        return consts.get(sources.get(c, ""))

    if n.op in ("conv", "fully_connected"):
        w = n.inputs[1]
        info = kept(w)
        if info is None:
            raise UnsupportedModelError(f"node {n.name}: weight {w} is float in a QDQ graph (quantize every weight)")
        _, p = info
        if np.any(p.zero_point != 0):
            raise UnsupportedModelError(f"node {n.name}: weight {w} has a non-zero zero point (symmetric weights only)")
        data = g.constants[w].data
        s = p.scale if p.scale.size > 1 else p.scale[:1]
        if s.size > 1 and s.size != data.shape[0]:
            raise UnsupportedModelError(f"node {n.name}: {s.size} weight scales for {data.shape[0]} output channels")
        qmax = 7 if p.bits == 4 else 127
        lo = -8 if p.bits == 4 else -128
        r = data.astype(f32) / (s.reshape(-1, *[1] * (data.ndim - 1)) if s.size > 1 else s[0])
        g.constants[w] = Constant(w, np.clip(_round(r), lo, qmax).astype(np.int8),
                                  QuantParams(list(s), [0] * s.size, 0 if s.size > 1 else None))
        if p.bits == 4:
            n.attrs["weight_bits"] = 4
        if len(n.inputs) > 2 and n.inputs[2]:
            bname = n.inputs[2]
            ours = (f32(quant[n.inputs[0]].scale[0]) * s).astype(f32)
            binfo = kept(bname)
            if binfo is not None and binfo[1].bits == 32 and np.array_equal(np.broadcast_to(binfo[1].scale, ours.shape), ours):
                q = binfo[0].reshape(-1)
            else:
                q = _round(g.constants[bname].data.astype(np.float64) / ours.astype(np.float64))
            g.constants[bname] = Constant(bname, np.clip(q, -(1 << 31), (1 << 31) - 1).astype(np.int32),
                                          QuantParams(list(ours), [0] * ours.size, 0 if ours.size > 1 else None))
        return
    for c in n.inputs:
        if c in g.constants and g.constants[c].data.dtype.kind == "f":
            info = kept(c)
            if info is None or info[1].scale.size != 1:
                data = g.constants[c].data
                lo, hi = min(float(data.min()), 0.0), max(float(data.max()), 0.0)
                scale = float(f32((hi - lo) / 255.0)) or 1.0
                qp = QuantParams([scale], [int(np.clip(round(-128 - lo / scale), -128, 127))])
            else:
                qp = info[1].quant()
            if n.op == "concat":
                qp = quant[n.outputs[0]]
            r = g.constants[c].data.astype(f32) / f32(qp.scale[0])
            g.constants[c] = Constant(c, np.clip(_round(r) + qp.zero_point[0], -128, 127).astype(np.int8), qp)
