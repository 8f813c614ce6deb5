"""Boosted trees from any library -> one `tree_ensemble` node in mode "boost".

Each library's reader (scikit-learn's GradientBoosting*/HistGradientBoosting* in
frontends/sklearn/boosting.py, XGBoost in xgboost_json.py, LightGBM in lightgbm_text.py)
turns its trees into `BoostedTree`s in one form: scikit-learn's node arrays with a float32
threshold `t32` such that the library sends a float32 input x left exactly when `x <= t32`,
and a NaN left exactly when `nan_left`. The device adds, per output k, base[k] and the leaf
values of trees k, k+K, k+2K, ... in tree order (float32), then applies the link.

Exactness (decisions identical to the library for every float32 input):
- scikit-learn (GradientBoosting: float32 x vs float64 t, `x <= t`; HistGradientBoosting:
  float64(x) vs float64 t, `x <= t`) and LightGBM (double(x) <= double t): float32 x <= t64
  holds exactly when x <= t32 = the largest float32 <= t64 (any float32 above t32 is above t64).
- XGBoost compares float32 x < float32 t: x < t holds exactly when x <= t32 = the float32
  just below t (nextafter toward -inf); t = -inf (no float32 below it) is refused.
- NaN follows the learned direction (sklearn's missing_go_to_left, XGBoost's default_left,
  LightGBM's default_left for missing type NaN/Zero; for missing type None LightGBM reads
  NaN as 0.0, so NaN goes where 0.0 goes). ±inf compare like any number.
So every tree reaches the library's leaf. The margins are then sums of the same float32 leaf
values (XGBoost sums in float32; scikit-learn and LightGBM in float64, which differs by
rounding only: within 1e-5 relative), and labels come from those margins (a margin within
rounding of a tie may go either way, as between two float orders in the libraries).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from ..fingerprint import graph_fingerprint
from ..ir import Graph
from .sklearn.trees import floor_float32  # noqa: F401  (the `x <= t64` rule, for the readers)

LINKS = ("identity", "exp", "sigmoid", "softmax")


@dataclass
class BoostedTree:
    """scikit-learn's array form: node 0 the root, children_left == -1 at a leaf."""

    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    t32: np.ndarray          # float32: left when x <= t32
    nan_left: np.ndarray     # bool: NaN goes left
    value: np.ndarray        # float64 leaf values (already scaled by the learning rate)


@dataclass
class Boosted:
    """A boosted model: tree i adds to margin i % n_outputs."""

    trees: list[BoostedTree]
    n_outputs: int
    base: np.ndarray                  # margin before any tree, one per output
    link: str                         # identity | exp | sigmoid | softmax
    task: str                         # classify | regress
    n_features: int
    estimator: str
    classes: list | None = None
    link_scale: float = 1.0           # sigmoid(link_scale * margin) (LightGBM's sigmoid:, sklearn's exponential loss)
    input_precision: str = "float32"  # what the library compares: float32 inputs or float64 (scalers cannot fold)
    feature_names: list | None = None
    nan_policy: dict = field(default_factory=lambda: {"nan": None, "inf": None})


def below_float32(t: np.ndarray) -> np.ndarray:
    """The float32 just below each float32 threshold: `x < t` is `x <= below(t)` (XGBoost)."""
    t = np.asarray(t, dtype=np.float32)
    if np.isneginf(t).any():
        raise UnsupportedModelError("a split compares x < -inf, which no float32 `<=` reproduces; the model is degenerate")
    return np.nextafter(t, np.float32(-np.inf)).astype(np.float32)


def interleave(per_output: list[list[BoostedTree]]) -> list[BoostedTree]:
    """Trees grouped by output -> round robin (tree i adds to margin i % K), each output's
    trees kept in their order; outputs with fewer trees are padded with zero leaves."""
    n = max(len(ts) for ts in per_output)
    zero = BoostedTree(*(np.array([-1]),) * 3, np.zeros(1, np.float32), np.zeros(1, bool), np.zeros(1))
    return [ts[i] if i < len(ts) else zero for i in range(n) for ts in per_output]


