"""Anomaly detection: IsolationForest (an `iforest` node) and OneClassSVM (an `svc` node).

Both are classifiers with the classes [-1, 1] (outlier, inlier) and one decision value,
`decision_function`; `score_samples` is decision + the final node's attrs["score_offset"]
(scikit-learn's own definition for both: decision_function = score_samples - offset_).

IsolationForest, as scikit-learn computes it (sklearn/ensemble/_iforest.py):
  path(tree, x) = depth(leaf) + c(n_leaf) - 1.0      (float64; depth of the root is 1)
  D(x)          = sum of path over the trees, added in tree order (float64)
  score_samples = -2 ** (-D / (n_trees * c(max_samples)))
  c(n) = 0 (n <= 1), 1 (n == 2), 2 (ln(n - 1) + euler_gamma) - 2 (n - 1) / n.
The per-leaf path values are computed here with numpy exactly as scikit-learn does and stored
as float64; the device adds them in tree order in double, so D is bit-identical to
scikit-learn's. Labels compare D with the threshold `depth_threshold` finds with numpy's own
arithmetic (no pow on the device for predict); scores use the device's pow.
Splits use the trees' rule (float32 x <= largest float32 <= threshold64),
NaN follows the tree's learned `missing_go_to_left`.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from ...errors import UnsupportedModelError
from . import GraphBuilder, converter, graph_pass
from .svm import _kernel_attrs, _to_primal
from .trees import floor_float32

LEAF = 0x8000  # child codes >= LEAF are leaves: code - LEAF indexes the path table


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n), with scikit-learn's formula and operation order (float64)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros(n.shape)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _tree_tables(est) -> dict[str, np.ndarray]:
    subsample = est._max_features != est.n_features_in_
    feature, threshold, left, right, nan_left, base, root = [], [], [], [], [], [], []
    paths: dict[float, int] = {}
    pl_lists = getattr(est, "_decision_path_lengths", None)
    apl_lists = getattr(est, "_average_path_length_per_tree", None)

    def leaf_code(value: float) -> int:
        key = float(value)
        if key not in paths:
            paths[key] = len(paths)
        if paths[key] >= LEAF:
            raise UnsupportedModelError(f"IsolationForest has more than {LEAF} distinct leaf path lengths")
        return LEAF + paths[key]

    for t_idx, tree in enumerate(est.estimators_):
        t = tree.tree_
        if pl_lists is not None and apl_lists is not None:
            depth, apl = np.asarray(pl_lists[t_idx]), np.asarray(apl_lists[t_idx])
        else:  # the arrays scikit-learn precomputes at fit, recomputed the same way
            depth, apl = t.compute_node_depths(), average_path_length(t.n_node_samples)
        leaf_path = depth + apl - 1.0  # scikit-learn: (depth + c(n)) - 1.0, float64
        cols = np.asarray(est.estimators_features_[t_idx]) if subsample else None
        thr = floor_float32(t.threshold)
        go_left = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=np.uint8))
        order, index, stack = [], {}, [0]
        while stack:  # preorder over split nodes
            n = stack.pop()
            if t.children_left[n] == -1:
                continue
            index[n] = len(order)
            order.append(n)
            stack += [t.children_right[n], t.children_left[n]]
        if len(order) >= LEAF:
            raise UnsupportedModelError(f"an IsolationForest tree has {len(order)} splits; at most {LEAF - 1} "
                                        "are supported (lower max_samples)")

        def code(n: int) -> int:
            return leaf_code(leaf_path[n]) if t.children_left[n] == -1 else index[n]

        base.append(len(feature))
        root.append(code(0))
        for n in order:
            f = int(t.feature[n])
            feature.append(int(cols[f]) if cols is not None else f)
            threshold.append(thr[n])
            left.append(code(t.children_left[n]))
            right.append(code(t.children_right[n]))
            nan_left.append(bool(go_left[n]))
    return {
        "feature": np.asarray(feature, dtype=np.uint16),
        "threshold": np.asarray(threshold, dtype=np.float32),
        "left": np.asarray(left, dtype=np.uint16),
        "right": np.asarray(right, dtype=np.uint16),
        "nan_left": np.asarray(nan_left, dtype=np.uint8),
        "tree_base": np.asarray(base, dtype=np.uint32),
        "tree_root": np.asarray(root, dtype=np.uint16),
        "path": np.asarray(list(paths), dtype=np.float64),
    }


def _decision(depth: float, denominator: float, offset: float) -> float:
    """scikit-learn's decision_function for one depth sum, with numpy's arithmetic."""
    d = np.array([depth])
    scores = 2 ** (-np.divide(d, denominator, out=np.ones_like(d), where=denominator != 0))
    return float(-scores[0] - offset)


def depth_threshold(denominator: float, offset: float) -> float:
    """The smallest float64 depth sum D with decision(D) >= 0: scikit-learn predicts -1 exactly
    when D is below it (decision is non-decreasing in D: division and pow are monotone), so
    the device's labels need no pow and equal numpy's for every D. Bisection over the
    non-negative doubles, which are ordered as their bit patterns."""
    if _decision(0.0, denominator, offset) >= 0:
        return -np.inf  # never an outlier
    lo, hi = 0, int(np.float64(np.inf).view(np.int64))  # decision(lo) < 0
    if _decision(np.inf, denominator, offset) < 0:
        return np.inf  # always an outlier
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _decision(float(np.int64(mid).view(np.float64)), denominator, offset) < 0:
            lo = mid
        else:
            hi = mid
    return float(np.int64(hi).view(np.float64))


@converter(IsolationForest)
def convert_isolation_forest(est, b: GraphBuilder) -> None:
    if b.n_features > 0xFFFF:
        raise UnsupportedModelError(f"IsolationForest over {b.n_features} features: at most 65535 are supported")
    consts = _tree_tables(est)
    # scikit-learn: denominator = len(estimators_) * c([max_samples]) (float64)
    denominator = float(len(est.estimators_) * average_path_length(np.array([est._max_samples]))[0])
    attrs = {"n_trees": len(est.estimators_), "denominator": denominator, "score_offset": float(est.offset_),
             "depth_threshold": depth_threshold(denominator, float(est.offset_))}
    b.add_final("iforest", "classify", attrs, consts, classes=[-1, 1], n_scores=1, score_kind="decision")


@converter(OneClassSVM)
def convert_one_class_svm(est, b: GraphBuilder) -> None:
    """libsvm one-class: decision = sum_i dual_coef_i k(sv_i, x) + intercept (scikit-learn's
    public dual_coef_/intercept_), predict = +1 where decision > 0: the binary `svc` form."""
    attrs = _kernel_attrs(est)
    n_sv = int(est.support_vectors_.shape[0])
    attrs.update(n_classes=2, n_sv=n_sv, mode="classify", decision_shape="binary",
                 score_offset=float(np.ravel(est.offset_)[0]))
    consts = {
        "support_vectors": est.support_vectors_.astype(np.float32),
        "dual_coef": np.asarray(est.dual_coef_, dtype=np.float32),
        "intercept": np.asarray(est.intercept_, dtype=np.float32),
        "sv_start": np.array([0, n_sv, n_sv], dtype=np.int32),
    }
    if est.kernel == "linear":
        _to_primal(est, attrs, consts)
    b.add_final("svc", "classify", attrs, consts, classes=[-1, 1], n_scores=1, score_kind="decision")


@graph_pass
def fold_scalers_into_iforest(b: GraphBuilder) -> None:
    """Scalers in front of an IsolationForest fold into its thresholds, as for the trees of
    trees.py (same argument): float32(x*S + H) <= t32  <=>  x < (mid(t32, next) - H) / S for
    S > 0, and the device compares raw x with the largest float32 below that bound."""
    if len(b.nodes) < 2 or b.nodes[-1].op != "iforest" or not all(n.op == "affine" for n in b.nodes[:-1]):
        return
    scale, shift = np.ones(b.n_features), np.zeros(b.n_features)
    for n in b.nodes[:-1]:
        scale, shift = scale * n.consts["scale"], shift * n.consts["scale"] + n.consts["shift"]
    if np.any(scale <= 0):
        return
    forest = b.nodes[-1]
    t32, feat = forest.consts["threshold"], forest.consts["feature"].astype(np.int64)
    mid = (t32.astype(np.float64) + np.nextafter(t32, np.float32(np.inf)).astype(np.float64)) / 2.0
    bound = (mid - shift[feat]) / scale[feat]
    raw = bound.astype(np.float32)
    too_high = raw.astype(np.float64) >= bound
    raw[too_high] = np.nextafter(raw[too_high], np.float32(-np.inf))
    forest.consts["threshold"] = raw
    forest.inputs = ["x"]
    forest.attrs["folded_scalers"] = len(b.nodes) - 1
    b.nodes, b.intermediates = [forest], []
