"""Kernel cases for add/sub/mul with broadcasting, concat and pad (ek_nn_elementwise.h), in the
form benchmarks/nn_kernel_cases.py uses (rendered by nn_kernels/cases/<kind>.h.j2). The int8
parameters come from quantize's own decision (`requant.node_params` on a one-node graph), the
broadcast descriptor from codegen's (`nn_elementwise.broadcast`), and the expected output from
the golden models (int8_reference / float_reference)."""
from __future__ import annotations

import numpy as np

from edgekiln.codegen.ops.nn_elementwise import broadcast
from edgekiln.ir import Constant, Graph, Node, QuantParams, ValueInfo
from edgekiln.quantize.nn import float_reference as fref
from edgekiln.quantize.nn import int8_reference as iref
from edgekiln.quantize.nn.requant import node_params

from .nn_kernel_cases import ACT_F32, _arr, _finish, c_float

MAX_DIMS = 6


def _q(rng, lo=0.005, hi=0.1, zp=None) -> QuantParams:
    return QuantParams([float(np.float32(rng.uniform(lo, hi)))], [int(rng.integers(-128, 128)) if zp is None else zp])


def _int8_params(op: str, ins: list[tuple[str, np.ndarray, QuantParams]], out_shape, qout: QuantParams,
                 attrs: dict) -> tuple[dict, np.ndarray]:
    """(attrs["int8"] as quantize decides them, the golden output) of one int8 node."""
    vals = [ValueInfo.tensor(n, a.shape, "int8", q) for n, a, q in ins]
    y = ValueInfo.tensor("y", tuple(out_shape), "int8", qout)
    node = Node(op, "n", [n for n, _, _ in ins], ["y"], attrs)
    g = Graph("t", "network", vals, [y], [node])
    params = node_params(g, node)
    expect = iref.run(g, {n: a for n, a, _ in ins})["y"]
    return params, expect


def binary_case(rng: np.random.Generator, op: str, *, dtype: str = "s8", a_shape=(1, 4, 4, 3), b_shape=(1, 4, 4, 3),
                activation: str = "none", label: str = "") -> dict:
    out = tuple(np.broadcast_shapes(a_shape, b_shape))
    node = Node(op, "n", ["a", "b"], ["y"], {"activation": activation})
    bc = broadcast(node, a_shape, b_shape, out)
    base = {"kind": "binary", "dtype": dtype, "kernel": f"ek_{op}_{dtype}" if op != "add" or dtype == "f32"
            else "ek_add_bcast_s8", "bc": bc, "macs": int(np.prod(out)), "label": label or f"{a_shape} {op} {b_shape}"}
    if dtype == "f32":
        a = rng.normal(0, 2, a_shape).astype(np.float32)
        b = rng.normal(0, 2, b_shape).astype(np.float32)
        lo, hi = ACT_F32[activation]
        return _finish({**base, "params": {"act_min": c_float(lo), "act_max": c_float(hi)},
                        "params_type": "ek_binary_f32_params_t", "ctype": "float",
                        "arrays": {"a": _arr("float", a), "b": _arr("float", b)},
                        "expect": fref._KERNELS.get(op)(node, [a, b])})
    a = rng.integers(-128, 128, a_shape).astype(np.int8)
    b = rng.integers(-128, 128, b_shape).astype(np.int8)
    q1, q2 = _q(rng), _q(rng)
    qo = _q(rng, 0.01, 0.2) if op != "mul" else _q(rng, 0.0001, 0.005)
    params, expect = _int8_params(op, [("a", a, q1), ("b", b, q2)], out, qo, {"activation": activation})
    return _finish({**base, "params": params, "params_type": "ek_mul_params_t" if op == "mul" else "ek_add_params_t",
                    "ctype": "int8_t", "arrays": {"a": _arr("int8_t", a), "b": _arr("int8_t", b)}, "expect": expect})


def concat_case(rng: np.random.Generator, *, dtype: str = "s8", shapes=((1, 3, 4, 2), (1, 3, 4, 5)), axis: int = 3,
                requantize: bool = False, label: str = "") -> dict:
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    node = Node("concat", "n", [f"x{i}" for i in range(len(shapes))], ["y"], {"axis": axis})
    outer = int(np.prod(out[:axis]))
    inner = [int(np.prod(s[axis:])) for s in shapes]
    base = {"kind": "concat", "dtype": dtype, "kernel": f"ek_concat_{dtype}", "n_inputs": len(shapes), "outer": outer,
            "macs": int(np.prod(out)), "label": label or f"axis {axis} of {len(shapes)}"}
    if dtype == "f32":
        xs = [rng.normal(0, 1, s).astype(np.float32) for s in shapes]
        arrays = {f"x{i}": _arr("float", x) for i, x in enumerate(xs)}
        return _finish({**base, "ctype": "float", "rq": None, "arrays": {**arrays, "inner": _arr("int32_t", inner)},
                        "expect": fref._KERNELS.get("concat")(node, xs)})
    xs = [rng.integers(-128, 128, s).astype(np.int8) for s in shapes]
    qo = _q(rng)
    qs = [_q(rng) if requantize and i % 2 == 0 else qo for i in range(len(shapes))]
    params, expect = _int8_params("concat", [(f"x{i}", x, q) for i, (x, q) in enumerate(zip(xs, qs))], out, qo,
                                  {"axis": axis})
    assert params["requantize"] == requantize
    arrays = {f"x{i}": _arr("int8_t", x) for i, x in enumerate(xs)}
    return _finish({**base, "ctype": "int8_t", "rq": params["inputs"] if requantize else None,
                    "arrays": {**arrays, "inner": _arr("int32_t", inner)}, "expect": expect})


