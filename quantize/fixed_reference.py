"""Numpy golden model of the fixed-point kernels: the same integers as the C, so tests can
demand bit-exact equality (labels and decision values) on every target and core count.

It reads the integer constants prepare_fixed wrote into the IR and dispatches per op
through quantize/fixed_ops (each op's `predict_labels`); nothing here comes from codegen.
"""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Graph

from .fixed_graph import apply_entry
from .fixed_ops import fixed_op_for
from .fixed_ops.linear import dense_accumulators
from .fixed_ops.nearest_centroid import distances as _distances
from .fixed_point import dequantize, quantize_floor


def quantized_input(X: np.ndarray, plan: dict) -> np.ndarray:
    """xq as model.c computes it: the entry scaler in float32, then floor into the Q formats."""
    frac = np.asarray(plan["input_frac"], dtype=np.int64)
    return quantize_floor(apply_entry(X, plan.get("entry_affine")), frac[None, :], plan["input_bits"])


def linear_scores(graph: Graph, plan: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(integer accumulators, dequantized float32 scores) of the fixed `linear` node (or the
    pair decisions of a linear-kernel `svc`)."""
    node = graph.nodes[0]
    acc = dense_accumulators(node, quantized_input(X, plan))
    return acc, dequantize(acc, node.attrs["fixed"]["frac"])


def distances(graph: Graph, plan: dict, X: np.ndarray) -> np.ndarray:
    """Integer distances from each row of X to every stored point (centroids or kNN rows)."""
    node = graph.nodes[0]
    return _distances(node, "centroids" if node.op == "nearest_centroid" else "points", quantized_input(X, plan))


def predict_labels(graph: Graph, plan: dict, X: np.ndarray) -> np.ndarray:
    """Class (or cluster) indices the fixed-point C computes, first index on ties."""
    node = graph.nodes[0]
    if plan["input_bits"] == 0:
        raise UnsupportedModelError(f"no fixed-point golden model for {node.op!r} (trees decide as float32)")
    return fixed_op_for(node).predict_labels(node, plan, quantized_input(X, plan))
