"""Gradient boosting: scikit-learn's GradientBoosting*/HistGradientBoosting*, and the
scikit-learn interfaces of XGBoost (XGBClassifier/XGBRegressor) and LightGBM
(LGBMClassifier/LGBMRegressor) when those libraries are installed. All become one
`tree_ensemble` node in mode "boost" (frontends/boosted.py: the exactness argument).

- GradientBoosting*: DecisionTreeRegressor stages (float32 x <= float64 t: the forest rule),
  leaf = learning_rate * value, base = the init estimator's constant raw prediction.
- HistGradientBoosting*: TreePredictor nodes compare float64(x) <= num_threshold (float64),
  NaN following missing_go_to_left (always learned); leaf values already include the
  learning rate; base = _baseline_prediction. Categorical splits (bitsets) are refused.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              HistGradientBoostingClassifier, HistGradientBoostingRegressor)

from ...errors import UnsupportedModelError
from ..boosted import Boosted, BoostedTree, add_boosted, floor_float32
from . import GraphBuilder, class_list, converter, hist_categorical

# scikit-learn's link of the loss -> (link, scale of the margin)
LINKS = {"IdentityLink": ("identity", 1.0), "LogLink": ("exp", 1.0), "LogitLink": ("sigmoid", 1.0),
         "HalfLogitLink": ("sigmoid", 2.0), "MultinomialLogit": ("softmax", 1.0)}


def _link(est) -> tuple[str, float]:
    name = type(est._loss.link).__name__
    if name not in LINKS:
        raise UnsupportedModelError(f"{type(est).__name__}: loss {est.loss!r} (link {name}) is not supported")
    return LINKS[name]


def _task(est) -> tuple[str, list | None]:
    return ("classify", class_list(est)) if hasattr(est, "classes_") else ("regress", None)


@converter(GradientBoostingClassifier, GradientBoostingRegressor)
def convert_gradient_boosting(est, b: GraphBuilder) -> None:
    init = est.init_
    if not (isinstance(init, str) and init == "zero") and type(init).__name__ not in ("DummyClassifier", "DummyRegressor"):
        raise UnsupportedModelError(f"{type(est).__name__}: init={type(init).__name__} makes the starting margin depend "
                                    "on the input; only init=None (a constant) or 'zero' are supported")
    base = np.asarray(est._raw_predict_init(np.zeros((1, est.n_features_in_), np.float32)), np.float64)[0]
    lr = float(est.learning_rate)
    trees = []
    for stage in est.estimators_:  # (n_stages, K): round robin over the K outputs
        for tree in stage:
            t = tree.tree_
            go_left = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=np.uint8)).astype(bool)
            trees.append(BoostedTree(t.children_left, t.children_right, t.feature, floor_float32(t.threshold),
                                     go_left, lr * t.value[:, 0, 0]))
    link, scale = _link(est)
    task, classes = _task(est)
    add_boosted(b, Boosted(trees=trees, n_outputs=est.estimators_.shape[1], base=base, link=link, task=task,
                           n_features=est.n_features_in_, estimator=type(est).__name__, classes=classes,
                           link_scale=scale))


@converter(HistGradientBoostingClassifier, HistGradientBoostingRegressor)
def convert_hist_gradient_boosting(est, b: GraphBuilder) -> None:
    trees = []
    prelude = hist_categorical.start(est)  # categorical splits: hist_categorical.py
    for stage in est._predictors:
        for predictor in stage:
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            left = np.where(leaf, -1, nodes["left"].astype(np.int64))
            right = np.where(leaf, -1, nodes["right"].astype(np.int64))
            feature, t32 = nodes["feature_idx"].astype(np.int64), floor_float32(nodes["num_threshold"])
            nan_left = nodes["missing_go_to_left"].astype(bool)
            if nodes["is_categorical"].any():
                if prelude is None:
                    raise UnsupportedModelError(f"{type(est).__name__} has categorical splits but no category encoder "
                                                "(a scikit-learn version edgekiln does not know)")
                prelude.rewrite(nodes, predictor.raw_left_cat_bitsets, feature, t32, nan_left)
            trees.append(BoostedTree(left, right, feature, t32, nan_left, nodes["value"].astype(np.float64)))
    n_features = est.n_features_in_
    if prelude is not None:
        hist_categorical.add_node(est, b, prelude)
        n_features = b.current_length
    link, scale = _link(est)
    task, classes = _task(est)
    base = np.asarray(est._baseline_prediction, np.float64).reshape(-1)
    add_boosted(b, Boosted(trees=trees, n_outputs=int(est.n_trees_per_iteration_), base=base, link=link, task=task,
                           n_features=n_features, estimator=type(est).__name__, classes=classes,
                           link_scale=scale, input_precision="float64"))


def _register_libraries() -> None:
    """XGBoost's and LightGBM's scikit-learn estimators, where those libraries are installed."""
    from .. import lightgbm_text, xgboost_json

    try:
        from xgboost import XGBClassifier, XGBRegressor
    except ImportError:
        pass
    else:
        @converter(XGBClassifier, XGBRegressor)
        def convert_xgboost(est, b: GraphBuilder) -> None:
            add_boosted(b, xgboost_json.sklearn_model(est).boosted())

    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
    except ImportError:
        pass
    else:
        @converter(LGBMClassifier, LGBMRegressor)
        def convert_lightgbm(est, b: GraphBuilder) -> None:
            add_boosted(b, lightgbm_text.sklearn_model(est).boosted())


_register_libraries()
