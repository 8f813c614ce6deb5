"""Lowering network nodes (IR version 2): the shared parts of codegen/ops/nn_*.py.

A network node is lowered by its op and its tensor dtypes: `s8` (int8 activations and
weights, TFLite's arithmetic), `s4` (packed int4 weights), `f32` (float32). Each lowering
receives every input and output as a resolved C reference (`CRef`: an arena offset, or a
constant array), emits `static const` parameter structs named after the node (the model's
name is their prefix, so two models link into one firmware), names its kernel file and the
`*_scratch_bytes()` call the scratch probe asks, and counts its MACs.

The int8 parameters (multipliers, shifts, offsets, clamps) are read from
`node.attrs["int8"]`, written by `edgekiln.quantize.nn.requant.prepare_int8`: codegen decides
no integer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from edgekiln.errors import InputError, UnsupportedModelError
from edgekiln.ir import Graph, Node
from edgekiln.ir import pack_int4 as ir_pack_int4

CTYPE = {"int8": "int8_t", "int16": "int16_t", "float32": "float", "int32": "int32_t"}


@dataclass
class CRef:
    """A tensor as C sees it: `expr` is a pointer expression of type `ctype *`."""

    name: str
    expr: str
    ctype: str
    dims: tuple[int, ...]
    nbytes: int


def nhwc(dims: tuple[int, ...]) -> list[int]:
    """ek_dims_t {n, h, w, c} of a channel-last tensor: NHWC, NLC (h = 1), NC (h = w = 1)."""
    d = list(dims)
    if len(d) == 4:
        return d
    if len(d) == 3:
        return [d[0], 1, d[1], d[2]]
    if len(d) == 2:
        return [d[0], 1, 1, d[1]]
    if len(d) == 1:
        return [1, 1, 1, d[0]]
    raise UnsupportedModelError(f"tensors of rank {len(d)} have no NHWC form")


def window_2d(attrs: dict, rank: int) -> dict:
    """stride/pad/dilation of a 1-D or 2-D window as the kernels' (h, w) fields."""
    strides = list(attrs.get("strides", [1] * rank))
    dil = list(attrs.get("dilations", [1] * rank))
    pads = list(attrs.get("pads", [0] * 2 * rank))
    if rank == 1:
        return {"stride_h": 1, "stride_w": strides[0], "dilation_h": 1, "dilation_w": dil[0],
                "pad_top": 0, "pad_left": pads[0]}
    return {"stride_h": strides[0], "stride_w": strides[1], "dilation_h": dil[0], "dilation_w": dil[1],
            "pad_top": pads[0], "pad_left": pads[1]}


def network_dtype(graph: Graph, node: Node) -> str:
    """The lowering key of a network node: s8, s4 or f32 from its tensors' dtypes."""
    out = graph.value(node.outputs[0]).dtype
    if out == "float32":
        return "f32"
    if out == "int8":
        if node.attrs.get("weight_bits", 8) == 4:  # int8 values in [-8, 7], stored packed
            return "s4"
        return "s8"
    raise UnsupportedModelError(f"node {node.name}: output dtype {out} has no network kernel (int8 or float32)")


def pack_int4(node: Node, w: np.ndarray) -> np.ndarray:
    """The *_s4 kernels' storage of a node's int4 weights (edgekiln.ir.pack_int4)."""
    try:
        return ir_pack_int4(w)
    except ValueError:
        raise UnsupportedModelError(f"node {node.name}: weight_bits 4 but weights outside [-8, 7]") from None


def int8_attrs(node: Node) -> dict:
    if "int8" not in node.attrs:
        raise InputError(f"node {node.name!r} has no int8 parameters: the graph must pass through "
                         "edgekiln.quantize.nn.requant.prepare_int8 (edgekiln.export does this)")
    return node.attrs["int8"]


FUSABLE = {"relu": "relu"}
FUSES_INTO = ("conv", "fully_connected", "add", "sub", "mul")  # kernels with an activation range


