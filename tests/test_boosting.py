"""Gradient boosting (scikit-learn GB/HistGB, XGBoost, LightGBM): the device reaches the
library's leaf for every input (rows on every threshold, one float32 either side, NaN, ±inf),
margins within 1e-5 relative, model files round-trip, bad models refused with one clear line.
The libraries are the oracle (the `test` extra installs them)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import edgekiln
from conftest import require_target
from edgekiln.api import to_graph
from edgekiln.errors import EdgekilnError, InputError, ModelLoadError, UnsupportedModelError
from edgekiln.frontends.xgboost_json import read_ubjson
from edgekiln.targets.host_lib import load_model_library
from edgekiln.targets.simulators import run_firmware
from test_cli import kiln
from test_generated_data import make_data

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
pytestmark = pytest.mark.filterwarnings("ignore")
F32 = np.float32


def nan_data(seed: int = 3, n_classes: int = 3):
    """Small integers (many values equal to thresholds, both signs) with missing values."""
    X, y = make_data(seed, 6, n_classes, n_samples=300, integer=True)
    rng = np.random.default_rng(seed)
    X[:, 1:5][rng.random((len(X), 4)) < 0.15] = np.nan
    return X, y


REGRESSORS = {  # learning rate 1: a wrong leaf shows as a large error
    "gbr": lambda: GradientBoostingRegressor(n_estimators=6, max_depth=3, learning_rate=1.0, random_state=0),
    "hgbr": lambda: HistGradientBoostingRegressor(max_iter=6, max_leaf_nodes=8, learning_rate=1.0),
    "xgbr": lambda: xgb.XGBRegressor(n_estimators=6, max_depth=3, learning_rate=1.0),
    "lgbmr": lambda: lgb.LGBMRegressor(n_estimators=6, num_leaves=8, learning_rate=1.0, min_child_samples=3, verbose=-1),
}
CLASSIFIERS = {
    "hgb": lambda: HistGradientBoostingClassifier(max_iter=6, max_leaf_nodes=8),
    "xgb": lambda: xgb.XGBClassifier(n_estimators=6, max_depth=3),
    "lgbm": lambda: lgb.LGBMClassifier(n_estimators=6, num_leaves=8, min_child_samples=3, verbose=-1),
}


def probe_rows(graph, X: np.ndarray, limit: int = 1500) -> np.ndarray:
    """X, then rows with one feature on a device threshold t32 or the float32 above it (the
    library's own boundary for XGBoost's `<`), ±0, ±inf and NaN in every feature."""
    rng = np.random.default_rng(0)
    X32 = X.astype(F32)
    c = graph.nodes[-1].consts
    feats = np.concatenate([c["feature"]] * 2)
    values = np.concatenate([c["threshold"], np.nextafter(c["threshold"], F32(np.inf))])
    keep = rng.permutation(len(values))[:limit]
    rows = []
    for f, v in zip(feats[keep], values[keep]):
        rows.append(X32[rng.integers(len(X32))].copy())
        rows[-1][f] = v
    for f in range(X.shape[1]):
        for v in (0.0, -0.0, np.inf, -np.inf, np.nan):
            rows.append(X32[rng.integers(len(X32))].copy())
            rows[-1][f] = v
    return np.vstack([X32, np.array(rows, dtype=F32)])


def device(cm, X32):
    if cm.target.kind == "host":
        return load_model_library(cm.project).run(X32)
    r = run_firmware(cm.build.elf, cm.target, X32)
    return r.labels, r.outputs


def check_regressor(est, cm, X32, nan: bool = True) -> None:
    _, out = device(cm, X32)
    ref = est.predict(X32.astype(np.float64))
    rel = np.abs(out[:, 0] - ref) / np.maximum(np.abs(ref), 1.0)
    assert rel.max() <= 1e-5, f"rows {np.flatnonzero(rel > 1e-5)[:5]} differ by {rel.max():.3g}"


def check_classifier(est, cm, X32) -> None:
    labels, proba = device(cm, X32)
    ref = est.predict_proba(X32.astype(np.float64))
    assert np.abs(proba - ref).max() <= 1e-5
    assert np.array_equal(est.classes_[labels], est.predict(X32.astype(np.float64)))


@pytest.mark.parametrize("model", list(REGRESSORS))
def test_host_regressors_reach_the_library_leaf(model, tmp_path):
    X, _ = nan_data()
    if model == "gbr":  # scikit-learn's GradientBoosting learns no NaN direction
        X = np.nan_to_num(X, nan=2.0)
    y = np.nan_to_num(X[:, 1]) * 3.0 + X[:, 2 if model == "gbr" else 5] ** 2
    est = REGRESSORS[model]().fit(X, y)
    graph = to_graph(est)
    X32 = probe_rows(graph, X)
    if model == "gbr":
        X32 = X32[np.isfinite(X32).all(axis=1)]
    for layout in ("inline", "table"):
        cm = edgekiln.convert(est, "host", workdir=tmp_path / layout, options={"tree_layout": layout})
        check_regressor(est, cm, X32)


@pytest.mark.parametrize("model", list(CLASSIFIERS))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_host_classifiers_soft_float_and_float(model, n_classes, tmp_path):
    """Integer-key splits (gap8's code, run on the host) and float compares, both exact."""
    X, y = nan_data(n_classes=n_classes)
    est = CLASSIFIERS[model]().fit(X, y)
    X32 = probe_rows(to_graph(est), X)
    X32 = X32[~np.isinf(X32).any(axis=1)]  # scikit-learn's predict_proba refuses ±inf
    for soft in (False, True):
        cm = edgekiln.convert(est, "host", workdir=tmp_path / str(soft),
                              options={"tree_layout": "inline", "soft_float": soft})
        check_classifier(est, cm, X32)


@pytest.mark.qemu
def test_gap8_soft_float_boosting(tmp_path):
    """gap8 (no FPU: integer-key splits, libgcc sums and expf) against the libraries."""
    require_target("gap8")
    X, y = nan_data(n_classes=3)
    for i, est in enumerate([HistGradientBoostingClassifier(max_iter=4, max_leaf_nodes=6).fit(X, y),
                             lgb.LGBMClassifier(n_estimators=3, num_leaves=6, verbose=-1).fit(X, y == 1),
                             xgb.XGBRegressor(n_estimators=4, max_depth=3).fit(X, y * 1.5)]):
        X32 = probe_rows(to_graph(est), X, limit=200)
        X32 = X32[~np.isinf(X32).any(axis=1)]
        cm = edgekiln.convert(est, "gap8", workdir=tmp_path / str(i))
        (check_regressor if i == 2 else check_classifier)(est, cm, X32)


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["cortex-m4", "arm"])
def test_table_layout_on_targets(target, tmp_path):
    """The table kernel (ek_tree_boost_f32) with softmax and sigmoid links on the FPU targets."""
    require_target(target)
    X, y = nan_data(n_classes=3)
    for i, est in enumerate([xgb.XGBClassifier(n_estimators=4, max_depth=3).fit(X, y),
                             HistGradientBoostingClassifier(max_iter=4, max_leaf_nodes=6).fit(X, y == 2)]):
        X32 = probe_rows(to_graph(est), X, limit=300)
        X32 = X32[~np.isinf(X32).any(axis=1)]
        cm = edgekiln.convert(est, target, workdir=tmp_path / str(i), options={"tree_layout": "table"})
        assert (cm.project / "runtime/kernels/ek_tree_predict_f32.c").exists()
        check_classifier(est, cm, X32)


