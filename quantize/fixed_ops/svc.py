"""Fixed point for `svc` with a linear kernel (folded at export into one weight row per
class pair, `linear_primal`): the dense quantizer of linear.py, one-vs-one votes in
integers. Other kernels need exp/pow/tanh per support vector and stay float32."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Node

from . import fixed_op
from .linear import LinearFixed, dense_accumulators


@fixed_op("svc")
class SvcFixed(LinearFixed):
    report_op = "svc (linear)"

    def affine_consts(self, node: Node) -> tuple[str, str]:
        if node.attrs["kernel"] != "linear_primal":
            raise UnsupportedModelError(
                f"--dtype fixed is not offered for an SVM with the {node.attrs['kernel']!r} kernel: rbf/poly/sigmoid "
                "need exp/pow/tanh per support vector. Use --dtype float32 (linear kernels are covered)")
        return "support_vectors", "intercept"  # one weight row per class pair: W x + b

    def predict_labels(self, node: Node, plan: dict, xq: np.ndarray) -> np.ndarray:
        """libsvm one-vs-one votes on the integer pair decisions, first class on ties."""
        acc = dense_accumulators(node, xq)
        nc = node.attrs["n_classes"]
        if nc == 2:
            return (acc[:, 0] > 0).astype(np.int64)
        pairs = [(i, j) for i in range(nc) for j in range(i + 1, nc)]
        votes = np.zeros((len(xq), nc), np.int64)
        for p, (i, j) in enumerate(pairs):
            votes[np.arange(len(xq)), np.where(acc[:, p] > 0, i, j)] += 1
        return np.argmax(votes, axis=1)
