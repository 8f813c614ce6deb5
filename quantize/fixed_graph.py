"""Prepare a graph for fixed point: fold transforms, choose the input's Q formats.

Scalers and PCA in front of a linear model fold into its weights (exact algebra in
float64, before any rounding), so the device runs one integer dense layer. Scalers in front
of trees were folded by the frontend; scalers in front of distance models stay a float
step at the entry (the one place the device still uses soft float). What remains is one
final node whose fixed-point decisions (quantize/fixed_ops/<op>.py) say which input format
it wants: `input_bits` (16 for multiply-accumulate kernels) and whether all features must
share one format (distances mix features); 0 bits: the kernel reads the float input itself
(trees compare integer keys of the float bits). The op's quantizer then writes its integer
constants and formats into the node (node.consts["*_q"], node.attrs["fixed"]); codegen's
fixed lowerings only read them.
"""
from __future__ import annotations

import copy

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Graph

from .fixed_ops import fixed_op_for
from .fixed_point import calibration_ranges, frac_for


def fold_transforms(graph: Graph) -> tuple[Graph, dict | None]:
    """(graph with only the final node, entry affine {scale, shift} or None)."""
    *transforms, final = graph.nodes
    A = None  # current value = A @ x + c (A None: identity), in float64
    c = np.zeros(graph.n_features)
    diagonal = True
    for node in transforms:
        if node.op == "affine":
            s, t = (node.consts[k].astype(np.float64) for k in ("scale", "shift"))
            A = np.diag(s) if A is None else s[:, None] * A
            c = s * c + t
        elif node.op == "dense":
            W, b = node.consts["weight"].astype(np.float64), node.consts["bias"].astype(np.float64)
            A = W if A is None else W @ A
            c = W @ c + b
            diagonal = False
        else:
            raise UnsupportedModelError(f"fixed point: cannot fold a {node.op!r} step in front of {final.op!r}")
    new = copy.copy(final)
    new.consts, new.attrs = dict(final.consts), dict(final.attrs)  # quantize writes into them
    new.inputs = ["x"]
    entry = None
    # The op names the constants a scaler/PCA in front folds into (W x + b).
    folds = fixed_op_for(final).affine_consts(final)
    if A is not None and folds:
        w_key, b_key = folds
        W, b = final.consts[w_key].astype(np.float64), final.consts[b_key].astype(np.float64)
        new.consts[w_key], new.consts[b_key] = W @ A, W @ c + b
    elif A is not None:
        if not diagonal:
            raise UnsupportedModelError(f"fixed point supports PCA only in front of a linear model, not {final.op!r}; "
                                        "use --dtype float32")
        entry = {"scale": np.diag(A).astype(np.float32).tolist(), "shift": c.astype(np.float32).tolist()}
    g = copy.copy(graph)
    g.nodes, g.intermediates = [new], []
    g.meta = {**graph.meta, "nan_policy": {**graph.meta.get("nan_policy", {}),
                                           "nan": "fixed-point models take finite inputs (NaN has no Q value)"}}
    return g, entry


def apply_entry(X: np.ndarray, entry: dict | None) -> np.ndarray:
    """The entry step as the device computes it: float32 x * scale, then + shift."""
    X32 = np.asarray(X, dtype=np.float32)
    if entry is None:
        return X32
    return X32 * np.asarray(entry["scale"], np.float32) + np.asarray(entry["shift"], np.float32)


def prepare_fixed(graph: Graph, X_calib: np.ndarray, headroom_bits: int = 1) -> tuple[Graph, dict]:
    """The rewritten graph, its node quantized, and the fixed-point plan saved in
    project.json (options["fixed"]).

    headroom_bits: integer bits beyond the training range (1: inputs up to twice the largest
    training magnitude are represented, larger ones saturate)."""
    g, entry = fold_transforms(graph)
    op = fixed_op_for(g.nodes[0])
    ranges = calibration_ranges(apply_entry(calibration_ranges_input(X_calib, graph), entry), graph.n_features)
    held = ranges * 2.0 ** headroom_bits
    bits = op.input_bits
    if bits == 0:  # the kernel reads the float inputs itself (trees compare their keys)
        frac = []
    elif op.shared_input_format:
        frac = [frac_for(float(held.max()), bits)] * graph.n_features
    else:
        frac = [frac_for(float(r), bits) for r in held]
    plan = {"input_bits": bits, "input_frac": frac, "input_max_abs": ranges.tolist(), "headroom_bits": headroom_bits,
            "entry_affine": entry}
    op.quantize(g.nodes[0], plan)
    return g, plan


def calibration_ranges_input(X: np.ndarray, graph: Graph) -> np.ndarray:
    calibration_ranges(X, graph.n_features)  # shape and finiteness checks with clear errors
    return np.asarray(X, dtype=np.float32)
