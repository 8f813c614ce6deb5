"""Numpy golden model of the fixed-point kernels: the same integers as the C, so tests can
demand bit-exact equality (labels and decision values) on every target and core count."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Graph

from .fixed_graph import apply_entry
from .fixed_point import dequantize, quantize_floor


def quantized_input(X: np.ndarray, plan: dict) -> np.ndarray:
    """xq as model.c computes it: the entry scaler in float32, then floor into the Q formats."""
    frac = np.asarray(plan["input_frac"], dtype=np.int64)
    return quantize_floor(apply_entry(X, plan.get("entry_affine")), frac[None, :], plan["input_bits"])


def linear_scores(graph: Graph, plan: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(integer accumulators, dequantized float32 scores) of the fixed `linear` node (or the
    pair decisions of a linear-kernel `svc`)."""
    from edgekiln.codegen.ops.linear_fixed import quantize_dense

    node = graph.nodes[0]
    w, b = ("support_vectors", "intercept") if node.op == "svc" else ("weight", "bias")
    q = quantize_dense(node.consts[w], node.consts[b], plan["input_frac"], plan["input_max_abs"])
    acc = quantized_input(X, plan) @ q["Wq"].astype(np.int64).T + q["bq"][None, :]
    return acc, dequantize(acc, q["frac"])


def distances(graph: Graph, plan: dict, X: np.ndarray) -> np.ndarray:
    """Integer distances from each row of X to every stored point (centroids or kNN rows)."""
    from edgekiln.codegen.ops.nearest_centroid_fixed import quantize_points

    node = graph.nodes[0]
    points = node.consts["centroids" if node.op == "nearest_centroid" else "points"]
    P = quantize_points(points, plan, node.attrs["metric"])["P"].astype(np.int64)
    d = quantized_input(X, plan)[:, None, :] - P[None, :, :]
    return np.abs(d).sum(axis=2) if node.attrs["metric"] == "manhattan" else (d * d).sum(axis=2)


def predict_labels(graph: Graph, plan: dict, X: np.ndarray) -> np.ndarray:
    """Class (or cluster) indices the fixed-point C computes, first index on ties."""
    node = graph.nodes[0]
    if node.op == "linear":
        acc, _ = linear_scores(graph, plan, X)
        return (acc[:, 0] > 0).astype(np.int64) if acc.shape[1] == 1 else np.argmax(acc, axis=1)
    if node.op == "svc":  # libsvm one-vs-one votes on the integer pair decisions
        acc, _ = linear_scores(graph, plan, X)
        nc = node.attrs["n_classes"]
        if nc == 2:
            return (acc[:, 0] > 0).astype(np.int64)
        pairs = [(i, j) for i in range(nc) for j in range(i + 1, nc)]
        votes = np.zeros((len(X), nc), np.int64)
        for p, (i, j) in enumerate(pairs):
            votes[np.arange(len(X)), np.where(acc[:, p] > 0, i, j)] += 1
        return np.argmax(votes, axis=1)
    if node.op == "nearest_centroid":
        return np.argmin(distances(graph, plan, X), axis=1)
    if node.op == "knn":
        k = node.attrs["k"]
        nearest = np.argsort(distances(graph, plan, X), axis=1, kind="stable")[:, :k]  # earlier rows first
        votes = np.stack([np.bincount(row, minlength=node.attrs["n_classes"])
                          for row in node.consts["labels"][nearest]])
        return np.argmax(votes, axis=1)
    raise UnsupportedModelError(f"no fixed-point golden model for {node.op!r} (trees decide as float32)")