def pad_case(rng: np.random.Generator, *, dtype: str = "s8", shape=(1, 4, 3, 2), pads=(0, 1, 0, 2, 0, 2, 1, 0),
             value: float = 0.0, label: str = "") -> dict:
    r = len(shape)
    out = tuple(d + pads[i] + pads[r + i] for i, d in enumerate(shape))
    node = Node("pad", "n", ["x"], ["y"], {"pads": list(pads), "value": value})
    fill = [0] * (MAX_DIMS - r)
    base = {"kind": "pad", "dtype": dtype, "kernel": f"ek_pad_{dtype}", "rank": r, "in_dims": list(shape) + fill,
            "before": list(pads[:r]) + fill, "after": list(pads[r:]) + fill, "macs": int(np.prod(out)),
            "label": label or f"{shape} pads {list(pads)}"}
    if dtype == "f32":
        x = rng.normal(0, 1, shape).astype(np.float32)
        return _finish({**base, "ctype": "float", "value": c_float(value), "arrays": {"x": _arr("float", x)},
                        "expect": fref._KERNELS.get("pad")(node, [x])})
    x = rng.integers(-128, 128, shape).astype(np.int8)
    q = _q(rng)
    params, expect = _int8_params("pad", [("x", x, q)], out, q, {"pads": list(pads), "value": value})
    return _finish({**base, "ctype": "int8_t", "value": params["value"], "arrays": {"x": _arr("int8_t", x)},
                    "expect": expect})


def elementwise_cases(rng: np.random.Generator, dtypes=("s8", "f32")) -> list[dict]:
    """Same shapes, per-channel vectors, scalars, both sides broadcasting at once, 1-D to 5-D,
    every activation; concat on every axis with two and three inputs; pads on every dim."""
    out = []
    for dt in dtypes:
        for op in ("add", "sub", "mul"):
            out += [binary_case(rng, op, dtype=dt, a_shape=(1, 5, 3, 4), b_shape=(1, 5, 3, 4)),
                    binary_case(rng, op, dtype=dt, a_shape=(1, 5, 3, 4), b_shape=(4,), activation="relu"),
                    binary_case(rng, op, dtype=dt, a_shape=(1, 1, 1, 6), b_shape=(1, 3, 2, 6), activation="relu6"),
                    binary_case(rng, op, dtype=dt, a_shape=(2, 1, 3, 1), b_shape=(1, 4, 1, 5)),
                    binary_case(rng, op, dtype=dt, a_shape=(1, 1, 1, 1), b_shape=(3, 7)),
                    binary_case(rng, op, dtype=dt, a_shape=(2, 3, 1, 2, 3), b_shape=(3, 4, 1, 3),
                                activation="relu_n1_to_1"),
                    binary_case(rng, op, dtype=dt, a_shape=(9,), b_shape=(1,))]
        out += [concat_case(rng, dtype=dt), concat_case(rng, dtype=dt, shapes=((1, 2, 3, 4), (1, 5, 3, 4)), axis=1),
                concat_case(rng, dtype=dt, shapes=((2, 3), (2, 1), (2, 4)), axis=1),
                concat_case(rng, dtype=dt, shapes=((1, 3, 2), (2, 3, 2), (1, 3, 2)), axis=0),
                pad_case(rng, dtype=dt), pad_case(rng, dtype=dt, shape=(5,), pads=(3, 0)),
                pad_case(rng, dtype=dt, shape=(1, 2, 3, 2, 2), pads=(1, 0, 1, 0, 2, 0, 2, 0, 1, 1), value=0.5),
                pad_case(rng, dtype=dt, shape=(1, 3, 3, 1), pads=(0, 0, 0, 0, 0, 0, 0, 0))]
        if dt == "s8":
            out += [concat_case(rng, requantize=True, label="axis 3, requantized"),
                    concat_case(rng, shapes=((1, 2, 2, 3), (1, 2, 2, 1), (1, 2, 2, 2)), requantize=True,
                                label="3 inputs, 2 requantized")]
    return out