def check(m: Boosted) -> None:
    if m.link not in LINKS:
        raise UnsupportedModelError(f"{m.estimator}: link {m.link!r} is not supported (one of {', '.join(LINKS)})")
    if len(m.trees) % m.n_outputs:
        raise UnsupportedModelError(f"{m.estimator}: {len(m.trees)} trees do not fill {m.n_outputs} outputs evenly")
    if m.task == "classify" and m.link not in ("sigmoid", "softmax"):
        raise UnsupportedModelError(f"{m.estimator}: a classifier needs a sigmoid or softmax link, not {m.link}")
    for t in m.trees:
        split = t.children_left != -1
        f = t.feature[split]
        if f.size and (f.min() < 0 or f.max() >= m.n_features):
            raise UnsupportedModelError(f"{m.estimator}: a split reads feature {int(f.max())}, beyond the "
                                        f"{m.n_features} features of the model")
        kids = np.concatenate([t.children_left[split], t.children_right[split]])
        if kids.size and (kids.min() <= 0 or kids.max() >= len(t.children_left)):
            raise UnsupportedModelError(f"{m.estimator}: a tree has child indices out of range")


def add_boosted(b: Any, m: Boosted) -> None:
    """Append the model's `tree_ensemble` node to a sklearn GraphBuilder."""
    from .sklearn.trees import _ForestTables

    check(m)
    tables = _ForestTables()
    for t in m.trees:
        tables.add_nodes(t.children_left, t.children_right, t.feature, t.t32, t.nan_left,
                         lambda n, t=t: np.asarray([t.value[n]], dtype=np.float64))
    consts = tables.consts()
    consts["base"] = np.asarray(m.base, dtype=np.float64).reshape(-1).astype(np.float32)
    classify = m.task == "classify"
    n_classes = len(m.classes) if classify else 0
    attrs = {"mode": "boost", "n_trees": len(tables.roots), "n_classes": n_classes, "n_outputs": m.n_outputs,
             "link": m.link, "link_scale": float(m.link_scale), "input_precision": m.input_precision,
             "estimator": m.estimator}
    b.add_final("tree_ensemble", m.task, attrs, consts, classes=m.classes if classify else None,
                n_scores=n_classes, score_kind="proba" if classify else None, n_values=0 if classify else 1)


def graph_from_boosted(m: Boosted, name: str = "model") -> Graph:
    """A Graph for a model that is not a scikit-learn estimator (XGBoost/LightGBM Boosters, model files)."""
    from ..errors import InputError
    from .sklearn import GraphBuilder

    if not name.isidentifier():
        raise InputError(f"model name {name!r} must be a C identifier (letters, digits, underscore)")
    b = GraphBuilder(name=name, n_features=m.n_features)
    add_boosted(b, m)
    g = b.graph()
    g.meta.update(estimator=m.estimator, nan_policy=dict(m.nan_policy), feature_names=m.feature_names)
    g.meta["fingerprint"] = graph_fingerprint(g)
    return g


def from_booster(model: Any, name: str = "model") -> Graph | None:
    """Graph for an XGBoost/LightGBM Booster or a parsed model file; None for anything else."""
    from .lightgbm_text import LightGBMModel, booster_model
    from .xgboost_json import XGBoostModel, booster_doc

    mod = type(model).__module__.split(".")[0]
    if isinstance(model, (XGBoostModel, LightGBMModel)):
        return graph_from_boosted(model.boosted(), name)
    if mod == "xgboost" and type(model).__name__ == "Booster":
        return graph_from_boosted(XGBoostModel(booster_doc(model), "xgboost.Booster").boosted(), name)
    if mod == "lightgbm" and type(model).__name__ == "Booster":
        return graph_from_boosted(booster_model(model).boosted(), name)
    return None
