"""Fixed point (--dtype fixed): the device computes exactly the integers of the numpy golden
model (quantize/fixed_reference.py) on every target and core count, agrees with
scikit-learn, widens accumulators when int32 could overflow, and rejects what it cannot do."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from conftest import as_float32, dataset, require_target, target_params, targets_where
from edgekiln.targets import get_target
from edgekiln.errors import InputError, UnsupportedModelError
from edgekiln.quantize import fixed_reference
from edgekiln.quantize.fixed_point import frac_for, quantize_floor

MODELS = {
    "logreg": lambda: LogisticRegression(max_iter=3000),
    "scaled_linsvc": lambda: make_pipeline(StandardScaler(), LinearSVC(max_iter=5000)),
    "pca_logreg": lambda: make_pipeline(StandardScaler(), PCA(8), LogisticRegression(max_iter=3000)),
    "svc_linear": lambda: make_pipeline(MinMaxScaler(), SVC(kernel="linear")),
    "dt": lambda: DecisionTreeClassifier(random_state=0),
    "rf": lambda: RandomForestClassifier(10, max_depth=8, random_state=0),
    "knn": lambda: KNeighborsClassifier(),
    "scaled_knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(3, p=1)),
    "kmeans": lambda: KMeans(8, n_init=3, random_state=0),
}


def _split(data: str = "digits"):
    X, y = dataset(data)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    return Xtr, ytr, as_float32(Xte[::5])


def _fit(model_id: str, Xtr, ytr):
    est = MODELS[model_id]()
    return est.fit(Xtr) if model_id == "kmeans" else est.fit(Xtr, ytr)


def _check(cm, est, X) -> None:
    labels = cm.run(X).labels
    ref = est.predict(X)
    ref_idx = np.searchsorted(est.classes_, ref) if hasattr(est, "classes_") else ref
    node = cm.graph.nodes[0]
    if node.op != "tree_ensemble":  # integer decisions: bit-exact with the golden model
        plan = json.loads((cm.project / "project.json").read_text())["options"]["fixed"]
        np.testing.assert_array_equal(labels, fixed_reference.predict_labels(cm.graph, plan, X))
    assert np.mean(labels == ref_idx) >= 0.97, f"agreement with scikit-learn {np.mean(labels == ref_idx):.3f}"


@pytest.mark.parametrize("model_id", list(MODELS))
def test_fixed_host_matches_golden_and_sklearn(model_id, tmp_path):
    Xtr, ytr, X = _split()
    est = _fit(model_id, Xtr, ytr)
    cm = edgekiln.convert(est, "host", workdir=tmp_path, options={"dtype": "fixed"}, calibration=Xtr)
    _check(cm, est, X)


@pytest.mark.parametrize("cores", ["1", "all"])
@pytest.mark.parametrize("target", target_params(targets_where(parallel=("cluster",), simulator=("qemu",))))
@pytest.mark.parametrize("model_id", ["logreg", "pca_logreg", "svc_linear", "rf", "knn", "kmeans"])
def test_fixed_riscv_parity(model_id, target, cores, tmp_path):
    require_target(target)
    Xtr, ytr, X = _split()
    X = X[::2]
    est = _fit(model_id, Xtr, ytr)
    n = 1 if cores == "1" else get_target(target).cores
    cm = edgekiln.convert(est, target, workdir=tmp_path, options={"dtype": "fixed", "cores": n},
                          calibration=Xtr)
    _check(cm, est, X)


@pytest.mark.parametrize("target", target_params(targets_where(kind=("linux-user",), min_cores=2)))
def test_fixed_arm_threads(target, tmp_path):
    Xtr, ytr, X = _split()
    est = _fit("knn", Xtr, ytr)
    cm = edgekiln.convert(est, target, workdir=tmp_path, options={"dtype": "fixed", "cores": get_target(target).cores},
                          calibration=Xtr)
    _check(cm, est, X)


@pytest.mark.parametrize("n_features,accumulator", [(1, "int32"), (30, "int64")])
def test_accumulator_width_from_ranges_and_exact_scores(n_features, accumulator, tmp_path):
    """One feature cannot overflow int32; thirty can, so the kernel widens (and says so).
    Either way the decision values equal the golden integers, also for inputs far outside
    the training range (they saturate)."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 3, (200, n_features))
    y = X @ rng.normal(0, 2, n_features) + 1.5
    est = Ridge().fit(X, y)
    cm = edgekiln.convert(est, "host", workdir=tmp_path, options={"dtype": "fixed"}, calibration=X)
    plan = json.loads((tmp_path / "project.json").read_text())["options"]["fixed"]
    assert plan["nodes"][0]["accumulator"].startswith(accumulator)
    Xq = as_float32(np.vstack([X[:20], X[:5] * 100.0]))  # the last rows saturate
    _, golden = fixed_reference.linear_scores(cm.graph, plan, Xq)
    np.testing.assert_array_equal(cm.predict(Xq).astype(np.float32), golden[:, 0])
    in_range = np.abs(cm.predict(Xq[:20]) - est.predict(Xq[:20]))
    assert in_range.max() <= plan["nodes"][0]["error_bound"]


