"""Add, Sub, Mul (numpy broadcasting, constants folded or permuted to the activation's
layout) and the activations Relu, Clip (Relu6), Sigmoid, Tanh, HardSwish, LeakyRelu."""
from __future__ import annotations

import numpy as np

from ...errors import ModelLoadError, UnsupportedModelError
from . import attrs_of, onnx_op
from ._builder import OnnxBuilder

_NUMPY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}


def _const_in_layout(c: np.ndarray, rank: int, perm) -> np.ndarray:
    c = c.astype(np.float32).reshape((1,) * (rank - c.ndim) + c.shape)
    return np.ascontiguousarray(np.transpose(c, perm))


def _broadcast(b: OnnxBuilder, op: str, s1, s2) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(tuple(s1), tuple(s2)))
    except ValueError:
        raise ModelLoadError(f"node {b.node_name}: {op} of shapes {list(s1)} and {list(s2)} cannot be broadcast "
                             "(numpy/ONNX rules: aligned from the last dim, each pair equal or 1); fix the model") from None


@onnx_op("Add", "Sub", "Mul")
def binary(node, b: OnnxBuilder) -> None:
    x, y = node.input[0], node.input[1]
    if b.is_const(x) and b.is_const(y):
        _broadcast(b, node.op_type, b.consts[x].shape, b.consts[y].shape)
        b.consts[node.output[0]] = _NUMPY[node.op_type](b.consts[x], b.consts[y])
        return
    op = node.op_type.lower()
    if b.is_const(x) or b.is_const(y):
        act_name, c = (y, b.consts[x]) if b.is_const(x) else (x, b.consts[y])
        a = b.act(act_name)
        shape = _broadcast(b, node.op_type, *((c.shape, a.shape) if b.is_const(x) else (a.shape, c.shape)))
        if len(shape) != len(a.shape) or shape != a.shape:
            raise UnsupportedModelError(f"node {b.node_name}: a constant that broadcasts the activation to {list(shape)}")
        prev = b.last_node_writing(a.ir)
        if (op == "add" and prev is not None and prev.op == "fully_connected" and len(prev.inputs) == 2
                and c.size == a.shape[-1] and b.consumers.get(act_name, 0) == 1):
            prev.inputs.append(b.ir_const(c.reshape(-1).astype(np.float32), f"{prev.name}_b", x if b.is_const(x) else y))
            b.acts[node.output[0]] = a
            return
        k = b.ir_const(_const_in_layout(c, len(a.shape), a.perm), f"{b.node_name}_c", x if b.is_const(x) else y)
        inputs = [k, a.ir] if b.is_const(x) else [a.ir, k]
        b.emit(op, inputs, {}, node.output[0], a.shape, a.perm)
        return
    a, c = b.act(x), b.act(y)
    shape = _broadcast(b, node.op_type, a.shape, c.shape)
    if len(a.shape) == len(c.shape) and a.perm == c.perm:
        # same layout (e.g. a squeeze-excite scale [N, C, 1, 1] on [N, C, H, W], both channel-last):
        # the physical shapes broadcast as the logical ones do, no relayout needed
        b.emit(op, [a.ir, c.ir], {}, node.output[0], shape, a.perm)
    else:
        b.emit(op, [b.plain(x), b.plain(y)], {}, node.output[0], shape)


def _scalar(b: OnnxBuilder, node, i: int, default: float) -> float:
    if len(node.input) > i and node.input[i]:
        return float(np.asarray(b.const(node.input[i], "Clip bound")).reshape(-1)[0])
    return default


@onnx_op("Relu", "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "Clip")
def unary(node, b: OnnxBuilder) -> None:
    at = attrs_of(node)
    a = b.act(node.input[0])
    op = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hard_swish",
          "LeakyRelu": "leaky_relu", "Clip": "clip"}[node.op_type]
    attrs = {}
    if op == "leaky_relu":
        attrs["alpha"] = float(at.get("alpha", 0.01))
    if op == "clip":
        attrs["min"] = _scalar(b, node, 1, float(at.get("min", -np.inf)))
        attrs["max"] = _scalar(b, node, 2, float(at.get("max", np.inf)))
    b.emit(op, [a.ir], attrs, node.output[0], a.shape, a.perm)
