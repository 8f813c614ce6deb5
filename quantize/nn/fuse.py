"""Fusing activations into the op before them, as TFLite's converter does: a relu, relu6
(clip 0..6) or relu_n1_to_1 (clip -1..1) that is the only reader of a conv,
fully_connected, add, sub or mul output becomes that op's `activation` attribute; the op
then writes the activation's output tensor. Calibration and quantization run on the fused
graph, so the fused output gets the activation's range (TFLite's int8 form)."""
from __future__ import annotations

import copy

import numpy as np

from edgekiln.ir import Graph

FUSES_INTO = ("conv", "fully_connected", "add", "sub", "mul")


def fused_name(op: str, attrs: dict) -> str | None:
    if op == "relu":
        return "relu"
    if op == "clip":
        lo, hi = float(attrs.get("min", -np.inf)), float(attrs.get("max", np.inf))
        return {(0.0, 6.0): "relu6", (-1.0, 1.0): "relu_n1_to_1", (0.0, np.inf): "relu"}.get((lo, hi))
    return None


def fuse_activations(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """(a fused copy of `graph`, {removed tensor: the tensor that now holds its values})."""
    g = copy.deepcopy(graph)
    readers: dict[str, int] = {}
    for n in g.nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    outputs = {v.name for v in g.outputs}
    writer = {n.outputs[0]: n for n in g.nodes}
    aliases: dict[str, str] = {}
    keep = []
    for n in g.nodes:
        act = fused_name(n.op, n.attrs)
        prev = writer.get(n.inputs[0]) if n.inputs else None
        if (act and prev is not None and prev.op in FUSES_INTO and prev.attrs.get("activation", "none") == "none"
                and readers.get(n.inputs[0], 0) == 1 and n.inputs[0] not in outputs):
            prev.attrs["activation"] = act
            aliases[n.inputs[0]] = n.outputs[0]
            prev.outputs = [n.outputs[0]]
            writer[n.outputs[0]] = prev
            continue
        keep.append(n)
    g.nodes = keep
    g.intermediates = [v for v in g.intermediates if v.name not in aliases]
    for k, v in list(aliases.items()):  # chains resolve to the final tensor
        while v in aliases:
            v = aliases[v]
        aliases[k] = v
    return g, aliases