def fuse_activations(graph: Graph) -> Graph:
    """A float Relu right after a conv, fully connected, add, sub or mul node (its only reader) becomes the
    node's fused activation, as TFLite fuses it; the fused node writes the Relu's output.
    Exact in float (max(x, 0) of the same float32). Returns a new graph; `graph` is kept."""
    readers: dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    outputs = {v.name for v in graph.outputs}
    nodes: list[Node] = []
    dropped: set[str] = set()
    for n in graph.nodes:
        prev = nodes[-1] if nodes else None
        if (n.op in FUSABLE and prev is not None and prev.op in FUSES_INTO
                and prev.attrs.get("activation", "none") == "none" and prev.outputs[0] == n.inputs[0]
                and readers.get(n.inputs[0], 0) == 1 and n.inputs[0] not in outputs
                and graph.value(n.outputs[0]).dtype == "float32"):
            dropped.add(prev.outputs[0])
            nodes[-1] = Node(prev.op, prev.name, prev.inputs, [n.outputs[0]],
                             {**prev.attrs, "activation": FUSABLE[n.op], "fused": [n.name]}, prev.consts)
            continue
        nodes.append(n)
    return replace(graph, nodes=nodes, intermediates=[v for v in graph.intermediates if v.name not in dropped])


class NnLowering:
    """Base of network lowerings: set `template`, `headers`; implement `context`."""

    op: ClassVar[str] = ""
    template: ClassVar[str] = ""
    headers: ClassVar[tuple[str, ...]] = ("ek_nn.h",)
    alias: ClassVar[bool] = False  # output shares the input's bytes (reshape)

    def __init__(self, options: dict | None = None) -> None:
        self.options = dict(options or {})

    @property
    def cores(self) -> int:
        return int(self.options.get("cores", 1))

    def context(self, node: Node, graph: Graph, cid: str, refs: dict[str, CRef]) -> dict:
        """Template variables: must include `arrays` (CArray list), `kernel` (file name or
        None), `scratch` (a probe request without `index`, or None), `macs`."""
        raise NotImplementedError


def act_range_f32(activation: str | None) -> tuple[float, float]:
    return {"none": (-np.inf, np.inf), None: (-np.inf, np.inf), "relu": (0.0, np.inf), "relu6": (0.0, 6.0),
            "relu_n1_to_1": (-1.0, 1.0)}[activation]


def strip_boundary_transposes(graph: Graph) -> tuple[Graph, list[int] | None, list[int] | None]:
    """ONNX graphs arrive channel-first: the frontend puts a `transpose` right after the input
    and right before the output. The device needs neither: its input tensor is the
    transposed one (the host permutes each sample before sending it) and its output the one
    before the last transpose (the host permutes it back). Returns (graph, perm applied to the
    user's input, perm applied to the device's output to give the user's), None where no
    transpose was dropped. A layout change inside the graph still needs a transpose kernel."""
    nodes, inputs, outputs = list(graph.nodes), list(graph.inputs), list(graph.outputs)
    readers: dict[str, int] = {}
    for n in nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    in_perm = out_perm = None
    if nodes and nodes[0].op == "transpose" and nodes[0].inputs[0] == inputs[0].name and readers[inputs[0].name] == 1:
        in_perm = list(nodes[0].attrs["perm"])
        inputs[0] = graph.value(nodes[0].outputs[0])
        nodes = nodes[1:]
    if nodes and nodes[-1].op == "transpose" and nodes[-1].outputs[0] == outputs[0].name \
            and readers.get(nodes[-1].inputs[0], 0) == 1:
        out_perm = list(nodes[-1].attrs["perm"])
        outputs[0] = graph.value(nodes[-1].inputs[0])
        nodes = nodes[:-1]
    if in_perm is None and out_perm is None:
        return graph, None, None
    io = {inputs[0].name, outputs[0].name}
    keep = [v for v in graph.all_values() if v.name not in io and v not in graph.inputs and v not in graph.outputs
            and any(v.name in n.inputs or v.name in n.outputs for n in nodes)]
    return replace(graph, nodes=nodes, inputs=inputs, outputs=outputs, intermediates=keep), in_perm, out_perm
