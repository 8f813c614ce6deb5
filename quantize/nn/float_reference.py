"""Float32 interpreter of network graphs (IR version 2): the golden model of float kernels.

Tensors are channel-last (see docs/networks.md); constants come from `graph.constants`.
Sums accumulate in float64 and are stored as float32, so results sit within float32
rounding of onnxruntime's."""
from __future__ import annotations

from typing import Callable

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.registry import Registry
from edgekiln.ir import Graph, Node

from . import geometry

Kernel = Callable[[Node, list], np.ndarray]
_KERNELS: Registry[Kernel] = Registry()
kernel = _KERNELS.register  # @kernel("op", ...)



def activation(y: np.ndarray, name: str | None) -> np.ndarray:
    if name in (None, "none"):
        return y
    if name == "relu":
        return np.maximum(y, 0)
    if name == "relu6":
        return np.clip(y, 0, 6)
    if name == "relu_n1_to_1":
        return np.clip(y, -1, 1)
    raise UnsupportedModelError(f"fused activation {name!r} is not supported")


def _f32(y) -> np.ndarray:
    return np.asarray(y, dtype=np.float32)


@kernel("conv")
def _conv(node: Node, a: list) -> np.ndarray:
    x, w = a[0].astype(np.float64), a[1].astype(np.float64)
    y = geometry.conv_accumulate(x, w, node.attrs)
    if len(a) > 2 and a[2] is not None:
        y = y + a[2].astype(np.float64)
    return _f32(activation(y, node.attrs.get("activation")))


@kernel("fully_connected")
def _fc(node: Node, a: list) -> np.ndarray:
    x, w = a[0].astype(np.float64), a[1].astype(np.float64)
    y = x.reshape(-1, w.shape[1]) @ w.T
    if len(a) > 2 and a[2] is not None:
        y = y + a[2]
    if node.attrs.get("keep_num_dims"):
        y = y.reshape(a[0].shape[:-1] + (w.shape[0],))
    return _f32(activation(y, node.attrs.get("activation")))


@kernel("matmul")
def _matmul(node: Node, a: list) -> np.ndarray:
    return _f32(np.matmul(a[0].astype(np.float64), a[1].astype(np.float64)))


@kernel("add", "sub", "mul")
def _binary(node: Node, a: list) -> np.ndarray:
    f = {"add": np.add, "sub": np.subtract, "mul": np.multiply}[node.op]
    return _f32(activation(f(a[0], a[1]), node.attrs.get("activation")))


@kernel("relu", "clip", "sigmoid", "tanh", "hard_swish", "leaky_relu")
def _unary(node: Node, a: list) -> np.ndarray:
    x = a[0]
    if node.op == "relu":
        return np.maximum(x, np.float32(0))
    if node.op == "clip":
        return _f32(np.clip(x, node.attrs.get("min", -np.inf), node.attrs.get("max", np.inf)))
    if node.op == "sigmoid":
        return _f32(1.0 / (1.0 + np.exp(-x.astype(np.float64))))
    if node.op == "tanh":
        return _f32(np.tanh(x.astype(np.float64)))
    if node.op == "hard_swish":
        x64 = x.astype(np.float64)
        return _f32(x64 * np.clip(x64 / 6.0 + 0.5, 0, 1))
    return _f32(np.where(x >= 0, x, x * np.float32(node.attrs["alpha"])))


@kernel("avg_pool", "max_pool")
def _pool(node: Node, a: list) -> np.ndarray:
    if node.op == "max_pool":
        y = geometry.pool(a[0], node.attrs, "max")
    else:
        total, count = geometry.pool(a[0].astype(np.float64), node.attrs, "avg")
        y = total / count
    return _f32(activation(y, node.attrs.get("activation")))


@kernel("reshape")
def _reshape(node: Node, a: list) -> np.ndarray:
    return a[0].reshape(node.attrs["shape"])


@kernel("transpose")
def _transpose(node: Node, a: list) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(a[0], node.attrs["perm"]))


@kernel("concat")
def _concat(node: Node, a: list) -> np.ndarray:
    return np.concatenate(a, axis=node.attrs["axis"])


@kernel("pad")
def _pad(node: Node, a: list) -> np.ndarray:
    p = node.attrs["pads"]
    r = a[0].ndim
    return np.pad(a[0], [(p[i], p[i + r]) for i in range(r)], constant_values=node.attrs.get("value", 0.0))


@kernel("softmax")
def _softmax(node: Node, a: list) -> np.ndarray:
    x = a[0].astype(np.float64) * node.attrs.get("beta", 1.0)
    e = np.exp(x - x.max(axis=node.attrs["axis"], keepdims=True))
    return _f32(e / e.sum(axis=node.attrs["axis"], keepdims=True))


@kernel("mfcc")
def _mfcc(node: Node, a: list) -> np.ndarray:
    from .mfcc import mfcc  # audio front end (quantize/nn/mfcc.py): [1, samples] -> [1, frames, coefficients, 1]

    return mfcc(a[0], node.attrs)[..., None]  # NHWC: H = frames, W = coefficients, C = 1


def supported_ops() -> list[str]:
    return _KERNELS.names()


def run(graph: Graph, inputs: dict[str, np.ndarray], keep_all: bool = False) -> dict[str, np.ndarray]:
    """Outputs of `graph` for one sample (batch 1, the graph's own input shapes); with
    `keep_all`, every intermediate tensor too."""
    values: dict[str, np.ndarray] = {}
    for v in graph.inputs:
        if v.name not in inputs:
            raise KeyError(f"input {v.name!r} missing")
        values[v.name] = np.asarray(inputs[v.name], dtype=np.float32).reshape(v.dims)
    for name, c in graph.constants.items():
        values[name] = c.data
    for node in graph.nodes:
        fn = _KERNELS.get(node.op)
        if fn is None:
            raise UnsupportedModelError(f"node {node.name}: op {node.op!r} has no float reference kernel")
        values[node.outputs[0]] = fn(node, [values[i] if i else None for i in node.inputs])
    names = [v.name for v in graph.outputs]
    if keep_all:
        return {k: v for k, v in values.items() if k not in graph.constants}
    return {n: values[n] for n in names}

