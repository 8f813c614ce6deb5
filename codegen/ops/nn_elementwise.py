"""Lowering of network `add`, `sub`, `mul` with numpy broadcasting: int8 (`s8`: TFLite's
ADD/SUB/MUL parameters from quantize, `attrs["int8"]`) and float32 (`f32`). Either input may
be a constant (a per-channel bias or scale tensor: a flash array). The shapes become one
`ek_bcast_t` (ek_nn_elementwise.h): size-1 dims dropped, neighbouring dims merged where both
inputs stay contiguous, so a same-shape op is one run (int8 add then calls ek_add_s8)."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError

from ..lowering import CArray, lowers
from ..nn_lower import CRef, NnLowering, act_range_f32, int8_attrs

MAX_DIMS = 6  # EK_NN_MAX_DIMS
NP_DTYPE = {"s8": np.int8, "f32": np.float32}


def operand(node, graph, cid: str, refs: dict, k: int, dtype: str) -> tuple[CRef, list[CArray]]:
    """Input k as a C reference: its arena slot, or a flash array for a constant."""
    name = node.inputs[k]
    if name not in graph.constants:
        return refs[name], []
    data = np.asarray(graph.constants[name].data)
    want = NP_DTYPE[dtype]
    if dtype == "s8" and data.dtype != np.int8:
        raise UnsupportedModelError(f"node {node.name}: constant {name} is {data.dtype}, not int8 (quantize it)")
    arr = CArray(f"{cid}_in{k}", data.astype(want))
    ctype = "int8_t" if dtype == "s8" else "float"
    return CRef(name, arr.name, ctype, tuple(int(d) for d in data.shape), arr.nbytes), [arr]


def _strides(dims: tuple[int, ...], out: tuple[int, ...]) -> list[int]:
    """Element strides of a C-order tensor against the output dims, 0 where it repeats."""
    st, acc = [0] * len(dims), 1
    for d in reversed(range(len(dims))):
        st[d] = acc if dims[d] == out[d] else 0
        acc *= dims[d]
    return st


def broadcast(node, a: tuple[int, ...], b: tuple[int, ...], out: tuple[int, ...]) -> dict:
    """The ek_bcast_t of out = a (op) b under numpy's rules, collapsed; an error naming the
    shapes when they do not broadcast to the output."""
    try:
        shape = tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise UnsupportedModelError(
            f"node {node.name}: {node.op} of shapes {list(a)} and {list(b)} cannot be broadcast (numpy rules: "
            "aligned from the last dim, each pair equal or 1); fix the model's shapes") from None
    if shape != tuple(out):
        raise UnsupportedModelError(f"node {node.name}: {node.op} of {list(a)} and {list(b)} gives {list(shape)}, "
                                    f"but the output is {list(out)}")
    r = len(out)
    a = (1,) * (r - len(a)) + tuple(a)
    b = (1,) * (r - len(b)) + tuple(b)
    dims, sa, sb = [], [], []
    for d, x, y in zip(out, _strides(a, out), _strides(b, out)):
        if d == 1:
            continue
        if dims and sa[-1] == x * d and sb[-1] == y * d:  # merge with the dim before (both contiguous or both 0)
            dims[-1] *= d
            sa[-1], sb[-1] = x, y
            continue
        dims.append(d)
        sa.append(x)
        sb.append(y)
    if not dims:
        dims, sa, sb = [1], [1], [1]
    if len(dims) > MAX_DIMS:
        raise UnsupportedModelError(f"node {node.name}: broadcasting over {len(dims)} dims (at most {MAX_DIMS})")
    pad = [0] * (MAX_DIMS - len(dims))
    return {"rank": len(dims), "out_dims": dims + pad, "a_strides": sa + pad, "b_strides": sb + pad,
            "same": len(dims) == 1 and sa == [1] and sb == [1]}


def binary_context(node, graph, cid, refs, dtype: str) -> dict:
    a, arr_a = operand(node, graph, cid, refs, 0, dtype)
    b, arr_b = operand(node, graph, cid, refs, 1, dtype)
    y = refs[node.outputs[0]]
    bc = broadcast(node, a.dims, b.dims, y.dims)
    return {"arrays": arr_a + arr_b, "x": a, "x2": b, "y": y, "bc": bc, "n": int(np.prod(y.dims)), "macs": 0,
            "scratch": None, "dtype": dtype}


@lowers("add", dtype="s8")
@lowers("sub", dtype="s8")
@lowers("mul", dtype="s8")
class BinaryS8(NnLowering):
    template = "nn_binary.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        c = binary_context(node, graph, cid, refs, "s8")
        fn = {"add": "ek_add_bcast_s8", "sub": "ek_sub_s8", "mul": "ek_mul_s8"}[node.op]
        if node.op == "add" and c["bc"]["same"]:
            fn = "ek_add_s8"  # same shapes: the plain loop (and any override of it)
        return {**c, "fn": fn, "kernel": f"ek_{node.op}_s8.c", "q": int8_attrs(node),
                "params_type": "ek_mul_params_t" if node.op == "mul" else "ek_add_params_t"}


@lowers("add", dtype="f32")
@lowers("sub", dtype="f32")
@lowers("mul", dtype="f32")
class BinaryF32(NnLowering):
    template = "nn_binary.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        c = binary_context(node, graph, cid, refs, "f32")
        lo, hi = act_range_f32(node.attrs.get("activation", "none"))
        fn = f"ek_{node.op}_f32"
        return {**c, "fn": fn, "kernel": f"{fn}.c", "q": None, "act_min": lo, "act_max": hi,
                "params_type": "ek_binary_f32_params_t"}
