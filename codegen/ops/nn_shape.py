"""Lowering of network `concat` (any axis, any number of inputs, constants among them) and
`pad` (constant mode, up to 6 dims): int8 (`s8`) and float32 (`f32`). Neither computes: concat
copies each input's rows in turn (int8 inputs with their own scale are requantized as TFLite's
QUANTIZE, quantize decides the integers), pad writes the pad value around the input."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError

from ..lowering import CArray, lowers
from ..nn_lower import NnLowering, int8_attrs
from .nn_elementwise import MAX_DIMS, operand


def _concat_rows(node, dims: list[tuple[int, ...]], out: tuple[int, ...]) -> tuple[int, list[int]]:
    """(outer rows, elements per row of each input) of a concat along the node's axis."""
    r = len(out)
    axis = int(node.attrs["axis"])
    axis = axis + r if axis < 0 else axis
    if not 0 <= axis < r:
        raise UnsupportedModelError(f"node {node.name}: concat axis {node.attrs['axis']} of a rank-{r} output")
    for d in dims:
        if len(d) != r or any(d[i] != out[i] for i in range(r) if i != axis):
            raise UnsupportedModelError(f"node {node.name}: concat along axis {axis} of shapes "
                                        f"{[list(x) for x in dims]} into {list(out)}: the other dims must be equal")
    if sum(d[axis] for d in dims) != out[axis]:
        raise UnsupportedModelError(f"node {node.name}: concat of {[list(x) for x in dims]} does not give {list(out)}")
    return int(np.prod(out[:axis])), [int(np.prod(d[axis:])) for d in dims]


class _Concat(NnLowering):
    template = "nn_concat.c.j2"
    dtype = ""

    def context(self, node, graph, cid, refs) -> dict:
        ins, arrays = [], []
        for k in range(len(node.inputs)):
            ref, arr = operand(node, graph, cid, refs, k, self.dtype)
            ins.append(ref)
            arrays += arr
        y = refs[node.outputs[0]]
        outer, inner = _concat_rows(node, [x.dims for x in ins], y.dims)
        arrays.append(CArray(f"{cid}_inner", np.array(inner, np.int32)))
        q = int8_attrs(node) if self.dtype == "s8" else None
        fn = f"ek_concat_{self.dtype}"
        return {"arrays": arrays, "fn": fn, "kernel": f"{fn}.c", "dtype": self.dtype, "ins": ins, "y": y,
                "outer": outer, "inner": arrays[-1], "q": q, "macs": 0, "scratch": None,
                "ctype": "int8_t" if self.dtype == "s8" else "float"}


@lowers("concat", dtype="s8")
class ConcatS8(_Concat):
    dtype = "s8"


@lowers("concat", dtype="f32")
class ConcatF32(_Concat):
    dtype = "f32"


@lowers("pad", dtype="s8")
@lowers("pad", dtype="f32")
class Pad(NnLowering):
    template = "nn_pad.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        x, y = refs[node.inputs[0]], refs[node.outputs[0]]
        r = len(x.dims)
        pads = [int(p) for p in node.attrs["pads"]]
        if not 1 <= r <= MAX_DIMS:
            raise UnsupportedModelError(f"node {node.name}: pad of a rank-{r} tensor (1 to {MAX_DIMS} dims)")
        if len(pads) != 2 * r or min(pads) < 0:
            raise UnsupportedModelError(f"node {node.name}: pads {pads} for a rank-{r} tensor (2 x {r}, none negative)")
        before, after = pads[:r], pads[r:]
        if tuple(d + b + a for d, b, a in zip(x.dims, before, after)) != tuple(y.dims):
            raise UnsupportedModelError(f"node {node.name}: padding {list(x.dims)} by {pads} does not give {list(y.dims)}")
        s8 = x.ctype == "int8_t"
        fill = [0] * (MAX_DIMS - r)
        return {"arrays": [], "fn": "ek_pad_s8" if s8 else "ek_pad_f32", "kernel": "ek_pad_s8.c" if s8 else "ek_pad_f32.c",
                "dtype": "s8" if s8 else "f32", "x": x, "y": y, "rank": r, "in_dims": list(x.dims) + fill,
                "before": before + fill, "after": after + fill, "s8": s8,
                "value": int8_attrs(node)["value"] if s8 else float(node.attrs.get("value", 0.0)),
                "macs": 0, "scratch": None}
