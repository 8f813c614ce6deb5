"""MLPClassifier / MLPRegressor in float32 (hardware float where the target has an FPU, soft
float elsewhere) on every target: every hidden activation, both output activations."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import edgekiln
from edgekiln.api import to_graph
from conftest import as_float32, dataset, require_target, target_params, targets_where
from edgekiln.errors import UnsupportedModelError

TARGETS = target_params(targets_where())
TOL = 1e-5


def _rows(data: str, X: np.ndarray) -> np.ndarray:
    return X[::5] if data == "digits" else X


def _check_classifier(cm, est, X) -> None:
    X32 = as_float32(X)
    p, q = cm.predict_proba(X32), est.predict_proba(X32)
    assert np.abs(p - q).max() <= TOL, f"probabilities differ by {np.abs(p - q).max():.3g}"
    got, ref = cm.predict(X32), est.predict(X32)
    differ = np.flatnonzero(got != ref)
    top = np.sort(q, axis=1)
    assert (top[differ, -1] - top[differ, -2] <= 2 * TOL).all(), f"rows {differ[:10]} differ and are not ties"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("data,activation,hidden", [
    ("iris", "relu", (10,)), ("breast_cancer", "logistic", (8,)),  # binary: logistic output
    ("digits", "tanh", (24, 12)), ("wine", "identity", (6,)),
])
def test_mlp_classifier_parity(target, data, activation, hidden, tmp_path):
    require_target(target)
    X, y = dataset(data)
    est = make_pipeline(StandardScaler(), MLPClassifier(hidden, activation=activation, max_iter=300,
                                                        random_state=0)).fit(X, y)
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    ops = [n.op for n in cm.graph.nodes]
    assert ops.count("dense") == len(hidden) and ops[-1] == "linear"
    assert ops.count("activation") == (0 if activation == "identity" else len(hidden))
    _check_classifier(cm, est, _rows(data, X))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_regressor_parity(target, activation, tmp_path):
    require_target(target)
    X, y = load_diabetes(return_X_y=True)
    est = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16, 8), activation=activation,
                                                       max_iter=400, random_state=0)).fit(X, y)
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    X32 = as_float32(X[::2])
    got, ref = cm.predict(X32), est.predict(X32)
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)
    assert rel.max() <= TOL, f"regression error {rel.max():.3g}"


def test_mlp_bad_input():
    X, y = dataset("iris")
    Y = np.stack([y == 0, y == 1], axis=1).astype(int)
    with pytest.raises(UnsupportedModelError, match="multi-label"):
        to_graph(MLPClassifier((4,), max_iter=20).fit(X, Y))
    Xd, yd = load_diabetes(return_X_y=True)
    with pytest.raises(UnsupportedModelError, match="poisson"):
        to_graph(MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=20).fit(Xd, np.abs(yd)))
    with pytest.raises(UnsupportedModelError, match="targets"):
        to_graph(MLPRegressor(hidden_layer_sizes=(4,), max_iter=20).fit(Xd, np.c_[yd, yd]))
    with pytest.raises(UnsupportedModelError, match="fixed"):
        edgekiln.plan(make_pipeline(StandardScaler(), MLPClassifier((4,), max_iter=20)).fit(X, y), "host",
                      options={"dtype": "fixed"}, calibration=X)


def test_mlp_skops_file_exports(tmp_path):
    """A fitted MLP's .skops file holds its solver state (Adam/SGD optimizer): trusted as model state."""
    import skops.io as sio

    from test_cli import kiln

    X, y = dataset("iris")
    for solver in ("adam", "sgd"):
        est = MLPClassifier((5,), solver=solver, max_iter=30, random_state=0).fit(X, y)
        sio.dump(est, tmp_path / f"{solver}.skops")
        kiln("export", str(tmp_path / f"{solver}.skops"), "-t", "host", "-o", str(tmp_path / solver))
        assert (tmp_path / solver / "model.c").exists()
