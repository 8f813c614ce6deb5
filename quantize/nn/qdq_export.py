"""Writing a quantized network as a standard QDQ ONNX file (what onnxruntime's
quantization tools write and run): the float model with

- a QuantizeLinear -> DequantizeLinear pair (int8, per tensor) on every activation, with
  the int8 IR's scale and zero point (a tensor removed by activation fusion takes the
  fused output's, so e.g. Conv -> Q/DQ -> Relu -> Q/DQ share one pair of parameters);
- conv / Gemm / MatMul weights as int8 initializers (symmetric, per-channel `axis` along
  the output channel) read through DequantizeLinear; with 4-bit weights, INT4
  initializers (opset 21) when `int4="onnx"`, else int8 initializers holding the int4
  values (`int4="int8"`, for runtimes without INT4 DequantizeLinear);
- biases as int32 initializers with scale in_scale * w_scale[c]; other constant operands
  int8 with their own parameters.
The integers are the IR's own (weights transposed back to ONNX's layout), so reading the
file back with the ONNX frontend gives the same int8 IR. A BatchNormalization the frontend
folded into its conv leaves the file (the conv carries the folded integers)."""
from __future__ import annotations

import copy

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Graph, QuantParams

f32 = np.float32


def _consumers(model) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in model.graph.node:
        for k, i in enumerate(n.input):
            out.setdefault(i, []).append((n, k))
    return out


def _onnx_weight(q: np.ndarray, node, attrs: dict) -> tuple[np.ndarray, int]:
    """The IR weight (output channels first) in the layout of ONNX node `node`, and the
    axis of its output channel there."""
    if node.op_type == "Conv":
        return np.moveaxis(q, -1, 1), 0
    if node.op_type == "MatMul":
        return q.T, 1
    if node.op_type == "Gemm":
        return (q, 0) if attrs.get("transB", 0) else (q.T, 1)
    raise UnsupportedModelError(f"weight of {node.op_type} node {node.name}: no QDQ layout")


def _tensor(name: str, data: np.ndarray, elem: int):
    from onnx import TensorProto, helper, numpy_helper

    if elem == TensorProto.INT4:
        return helper.make_tensor(name, TensorProto.INT4, list(data.shape), data.astype(np.int8).ravel().tolist())
    return numpy_helper.from_array(data, name)


