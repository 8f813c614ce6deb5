"""Fixed point for `nearest_centroid` (KMeans, NearestCentroid): int16 centroids in the
input's shared Q format, exact integer distances, argmin in integers."""
from __future__ import annotations

import numpy as np

from edgekiln.ir import Node

from ..fixed_point import quantize_round
from . import FixedOp, accumulator_bits, accumulator_text, fixed_op


def quantize_points(node: Node, key: str, plan: dict) -> None:
    """int16 points (node.consts[key + "_q"]) in the shared input format; int32 distances when
    no int16 input can overflow them, else int64 (widened, and reported)."""
    points, metric = node.consts[key], node.attrs["metric"]
    frac = int(plan["input_frac"][0])
    P = quantize_round(points, frac, 16)
    diff = 32767 + np.abs(P).max(initial=0)  # |x - p| for any int16 x
    worst = float(points.shape[1] * (diff if metric == "manhattan" else diff * diff))
    bits = accumulator_bits(worst)
    node.consts[f"{key}_q"] = P.astype(np.int16)
    node.attrs["fixed"] = {
        "frac": frac, "acc_bits": bits,
        "report": {"op": node.op, "points": "int16", "frac": frac, "worst_accumulator": worst,
                   "accumulator": accumulator_text(bits),
                   # flooring the input (< 1 unit) plus rounding the point (<= 0.5 unit)
                   "coordinate_error_bound": 1.5 * 2.0 ** -frac}}


def distances(node: Node, key: str, xq: np.ndarray) -> np.ndarray:
    """Golden model: integer distances from each row of xq to every stored point."""
    P = node.consts[f"{key}_q"].astype(np.int64)
    d = xq[:, None, :] - P[None, :, :]
    return np.abs(d).sum(axis=2) if node.attrs["metric"] == "manhattan" else (d * d).sum(axis=2)


@fixed_op("nearest_centroid")
class NearestCentroidFixed(FixedOp):
    input_bits = 16
    shared_input_format = True

    def quantize(self, node: Node, plan: dict) -> None:
        quantize_points(node, "centroids", plan)

    def predict_labels(self, node: Node, plan: dict, xq: np.ndarray) -> np.ndarray:
        return np.argmin(distances(node, "centroids", xq), axis=1)