def _f32(doc):
    if isinstance(doc, dict):
        return {k: _f32(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_f32(v) for v in doc]
    return float(np.float32(doc)) if isinstance(doc, float) else doc


def test_model_files_round_trip(tmp_path):
    """XGBoost .json/.ubj and LightGBM .txt: read without the library, exported, same outputs."""
    X, y = load_iris(return_X_y=True)
    X32 = X.astype(F32)
    bst = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3}, xgb.DMatrix(X, label=y), 5)
    for ext in ("json", "ubj"):
        bst.save_model(tmp_path / f"m.{ext}")
    # the same document (UBJSON holds float32 values; JSON their shortest decimals)
    assert _f32(read_ubjson((tmp_path / "m.ubj").read_bytes())) == _f32(json.loads((tmp_path / "m.json").read_text()))
    ref = bst.predict(xgb.DMatrix(X32))
    for ext in ("json", "ubj"):
        cm = edgekiln.convert(edgekiln.load_model(tmp_path / f"m.{ext}"), "host", workdir=tmp_path / ext)
        assert np.abs(cm.predict_proba(X32) - ref).max() <= 1e-6
    lbst = lgb.train({"objective": "regression", "num_leaves": 8, "verbose": -1}, lgb.Dataset(X, label=y * 2.0), 5)
    lbst.save_model(tmp_path / "m.txt")
    cm = edgekiln.convert(edgekiln.load_model(tmp_path / "m.txt"), "host", workdir=tmp_path / "txt")
    assert np.allclose(cm.predict(X32), lbst.predict(X32), rtol=1e-5, atol=1e-6)
    # Booster objects directly
    for b, ref in ((bst, bst.predict(xgb.DMatrix(X32))), (lbst, lbst.predict(X32))):
        cm = edgekiln.convert(b, "host", workdir=tmp_path / type(b).__module__)
        got = cm.predict_proba(X32) if cm.graph.task == "classify" else cm.predict(X32)
        assert np.allclose(got, ref, rtol=1e-5, atol=1e-6)
    # the command line: check and export a model file
    assert "supported" in kiln("check", str(tmp_path / "m.json"), "-t", "cortex-m4").stdout
    kiln("export", str(tmp_path / "m.txt"), "-t", "cortex-m4", "-o", str(tmp_path / "out"))
    assert (tmp_path / "out" / "model.c").exists()


