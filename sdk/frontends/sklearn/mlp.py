"""Multi-layer perceptrons (MLPClassifier, MLPRegressor) in float32: per hidden layer a
`dense` node (y = W x + b, the kernel PCA uses) and an `activation` node working in place on
that node's buffer (relu, tanh, logistic; identity adds none), then the output layer as a `linear` node with scikit-learn's
output activation as its link (softmax, logistic, identity).

Integer (int8) MLPs are left to the network path (docs/networks.md): once its fully connected
kernels land, an MLP becomes that graph instead of new classic kernels.
"""
from __future__ import annotations

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor

from ...errors import UnsupportedModelError
from ...ir import Node
from . import GraphBuilder, class_list, converter

HIDDEN = ("identity", "relu", "tanh", "logistic")


def _hidden_layers(est, b: GraphBuilder) -> tuple[np.ndarray, np.ndarray]:
    """Adds the hidden layers; returns the output layer's (weight rows x inputs, bias)."""
    if est.activation not in HIDDEN:
        raise UnsupportedModelError(f"MLP activation {est.activation!r} is not supported; use one of {', '.join(HIDDEN)}")
    layers = list(zip(est.coefs_, est.intercepts_))
    for w, bias in layers[:-1]:
        w = np.asarray(w, dtype=np.float64).T  # scikit-learn: inputs x outputs
        b.add_transform("dense", w.shape[0], {}, {"weight": w.astype(np.float32),
                                                  "bias": np.asarray(bias).astype(np.float32)})
        if est.activation != "identity":  # in place: the dense layer's buffer is its input and output
            b.nodes.append(Node("activation", f"activation{len(b.nodes)}", [b.current], [b.current],
                                {"fn": est.activation}, {}))
    w, bias = layers[-1]
    return np.asarray(w, dtype=np.float64).T, np.asarray(bias, dtype=np.float64)


@converter(MLPClassifier)
def convert_mlp_classifier(est, b: GraphBuilder) -> None:
    if est.out_activation_ not in ("softmax", "logistic") or getattr(est, "_label_binarizer").y_type_ == "multilabel-indicator":
        raise UnsupportedModelError("multi-label MLPClassifier is not supported; fit one model per label "
                                    "(binary and multiclass classifiers are)")
    w, bias = _hidden_layers(est, b)
    n_classes = len(est.classes_)
    link = "softmax" if est.out_activation_ == "softmax" else "sigmoid"
    b.add_final("linear", "classify", {"link": link, "n_rows": w.shape[0]},
                {"weight": w.astype(np.float32), "bias": bias.astype(np.float32)},
                classes=class_list(est), n_scores=n_classes, score_kind="proba")


@converter(MLPRegressor)
def convert_mlp_regressor(est, b: GraphBuilder) -> None:
    if getattr(est, "out_activation_", "identity") != "identity":
        raise UnsupportedModelError(f"MLPRegressor(loss={getattr(est, 'loss', '?')!r}) has the output activation "
                                    f"{est.out_activation_!r}; only loss='squared_error' (identity output) is supported")
    w, bias = _hidden_layers(est, b)
    if w.shape[0] != 1:
        raise UnsupportedModelError(f"MLPRegressor was fitted with {w.shape[0]} targets; edgekiln exports "
                                    "single-target regressors. Fit one model per target.")
    b.add_final("linear", "regress", {"link": "identity", "n_rows": 1},
                {"weight": w.astype(np.float32), "bias": bias.astype(np.float32)}, n_values=1)
