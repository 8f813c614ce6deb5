"""Linear models: one `linear` node, scores = W x + b, then a link (argmax, sigmoid, softmax)."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import (ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge,
                                  RidgeClassifier, SGDClassifier)
from sklearn.svm import LinearSVC, LinearSVR

from ...errors import UnsupportedModelError
from . import GraphBuilder, class_list, converter


def _coef(est) -> tuple[np.ndarray, np.ndarray]:
    w = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    b = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64)).reshape(-1)
    if b.size == 1 and w.shape[0] > 1:
        b = np.repeat(b, w.shape[0])
    return w, b


@converter(LogisticRegression, alternative_for=("LogisticRegressionCV",))
def convert_logistic(est, b: GraphBuilder) -> None:
    w, bias = _coef(est)
    n_classes = len(est.classes_)
    binary = w.shape[0] == 1
    # sklearn: binary -> sigmoid of one score; multinomial -> softmax over classes.
    link = "sigmoid" if binary else "softmax"
    b.add_final("linear", "classify", {"link": link, "n_rows": w.shape[0]},
                {"weight": w.astype(np.float32), "bias": bias.astype(np.float32)},
                classes=class_list(est), n_scores=n_classes, score_kind="proba")


@converter(LinearSVC, RidgeClassifier, SGDClassifier, alternative_for=("Perceptron", "PassiveAggressiveClassifier"))
def convert_linear_classifier(est, b: GraphBuilder) -> None:
    w, bias = _coef(est)
    binary = w.shape[0] == 1
    b.add_final("linear", "classify", {"link": "sign" if binary else "argmax", "n_rows": w.shape[0]},
                {"weight": w.astype(np.float32), "bias": bias.astype(np.float32)},
                classes=class_list(est), n_scores=w.shape[0], score_kind="decision")


@converter(LinearRegression, Ridge, Lasso, ElasticNet, LinearSVR, alternative_for=("SGDRegressor", "HuberRegressor"))
def convert_linear_regressor(est, b: GraphBuilder) -> None:
    w, bias = _coef(est)
    if w.shape[0] != 1:
        raise UnsupportedModelError(
            f"{type(est).__name__} was fitted with {w.shape[0]} targets; edgekiln exports single-target regressors."
        )
    b.add_final("linear", "regress", {"link": "identity", "n_rows": 1},
                {"weight": w.astype(np.float32), "bias": bias.astype(np.float32)}, n_values=1)
