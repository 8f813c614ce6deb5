"""Decision trees and forests (random forest, extra trees): one `tree_ensemble` node.

Layout (see runtime_c/include/ek_tree.h): only split nodes are stored, as parallel arrays
across all trees; a child index >= 0 is a split node, < 0 is `~leaf` into a deduplicated
leaf table. Pure leaves of a forest collapse into n_classes shared rows.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, ExtraTreeRegressor

from ...errors import UnsupportedModelError
from . import GraphBuilder, class_list, converter, graph_pass


def floor_float32(t64: np.ndarray) -> np.ndarray:
    """Largest float32 <= each float64 threshold.

    scikit-learn compares float32 X against float64 thresholds (`x <= t`); with this
    rounding `x32 <= floor32(t)` decides identically for every float32 x.
    """
    t32 = t64.astype(np.float32)
    over = t32.astype(np.float64) > t64
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


class _ForestTables:
    """Collects split nodes of several trees and deduplicates leaf rows."""

    def __init__(self) -> None:
        self.feature: list[int] = []
        self.threshold: list[np.ndarray] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.nan_left: list[bool] = []
        self.roots: list[int] = []
        self.leaf_rows: dict[bytes, int] = {}
        self.leaves: list[np.ndarray] = []

    def leaf(self, row: np.ndarray) -> int:
        row = np.asarray(row, dtype=np.float32)
        key = row.tobytes()
        if key not in self.leaf_rows:
            self.leaf_rows[key] = len(self.leaves)
            self.leaves.append(row)
        return self.leaf_rows[key]

    def add_tree(self, tree, leaf_row) -> None:
        t = tree.tree_
        go_left = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=np.uint8))
        self.add_nodes(t.children_left, t.children_right, t.feature, floor_float32(t.threshold), go_left,
                       lambda n: leaf_row(t.value[n]))

    def add_nodes(self, children_left, children_right, feature, thr32, go_left, leaf_row) -> None:
        """One tree in scikit-learn's array form (node 0 the root, children_left -1 at a leaf):
        split n sends float32 x left when `x <= thr32[n]`, NaN left when go_left[n];
        leaf_row(n) is leaf n's row."""
        base = len(self.feature)
        # Preorder over split nodes so a tree's nodes are contiguous and root comes first.
        index: dict[int, int] = {}
        order = []
        stack = [0]
        while stack:
            n = stack.pop()
            if children_left[n] == -1:
                continue
            index[n] = base + len(order)
            order.append(n)
            stack.append(children_right[n])
            stack.append(children_left[n])

        def child(c: int) -> int:
            if children_left[c] == -1:
                return ~self.leaf(leaf_row(c))
            return index[c]

        if not order:  # a single-leaf tree (constant target)
            self.roots.append(~self.leaf(leaf_row(0)))
            return
        self.roots.append(base)
        for n in order:
            self.feature.append(int(feature[n]))
            self.threshold.append(thr32[n])
            self.left.append(child(children_left[n]))
            self.right.append(child(children_right[n]))
            self.nan_left.append(bool(go_left[n]))

    def consts(self) -> dict[str, np.ndarray]:
        return {
            "feature": np.asarray(self.feature, dtype=np.int32),
            "threshold": np.asarray(self.threshold, dtype=np.float32),
            "left": np.asarray(self.left, dtype=np.int32),
            "right": np.asarray(self.right, dtype=np.int32),
            "nan_left": np.asarray(self.nan_left, dtype=np.uint8),
            "roots": np.asarray(self.roots, dtype=np.int32),
            "leaves": np.stack(self.leaves).astype(np.float32),
        }


def _trees_of(est) -> list:
    return list(getattr(est, "estimators_", [est]))


def _check_single_output(est) -> None:
    if getattr(est, "n_outputs_", 1) != 1:
        raise UnsupportedModelError(
            f"{type(est).__name__} was fitted with {est.n_outputs_} outputs; edgekiln exports single-output "
            "trees. Fit one model per output."
        )


@converter(DecisionTreeClassifier, ExtraTreeClassifier, RandomForestClassifier, ExtraTreesClassifier,
           alternative_for=("AdaBoostClassifier", "BaggingClassifier"))
def convert_tree_classifier(est, b: GraphBuilder) -> None:
    _check_single_output(est)
    tables = _ForestTables()

    def proba_row(value: np.ndarray) -> np.ndarray:
        v = np.asarray(value[0], dtype=np.float64)
        return v / v.sum()  # what each tree's predict_proba returns

    for tree in _trees_of(est):
        tables.add_tree(tree, proba_row)
    consts = tables.consts()
    n_classes = len(est.classes_)
    # Per-leaf argmax: a single tree predicts without touching the probability rows.
    consts["leaf_class"] = np.argmax(consts["leaves"], axis=1).astype(np.int32)
    b.add_final("tree_ensemble", "classify",
                {"mode": "classify", "n_trees": len(tables.roots), "n_classes": n_classes},
                consts, classes=class_list(est), n_scores=n_classes, score_kind="proba")


@converter(DecisionTreeRegressor, ExtraTreeRegressor, RandomForestRegressor, ExtraTreesRegressor,
           alternative_for=("AdaBoostRegressor",))
def convert_tree_regressor(est, b: GraphBuilder) -> None:
    _check_single_output(est)
    tables = _ForestTables()
    for tree in _trees_of(est):
        tables.add_tree(tree, lambda value: np.asarray(value[0][:1], dtype=np.float64))
    b.add_final("tree_ensemble", "regress",
                {"mode": "regress", "n_trees": len(tables.roots), "n_classes": 0},
                tables.consts(), n_values=1)


@graph_pass
def fold_scalers_into_trees(b: GraphBuilder) -> None:
    """Scalers in front of a tree are folded into its thresholds, so the tree still decides
    exactly as scikit-learn does (which compares float32(scaled x) with the threshold).

    float32(x*S + H) <= t32  <=>  x*S + H < mid(t32, next float32)  <=>  x < (mid - H) / S
    for S > 0; the device compares raw x with the largest float32 below that bound.
    """
    if len(b.nodes) < 2 or b.nodes[-1].op != "tree_ensemble":
        return
    chain = b.nodes[:-1]
    if not all(n.op == "affine" for n in chain):
        return
    scale = np.ones(b.n_features)
    shift = np.zeros(b.n_features)
    for n in chain:
        scale, shift = scale * n.consts["scale"], shift * n.consts["scale"] + n.consts["shift"]
    if np.any(scale <= 0):
        return
    tree = b.nodes[-1]
    if tree.attrs.get("input_precision") == "float64":
        raise UnsupportedModelError(
            f"{tree.attrs.get('estimator', 'this model')} compares the scaler's float64 output, which float32 on the "
            "device cannot reproduce exactly; drop the scaler (trees do not need scaled inputs) and refit")
    t32 = tree.consts["threshold"]
    feat = tree.consts["feature"]
    upper = np.nextafter(t32, np.float32(np.inf)).astype(np.float64)
    mid = (t32.astype(np.float64) + upper) / 2.0
    bound = (mid - shift[feat]) / scale[feat]
    raw = bound.astype(np.float32)
    too_high = raw.astype(np.float64) >= bound
    raw[too_high] = np.nextafter(raw[too_high], np.float32(-np.inf))
    tree.consts["threshold"] = raw
    tree.inputs = ["x"]
    tree.attrs["folded_scalers"] = len(chain)
    b.nodes = [tree]
    b.intermediates = []