@pytest.mark.qemu
def test_gap8_wide_and_narrow_accumulators_exact(tmp_path):
    require_target("gap8")
    rng = np.random.default_rng(1)
    for n in (1, 30):
        X = rng.normal(0, 3, (100, n))
        est = LinearRegression().fit(X, X @ rng.normal(0, 2, n))
        cm = edgekiln.convert(est, "gap8", workdir=tmp_path / str(n), options={"dtype": "fixed"}, calibration=X)
        plan = json.loads((tmp_path / str(n) / "project.json").read_text())["options"]["fixed"]
        Xq = as_float32(X[:12])
        _, golden = fixed_reference.linear_scores(cm.graph, plan, Xq)
        np.testing.assert_array_equal(cm.predict(Xq).astype(np.float32), golden[:, 0])


def test_headroom_keeps_inputs_beyond_the_training_range(tmp_path):
    """One headroom bit: inputs up to twice the training magnitude are not saturated."""
    rng = np.random.default_rng(3)
    X = rng.uniform(-4, 4, (300, 6))
    est = Ridge().fit(X, X @ rng.normal(0, 1, 6))
    cm = edgekiln.convert(est, "host", workdir=tmp_path, options={"dtype": "fixed"}, calibration=X)
    plan = json.loads((tmp_path / "project.json").read_text())["options"]["fixed"]
    Xq = as_float32(X[:30] * 1.9)
    assert np.max(np.abs(cm.predict(Xq) - est.predict(Xq))) <= 2 * plan["nodes"][0]["error_bound"]


def test_regression_forest_within_leaf_rounding(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    est = RandomForestRegressor(5, max_depth=6, random_state=0).fit(X, X[:, 0] * 3 - X[:, 1])
    cm = edgekiln.convert(est, "host", workdir=tmp_path, options={"dtype": "fixed"}, calibration=X)
    Xq = as_float32(X[:50])
    assert np.max(np.abs(cm.predict(Xq) - est.predict(Xq))) < 1e-5


def test_q_conversion_floors_and_saturates():
    x = np.float32([0.0, -0.0, 1.5, -1.5, 1e-30, -1e-30, 3.0e38, -3.0e38, np.inf, -np.inf, np.nan, 0.24])
    got = quantize_floor(x, 2, 16)
    np.testing.assert_array_equal(got, [0, 0, 6, -6, 0, -1, 32767, -32768, 32767, -32768, 0, 0])
    assert frac_for(16.0, 16) == 10 and frac_for(15.99, 16) == 11 and frac_for(0.0, 16) == 15


def test_fixed_needs_calibration_data(tmp_path):
    Xtr, ytr, _ = _split("iris")
    est = LogisticRegression(max_iter=1000).fit(Xtr, ytr)
    with pytest.raises(InputError, match="training data"):
        edgekiln.export(est, "host", tmp_path, options={"dtype": "fixed"})
    bad = Xtr.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        edgekiln.export(est, "host", tmp_path, options={"dtype": "fixed"}, calibration=bad)
    with pytest.raises(InputError, match="shape"):
        edgekiln.export(est, "host", tmp_path, options={"dtype": "fixed"}, calibration=Xtr[:, :2])


@pytest.mark.parametrize("est,why", [
    (GaussianNB(), "variances"),
    (SVC(), "rbf"),
    (KNeighborsClassifier(weights="distance"), "uniform"),
])
def test_fixed_unsupported_estimators_say_why(est, why, tmp_path):
    Xtr, ytr, _ = _split("iris")
    est.fit(Xtr, ytr)
    with pytest.raises(UnsupportedModelError, match=why) as e:
        edgekiln.export(est, "host", tmp_path, options={"dtype": "fixed"}, calibration=Xtr)
    assert "float32" in str(e.value)


def test_fixed_model_rejects_nan_input(tmp_path):
    Xtr, ytr, X = _split("iris")
    est = LogisticRegression(max_iter=1000).fit(Xtr, ytr)
    cm = edgekiln.convert(est, "host", workdir=tmp_path, options={"dtype": "fixed"}, calibration=Xtr)
    X = X.copy()
    X[1, 2] = np.nan
    with pytest.raises(InputError, match="finite"):
        cm.predict(X)


def test_cli_export_fixed(tmp_path):
    from click.testing import CliRunner
    from skops.io import dump

    from edgekiln.cli import main

    Xtr, ytr, _ = _split("iris")
    dump(LogisticRegression(max_iter=1000).fit(Xtr, ytr), tmp_path / "m.skops")
    np.save(tmp_path / "X.npy", Xtr)
    r = CliRunner().invoke(main, ["export", str(tmp_path / "m.skops"), "-t", "gap8", "-o", str(tmp_path / "p"),
                                  "--dtype", "fixed", "--calib", str(tmp_path / "X.npy")])
    assert r.exit_code == 0, r.output
    assert "accumulator=" in r.output
    r = CliRunner().invoke(main, ["export", str(tmp_path / "m.skops"), "-t", "gap8", "-o", str(tmp_path / "q"),
                                  "--dtype", "fixed"])
    assert r.exit_code == 2 and "--calib" in r.output