def to_qdq(model, qgraph: Graph, aliases: dict[str, str], int4: str = "onnx"):
    """The QDQ ModelProto of `qgraph` (the int8 IR made from `model` by the quantizer)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper, version_converter

    tensors = qgraph.meta.get("onnx_tensors")
    sources = qgraph.meta.get("onnx_constants")
    if tensors is None or sources is None:
        raise UnsupportedModelError("the quantized graph does not come from an ONNX model (no tensor map)")
    int4_weights = any(n.attrs.get("weight_bits") == 4 for n in qgraph.nodes)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    want = 21 if int4_weights and int4 == "onnx" else max(opset, 13)
    m = copy.deepcopy(model)
    if opset < want:
        m = version_converter.convert_version(m, want)
    g = m.graph
    sources = dict(sources)
    _drop_folded_batch_norms(m, qgraph, tensors, sources, aliases)
    inits = {t.name: t for t in g.initializer}
    cons = _consumers(m)
    values = {v.name: v for v in qgraph.all_values()}

    def act_quant(onnx_name: str) -> QuantParams | None:
        ir = tensors.get(onnx_name)
        ir = aliases.get(ir, ir)
        return values[ir].quant if ir in values else None

    new_nodes, new_inits, drop = [], [], set()

    def dq(name: str, data: np.ndarray, qp: QuantParams, elem: int, axis: int | None) -> None:
        """`name` (an initializer) becomes DequantizeLinear(integers `data`)."""
        drop.add(name)
        scale = np.asarray(qp.scale, f32)
        zp = np.zeros(scale.size, {TensorProto.INT4: np.int8, TensorProto.INT32: np.int32}.get(elem, np.int8))
        zp = zp if elem != TensorProto.INT8 else np.asarray(qp.zero_point, np.int8)
        if scale.size == 1:
            scale, zp = scale.reshape(()), zp.reshape(())
        new_inits.extend([_tensor(f"{name}_quantized", data, elem), numpy_helper.from_array(scale, f"{name}_scale"),
                          _tensor(f"{name}_zero_point", zp, elem)])
        kw = {"axis": axis} if scale.size > 1 else {}
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"],
                                          [name], name=f"{name}_DequantizeLinear", **kw))

    for n in qgraph.nodes:
        for k, c in enumerate(n.inputs[1:], start=1):
            src = sources.get(c)
            if src is None or src not in inits or src in drop or c not in qgraph.constants:
                continue
            const = qgraph.constants[c]
            users = cons.get(src, [])
            if n.op in ("conv", "fully_connected") and k == 1:
                onode = users[0][0]
                attrs = {a.name: helper.get_attribute_value(a) for a in onode.attribute}
                data, axis = _onnx_weight(const.data, onode, attrs)
                alpha = float(attrs.get("alpha", 1.0)) if onode.op_type == "Gemm" else 1.0
                qp = const.quant if alpha == 1.0 else QuantParams([s / alpha for s in const.quant.scale],
                                                                   const.quant.zero_point, const.quant.axis)
                elem = TensorProto.INT4 if n.attrs.get("weight_bits") == 4 and int4 == "onnx" else TensorProto.INT8
                dq(src, np.ascontiguousarray(data), qp, elem, axis)
            elif n.op in ("conv", "fully_connected") and k == 2:
                shape = list(inits[src].dims)
                dq(src, const.data.reshape(shape).astype(np.int32), const.quant, TensorProto.INT32, 0)
            else:
                real = numpy_helper.to_array(inits[src]).astype(f32)
                qp = const.quant
                r = real / f32(qp.scale[0])
                ints = np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5) + qp.zero_point[0], -128, 127).astype(np.int8)
                dq(src, ints, qp, TensorProto.INT8, None)
    # activations: producer keeps the name t, Q(t) -> t_q, DQ -> t_dq, readers take t_dq;
    # a graph output t keeps its name: the producer writes t_f and the DQ writes t
    outputs = {o.name for o in g.output}
    rename_out: dict[str, str] = {}
    read_as: dict[str, str] = {}
    qdq_nodes = []
    present = {v.name for v in g.input} | {o for n in g.node for o in n.output}
    for t in list(tensors):
        qp = act_quant(t)
        if qp is None or t not in present:
            continue
        src = f"{t}_f" if t in outputs else t
        dst = t if t in outputs else f"{t}_dq"
        if t in outputs:
            rename_out[t] = src
        else:
            read_as[t] = dst
        sc, zp = numpy_helper.from_array(np.asarray(qp.scale[0], f32), f"{t}_scale"), numpy_helper.from_array(
            np.asarray(qp.zero_point[0], np.int8), f"{t}_zero_point")
        new_inits.extend([sc, zp])
        qdq_nodes.append(helper.make_node("QuantizeLinear", [src, sc.name, zp.name], [f"{t}_q"], name=f"{t}_QuantizeLinear"))
        qdq_nodes.append(helper.make_node("DequantizeLinear", [f"{t}_q", sc.name, zp.name], [dst], name=f"{t}_DequantizeLinear"))
    body = []
    for n in g.node:
        n = copy.deepcopy(n)
        for i, x in enumerate(n.input):
            if x in read_as:
                n.input[i] = read_as[x]
        for i, x in enumerate(n.output):
            if x in rename_out:
                n.output[i] = rename_out[x]
        body.append(n)
    used = {i for n in g.node for i in n.input} | {i for n in new_nodes + qdq_nodes + body for i in n.input}
    kept = [t for t in g.initializer if t.name not in drop and t.name in used]
    del g.node[:]
    g.node.extend(new_nodes + qdq_nodes + body)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    del g.value_info[:]
    qn = qgraph.meta.get("quantization", {})
    m.metadata_props.append(onnx.StringStringEntryProto(key="edgekiln_quantization", value=str(qn)))
    return _sorted(m)


def _drop_folded_batch_norms(m, qgraph: Graph, tensors: dict, sources: dict, aliases: dict) -> None:
    """A BatchNormalization the frontend folded into the conv before it (its input and output
    are one IR tensor) leaves the file: the conv's initializers then carry the IR's folded
    integers (a conv without a bias gets one)."""
    from onnx import numpy_helper

    g = m.graph
    outputs = {o.name for o in g.output}
    writers = {o: n for n in g.node for o in n.output}
    for bn in [n for n in g.node if n.op_type == "BatchNormalization"]:
        x, y = bn.input[0], bn.output[0]
        if tensors.get(x) is None or tensors.get(x) != tensors.get(y) or writers.get(x) is None:
            continue
        conv = writers[x]
        ir_out = aliases.get(tensors[x], tensors[x])
        node = next((n for n in qgraph.nodes if n.op == "conv" and n.outputs[0] == ir_out), None)
        if conv.op_type != "Conv" or node is None:
            continue
        if len(node.inputs) > 2 and sources.get(node.inputs[2]) is None:
            name = f"{conv.name or x}_folded_bias"
            g.initializer.append(numpy_helper.from_array(np.zeros(qgraph.constants[node.inputs[2]].data.shape, f32), name))
            while len(conv.input) < 3:
                conv.input.append("")
            conv.input[2] = name
            sources[node.inputs[2]] = name
        old, new = (x, y) if y in outputs else (y, x)
        g.node.remove(bn)
        for n in g.node:
            for i, v in enumerate(n.input):
                if v == old:
                    n.input[i] = new
            for i, v in enumerate(n.output):
                if v == old:
                    n.output[i] = new
        writers = {o: n for n in g.node for o in n.output}


def _sorted(m):
    """Nodes in topological order (QDQ pairs go right after their producers)."""
    g = m.graph
    ready = {i.name for i in g.input} | {t.name for t in g.initializer} | {""}
    pending = list(g.node)
    order = []
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.input):
                order.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise UnsupportedModelError(f"QDQ graph has a cycle or a missing tensor at {rest[0].op_type} {rest[0].name}")
        pending = rest
    del g.node[:]
    g.node.extend(order)
    return m
