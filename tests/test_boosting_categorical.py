"""HistGradientBoosting with categorical features on every target: the encoder's column order,
its category matching (unknown values and NaN are missing) and each split's bitset reproduced
by the `category_split` node, so every sample reaches scikit-learn's leaf."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

import edgekiln
from conftest import as_float32, require_target, target_params, targets_where
from edgekiln.api import to_graph
from edgekiln.errors import UnsupportedModelError


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.c_[rng.normal(size=n), rng.integers(0, 40, n) * 3.0, rng.normal(size=n), rng.integers(0, 5, n),
              rng.integers(-2, 3, n) + 0.5]
    y = (X[:, 1] % 9 == 0).astype(int) + (X[:, 0] > 0) + (X[:, 3] == 2)
    X[rng.random(n) < 0.05, 1] = np.nan  # missing while training: a learned direction
    # rows the encoder never saw: new categories, negative values, fractions, NaN, huge values
    T = X[:60].copy()
    T[:15, 1] = rng.integers(40, 60, 15) * 3.0
    T[15:25, 3] = -1.0
    T[25:35, 1] = 2.5
    T[35:45, 3] = np.nan
    T[45:50, 4] = 1e30
    return X, y, np.r_[X, T]


MODELS = [
    ("multiclass", lambda: HistGradientBoostingClassifier(max_iter=6, max_leaf_nodes=8, categorical_features=[1, 3, 4],
                                                          random_state=0)),
    ("binary", lambda: HistGradientBoostingClassifier(max_iter=6, categorical_features=[1, 3], random_state=0)),
    ("regressor", lambda: HistGradientBoostingRegressor(max_iter=8, categorical_features=[1, 3], random_state=0)),
]


@pytest.mark.parametrize("target", target_params(targets_where()))
@pytest.mark.parametrize("kind,factory", MODELS, ids=[m[0] for m in MODELS])
def test_categorical_splits_reach_the_library_leaf(target, kind, factory, tmp_path):
    require_target(target)
    X, y, T = _data()
    est = factory().fit(X, y if kind != "regressor" else X[:, 0] + (X[:, 1] % 6 == 0))
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    assert [n.op for n in cm.graph.nodes] == ["category_split", "tree_ensemble"]
    assert cm.graph.nodes[0].consts["split_slot"].size > 0  # the trees do split on categories
    T32 = as_float32(T)
    got, ref = cm.predict(T32), est.predict(T32)
    if kind == "regressor":
        assert (np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)).max() <= 1e-5
    else:
        assert (got == ref).all(), f"{(got != ref).sum()} labels differ"
        assert np.abs(cm.predict_proba(T32) - est.predict_proba(T32)).max() <= 1e-5


def test_unused_categorical_feature_keeps_the_column_order():
    """The encoder moves categorical columns first even when no tree splits on them."""
    X, y, _ = _data()
    X[:, 3] = 1.0
    est = HistGradientBoostingClassifier(max_iter=3, categorical_features=[3], random_state=0).fit(X, y)
    cm = edgekiln.convert(est, "host")
    assert (cm.predict(as_float32(X)) == est.predict(as_float32(X))).all()


def test_string_categories_refused():
    pd = pytest.importorskip("pandas")
    X, y, _ = _data()
    df = pd.DataFrame({"a": X[:, 0], "colour": pd.Categorical(np.where(X[:, 3] > 1, "red", "blue"))})
    est = HistGradientBoostingClassifier(max_iter=2, categorical_features="from_dtype").fit(df, y)
    with pytest.raises(UnsupportedModelError, match="non-numeric categories.*cannot encode"):
        to_graph(est)


def test_categorical_is_float32_only():
    X, y, _ = _data()
    est = HistGradientBoostingClassifier(max_iter=2, categorical_features=[1]).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="fixed"):
        edgekiln.plan(est, "host", options={"dtype": "fixed"}, calibration=X)


@pytest.mark.parametrize("options", [{"tree_layout": "table"}, {"cores": 4}, {"cores": 4, "batch": True},
                                     {"soft_float": True}], ids=["table", "cores4", "batch4", "int_keys"])
def test_categorical_with_every_tree_option(options, tmp_path):
    X, y, T = _data()
    est = HistGradientBoostingClassifier(max_iter=6, categorical_features=[1, 3, 4], random_state=0).fit(X, y)
    cm = edgekiln.convert(est, "host", workdir=tmp_path, options=options)
    T32 = as_float32(T)
    assert (cm.predict(T32) == est.predict(T32)).all()
    assert np.abs(cm.predict_proba(T32) - est.predict_proba(T32)).max() <= 1e-5
