"""ONNX frontend: a float32 .onnx graph (opset 11-21) -> IR (version 2), channel-last.

Each op family lives in its own module and registers with `@onnx_op("OpType")`; modules
here are found by file. Before anything is converted, every unsupported op is listed with
its node name in one error. A dynamic batch dimension is fixed to 1; any other dynamic
dimension is an error naming the input."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...errors import InputError, UnsupportedModelError
from ...fingerprint import graph_fingerprint
from ...registry import Registry
from ...ir import Graph, Node, ValueInfo
from ._builder import OnnxBuilder, identity
from ._load import load_model, tensor_to_array

Converter = Callable[[Any, OnnxBuilder], None]
_CONVERTERS: Registry[Converter] = Registry(__name__, __path__)
onnx_op = _CONVERTERS.register  # @onnx_op("Op", ...) in a module of this folder
OPSETS = range(11, 22)




def supported_ops() -> list[str]:
    return _CONVERTERS.names()


def attrs_of(node) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def unsupported(model) -> list[str]:
    """'OpType (node name)' for every node edgekiln cannot convert."""
    return [f"{n.op_type} ({n.name or '#%d' % i})" for i, n in enumerate(model.graph.node)
            if n.domain not in ("", "ai.onnx") or n.op_type not in _CONVERTERS]


def _opset(model) -> int:
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions or versions[0] not in OPSETS:
        raise UnsupportedModelError(f"ONNX opset {versions[0] if versions else 'none'} is not supported "
                                    f"(opset {OPSETS.start}-{OPSETS.stop - 1}; re-export or run onnx.version_converter)")
    return versions[0]


def _input_shape(v) -> tuple[int, ...]:
    from onnx import TensorProto

    t = v.type.tensor_type
    if t.elem_type != TensorProto.FLOAT:
        raise UnsupportedModelError(f"input {v.name!r}: element type {t.elem_type}; float32 ONNX inputs only")
    dims = []
    for i, d in enumerate(t.shape.dim):
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        elif i == 0:
            dims.append(1)  # a dynamic batch is fixed to 1
        else:
            hint = ",".join(str(int(x.dim_value)) if x.HasField("dim_value") and x.dim_value > 0
                            else ("1" if j == 0 else (x.dim_param or "?")) for j, x in enumerate(t.shape.dim))
            raise InputError(f"input {v.name!r}: dimension {i} is dynamic ({d.dim_param or '?'}); give the shape with "
                             f"--input-shape {v.name}:{hint} (numbers for the names; Python: input_shapes=)")
    return tuple(dims)


def parse_input_shapes(specs) -> dict[str, tuple[int, ...]]:
    """`--input-shape` values, 'NAME:D0,D1,...' or 'D0,D1,...' (the model's only input; key '')."""
    out: dict[str, tuple[int, ...]] = {}
    for spec in specs or ():
        name, sep, dims = str(spec).rpartition(":")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(","))
        except ValueError:
            shape = ()
        if not shape or any(d <= 0 for d in shape):
            raise InputError(f"--input-shape {spec!r}: give NAME:D0,D1,... (positive integers), e.g. x:1,49,10,1")
        out[name if sep else ""] = shape
    return out


def fix_input_shapes(model, shapes: dict) -> None:
    """Set the graph inputs' dims of a ModelProto in place (`shapes` from parse_input_shapes or a
    dict of name -> shape); a name the model lacks, or a rank that differs, is an InputError."""
    if not shapes:
        return
    inits = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    shapes = dict(shapes)
    if "" in shapes:
        if len(inputs) != 1:
            raise InputError(f"--input-shape without a name is for a model with one input; this one has "
                             f"{', '.join(v.name for v in inputs)}: give NAME:D0,D1,...")
        shapes[inputs[0].name] = shapes.pop("")
    by_name = {v.name: v for v in inputs}
    for name, shape in shapes.items():
        if name not in by_name:
            raise InputError(f"--input-shape {name}: the model has no input {name!r} (inputs: {', '.join(by_name)})")
        dims = by_name[name].type.tensor_type.shape.dim
        if len(dims) and len(dims) != len(shape):
            raise InputError(f"--input-shape {name}: {len(shape)} dimensions given, input {name!r} has {len(dims)}")
        del dims[:]
        for d in shape:
            dims.add().dim_value = int(d)


def from_onnx(model_or_path, name: str = "model", folder: Path | None = None,
              input_shapes: dict | None = None) -> Graph:
    """Convert an ONNX model (path or ModelProto) into an IR graph; a QDQ graph
    (QuantizeLinear/DequantizeLinear pairs) becomes the int8 IR (qdq.py). `input_shapes`
    ({input name: shape}) fixes dynamic input dimensions (`--input-shape`)."""
    if isinstance(model_or_path, (str, Path)):
        folder = Path(model_or_path).resolve().parent
        model = load_model(model_or_path)
    else:
        model = model_or_path
    if input_shapes:
        import onnx

        fixed = onnx.ModelProto()
        fixed.CopyFrom(model)
        fix_input_shapes(fixed, input_shapes)
        model = fixed
    from . import qdq

    if qdq.is_qdq(model):
        return qdq.from_qdq(model, name, folder)
    missing = unsupported(model)
    if missing:
        raise UnsupportedModelError(f"unsupported ONNX ops: {', '.join(missing)}. Supported: {', '.join(supported_ops())}")
    opset = _opset(model)
    g = model.graph
    consumers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    for o in g.output:
        consumers[o.name] = consumers.get(o.name, 0) + 1
    b = OnnxBuilder(opset, consumers)
    for t in g.initializer:
        b.consts[t.name] = tensor_to_array(t, folder, "initializer")
    inits = set(b.consts)
    inputs = []
    for v in g.input:
        if v.name in inits:
            continue
        shape = _input_shape(v)
        a = b.declare(v.name, shape, identity(len(shape)), b.fresh(v.name))
        inputs.append(b.values[a.ir])
    for node in g.node:
        b.node_name = node.name or node.op_type
        _CONVERTERS.get(node.op_type)(node, b)
    outputs = []
    for o in g.output:
        ir = b.plain(o.name)
        if ir in {v.name for v in inputs}:  # an output that is an input: copy it
            want, shape = b.fresh(o.name), b.act(o.name).shape
            b.values[want] = ValueInfo.tensor(want, shape)
            b.nodes.append(Node("reshape", b.fresh(f"{want}_out"), [ir], [want], {"shape": list(shape)}))
            ir = want
        outputs.append(b.values[ir])
    io = {v.name for v in inputs + outputs}
    graph = Graph(name=name, task="network", inputs=inputs, outputs=outputs, nodes=b.nodes,
                  intermediates=[v for k, v in b.values.items() if k not in io], constants=b.constants)
    graph.meta.update(source="onnx", opset=opset,
                      metadata={p.key: p.value for p in model.metadata_props},
                      onnx_tensors={k: a.ir for k, a in b.acts.items()}, onnx_constants=dict(b.sources))
    graph.meta["fingerprint"] = graph_fingerprint(graph)
    return graph
