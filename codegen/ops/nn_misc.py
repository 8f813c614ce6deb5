"""Lowering of network `softmax` (last axis; int8 `s8` and float32 `f32`) and `reshape` (an
alias: no code, the arena planner gives its output the input's bytes). add/sub/mul:
nn_elementwise.py."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError

from ..lowering import lowers
from ..nn_lower import NnLowering, int8_attrs


def _rows(node, x) -> tuple[int, int]:
    axis = int(node.attrs.get("axis", -1))
    if axis not in (-1, len(x.dims) - 1):
        raise UnsupportedModelError(f"node {node.name}: softmax over axis {axis} (the last axis only)")
    return int(np.prod(x.dims[:-1])), int(x.dims[-1])


@lowers("softmax", dtype="s8")
class SoftmaxS8(NnLowering):
    template = "nn_softmax.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        x = refs[node.inputs[0]]
        rows, size = _rows(node, x)
        return {"arrays": [], "fn": "ek_softmax_s8", "kernel": "ek_softmax_s8.c", "dtype": "s8", "q": int8_attrs(node),
                "rows": rows, "row_size": size, "x": x, "y": refs[node.outputs[0]], "macs": 0, "scratch": None}


@lowers("softmax", dtype="f32")
class SoftmaxF32(NnLowering):
    template = "nn_softmax.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        x = refs[node.inputs[0]]
        rows, size = _rows(node, x)
        return {"arrays": [], "fn": "ek_softmax_f32", "kernel": "ek_softmax_f32.c", "dtype": "f32", "q": None,
                "rows": rows, "row_size": size, "x": x, "y": refs[node.outputs[0]], "macs": 0, "scratch": None}


@lowers("reshape", dtype="s8")
@lowers("reshape", dtype="f32")
class Reshape(NnLowering):
    template = "nn_reshape.c.j2"
    alias = True

    def context(self, node, graph, cid, refs) -> dict:
        return {"arrays": [], "fn": None, "kernel": None, "dtype": "alias", "x": refs[node.inputs[0]],
                "y": refs[node.outputs[0]], "macs": 0, "scratch": None}
