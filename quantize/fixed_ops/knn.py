"""Fixed point for `knn` (uniform weights): int16 training rows in the input's shared Q
format, exact integer distances, the k nearest with earlier rows first on ties."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Node

from . import FixedOp, fixed_op
from .nearest_centroid import distances, quantize_points


@fixed_op("knn")
class KnnFixed(FixedOp):
    input_bits = 16
    shared_input_format = True

    def quantize(self, node: Node, plan: dict) -> None:
        if node.attrs["weights"] != "uniform":
            raise UnsupportedModelError("--dtype fixed covers kNN with weights='uniform' (1/distance weights need "
                                        "float division); use --dtype float32")
        quantize_points(node, "points", plan)

    def predict_labels(self, node: Node, plan: dict, xq: np.ndarray) -> np.ndarray:
        k = node.attrs["k"]
        nearest = np.argsort(distances(node, "points", xq), axis=1, kind="stable")[:, :k]  # earlier rows first
        votes = np.stack([np.bincount(row, minlength=node.attrs["n_classes"])
                          for row in node.consts["labels"][nearest]])
        return np.argmax(votes, axis=1)
