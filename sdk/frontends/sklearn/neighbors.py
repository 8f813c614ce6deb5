"""k-nearest neighbours (brute force over the stored training set, or scikit-learn's fitted
kd-tree walked as it walks it): one `knn` node."""
from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from ...errors import UnsupportedModelError
from . import GraphBuilder, class_list, converter


def _metric(est) -> str:
    metric = est.effective_metric_
    p = (est.effective_metric_params_ or {}).get("p", getattr(est, "p", 2))
    if metric in ("euclidean", "l2") or (metric == "minkowski" and p == 2):
        return "euclidean"
    if metric in ("manhattan", "cityblock", "l1") or (metric == "minkowski" and p == 1):
        return "manhattan"
    raise UnsupportedModelError(f"kNN metric {metric!r} is not supported; use euclidean or manhattan")


def _tie_rule(est, consts: dict) -> str:
    """Which of equally far rows counts at the k-th place, as the fitted search chooses: brute
    force keeps a max-heap over the rows in order (as one thread runs it); kd_tree walks its
    tree, exported here (kd_* constants); ball_tree's walk needs float64 square roots and is not
    reproduced: the device keeps the lower row index there (docs/architecture.md, "kNN ties")."""
    method = getattr(est, "_fit_method", None)
    if method == "brute":
        return "sklearn_brute"
    if method == "kd_tree":
        _, idx, nodes, bounds = est._tree.get_arrays()
        consts.update(kd_idx=np.asarray(idx, dtype=np.int32), kd_start=nodes["idx_start"].astype(np.int32),
                      kd_end=nodes["idx_end"].astype(np.int32), kd_leaf=nodes["is_leaf"].astype(np.uint8),
                      kd_bounds=np.asarray(bounds, dtype=np.float64).astype(np.float32))
        return "sklearn_kd_tree"
    return "lower_index"


def _weights(est) -> str:
    if est.weights not in ("uniform", "distance"):
        raise UnsupportedModelError("kNN with callable weights cannot be exported; use 'uniform' or 'distance'")
    return est.weights


@converter(KNeighborsClassifier, alternative_for=("RadiusNeighborsClassifier",))
def convert_knn_classifier(est, b: GraphBuilder) -> None:
    if np.asarray(est._y).ndim != 1:
        raise UnsupportedModelError("multi-output KNeighborsClassifier is not supported; fit one model per output")
    n_classes = len(est.classes_)
    if n_classes > 255:
        raise UnsupportedModelError(f"KNeighborsClassifier with {n_classes} classes: at most 255 are supported")
    attrs = {"metric": _metric(est), "weights": _weights(est), "k": int(est.n_neighbors), "n_classes": n_classes,
             "mode": "classify"}
    consts = {"points": est._fit_X.astype(np.float32), "labels": np.asarray(est._y, dtype=np.uint8)}
    attrs["tie_rule"] = _tie_rule(est, consts)
    b.add_final("knn", "classify", attrs, consts, classes=class_list(est), n_scores=n_classes, score_kind="proba")


@converter(KNeighborsRegressor, alternative_for=("RadiusNeighborsRegressor",))
def convert_knn_regressor(est, b: GraphBuilder) -> None:
    y = np.asarray(est._y, dtype=np.float64)
    if y.ndim != 1:
        raise UnsupportedModelError("multi-output KNeighborsRegressor is not supported; fit one model per output")
    attrs = {"metric": _metric(est), "weights": _weights(est), "k": int(est.n_neighbors), "n_classes": 0,
             "mode": "regress"}
    consts = {"points": est._fit_X.astype(np.float32), "targets": y.astype(np.float32)}
    attrs["tie_rule"] = _tie_rule(est, consts)
    b.add_final("knn", "regress", attrs, consts, n_values=1)