def test_xgboost_dart_uses_tree_weights(tmp_path):
    X, y = load_iris(return_X_y=True)
    est = xgb.XGBClassifier(booster="dart", n_estimators=6, max_depth=2, rate_drop=0.3, random_state=0).fit(X, y)
    cm = edgekiln.convert(est, "host", workdir=tmp_path)
    assert np.abs(cm.predict_proba(X) - est.predict_proba(X.astype(F32))).max() <= 1e-5


def _bad(model, match: str) -> None:
    with pytest.raises(EdgekilnError, match=match):
        to_graph(model)


def test_unsupported_boosting_refused(tmp_path):
    X, y = load_iris(return_X_y=True)
    _bad(xgb.XGBClassifier(booster="gblinear", n_estimators=2).fit(X, y), "gblinear")
    _bad(lgb.LGBMRegressor(linear_tree=True, n_estimators=2, verbose=-1).fit(X, y), "linear trees")
    _bad(xgb.train({"objective": "rank:pairwise"}, xgb.DMatrix(X, label=y), 2), "rank:pairwise")
    _bad(lgb.train({"objective": "lambdarank", "verbose": -1}, lgb.Dataset(X, label=y, group=[50] * 3), 2), "lambdarank")
    Xc = X.copy()
    Xc[:, 0] = (y * 2 + np.arange(len(X)) % 2) % 5  # an informative categorical feature
    # (HistGradientBoosting's categorical splits are supported: tests/test_boosting_categorical.py)
    Xc[:, 1:] = np.random.default_rng(0).normal(size=(len(X), 3))  # only the categories tell the classes apart
    _bad(lgb.LGBMClassifier(n_estimators=2, min_data_per_group=5, cat_smooth=1, verbose=-1)
         .fit(Xc, y, categorical_feature=[0]), "categorical")
    _bad(make_pipeline(StandardScaler(), HistGradientBoostingRegressor(max_iter=2)).fit(X, y), "drop the scaler")

    def custom(preds, dtrain):
        return preds - dtrain.get_label(), np.ones_like(preds)

    lbst = lgb.train({"objective": custom, "verbose": -1}, lgb.Dataset(X, label=y), 2)
    _bad(lbst, "custom objective")
    # files from unsupported versions, and files that are not models
    bst = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y == 1), 2)
    doc = json.loads(bst.save_raw("json"))
    doc["version"] = [9, 0, 0]
    (tmp_path / "v9.json").write_text(json.dumps(doc))
    _bad(edgekiln.load_model(tmp_path / "v9.json"), "XGBoost 9.0.0")
    text = lbst.model_to_string().replace("version=v4", "version=v9")
    (tmp_path / "v9.txt").write_text(text.replace("objective=custom", "objective=regression"))
    _bad(edgekiln.load_model(tmp_path / "v9.txt"), "'v9' is not supported")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a valid XGBoost model"):
        edgekiln.load_model(tmp_path / "junk.json")
    proc = kiln("check", str(tmp_path / "v9.json"), "-t", "host", ok=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "XGBoost 9.0.0" in proc.stderr
    # fixed point is for forests
    with pytest.raises(UnsupportedModelError, match="drop --dtype fixed"):
        edgekiln.export(bst, "host", tmp_path / "fx", options={"dtype": "fixed"}, calibration=X)


def test_nan_where_no_direction_was_learned(tmp_path):
    """scikit-learn's GradientBoosting learns no NaN direction: NaN is refused with its words."""
    X, y = load_iris(return_X_y=True)
    cm = edgekiln.convert(GradientBoostingClassifier(n_estimators=3).fit(X, y), "host", workdir=tmp_path)
    Xn = X[:2].copy()
    Xn[1, 2] = np.nan
    with pytest.raises(InputError, match="NaN at row 1"):
        cm.predict(Xn)
