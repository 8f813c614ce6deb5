"""Gemm and MatMul: a constant right operand becomes `fully_connected` (weights [N, K]);
two activations become `matmul`. A following Add of a [N] constant is folded as the bias
(see elementwise.py)."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from . import attrs_of, onnx_op
from ._builder import OnnxBuilder


@onnx_op("Gemm")
def gemm(node, b: OnnxBuilder) -> None:
    at = attrs_of(node)
    a = b.act(node.input[0])
    if at.get("transA", 0) or len(a.shape) != 2:
        raise UnsupportedModelError(f"node {b.node_name}: Gemm with transA or a non-2-D input is not supported")
    bw = b.const(node.input[1], "B").astype(np.float64)
    w = (bw if at.get("transB", 0) else bw.T) * float(at.get("alpha", 1.0))
    inputs = [b.plain(node.input[0]), b.ir_const(w.astype(np.float32), f"{b.node_name}_w", node.input[1])]
    if len(node.input) > 2 and node.input[2]:
        c = b.const(node.input[2], "C").astype(np.float64) * float(at.get("beta", 1.0))
        if c.size not in (1, w.shape[0]) or (c.ndim == 2 and c.shape[0] != 1):
            raise UnsupportedModelError(f"node {b.node_name}: Gemm bias of shape {list(c.shape)} is not per output")
        inputs.append(b.ir_const(np.broadcast_to(c.reshape(-1), (w.shape[0],)).astype(np.float32), f"{b.node_name}_b", node.input[2]))
    b.emit("fully_connected", inputs, {"keep_num_dims": True}, node.output[0], (a.shape[0], w.shape[0]))


@onnx_op("MatMul")
def matmul(node, b: OnnxBuilder) -> None:
    a = b.act(node.input[0])
    if b.is_const(node.input[1]):
        w = b.const(node.input[1])
        if w.ndim != 2 or w.shape[0] != a.shape[-1]:
            raise UnsupportedModelError(f"node {b.node_name}: MatMul by a constant of shape {list(w.shape)}")
        b.emit("fully_connected", [b.plain(node.input[0]), b.ir_const(np.ascontiguousarray(w.T.astype(np.float32)), f"{b.node_name}_w", node.input[1])],
               {"keep_num_dims": True}, node.output[0], (*a.shape[:-1], w.shape[1]))
        return
    c = b.act(node.input[1])
    shape = np.broadcast_shapes(a.shape[:-2], c.shape[:-2]) + (a.shape[-2], c.shape[-1])
    b.emit("matmul", [b.plain(node.input[0]), b.plain(node.input[1])], {}, node.output[0], shape)
