"""Peer adapters (benchmarks/peers): generate emlearn / m2cgen C for small models, build it
with the host C compiler and check the labels against scikit-learn's predict."""

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sklearn.cluster import KMeans  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from benchmarks.peers import PEERS, emlearn_peer, m2cgen_peer  # noqa: E402

MAIN_C = ROOT / "tests" / "data" / "peer_main.c"
CC = shutil.which("gcc") or shutil.which("cc")


def _data(name):
    if name == "iris":  # string labels, to check the class-index mapping
        d = load_iris()
        return d.data, np.array(["setosa", "versicolor", "virginica"])[d.target]
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X[:400], y[:400]
    return load_breast_cancer(return_X_y=True)


def _run_peer(peer, est, X, tmp_path):
    info = peer.write_peer(est, tmp_path / "peer")
    for key in ("sources", "include_dirs", "cflags", "ldflags"):
        assert isinstance(info[key], list)
    exe = tmp_path / "peer_main"
    cmd = [CC, "-O2", "-Wall", "-Werror", *info["cflags"],
           *[f"-I{d}" for d in info["include_dirs"]], str(MAIN_C), *info["sources"],
           "-o", str(exe), *info["ldflags"]]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    xfile = tmp_path / "X.bin"
    X.astype(np.float32).tofile(xfile)
    out = subprocess.run([str(exe), str(xfile)], check=True, capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    assert len(rows) == len(X)
    assert all(len(r) == 1 + info["n_outputs"] for r in rows)
    return info, np.array([int(r[0]) for r in rows]), np.array([[float(v) for v in r[1:]] for r in rows])


CASES = [
    # tool, factory, dataset, minimum label agreement with scikit-learn
    ("m2cgen", lambda: DecisionTreeClassifier(random_state=0), "breast_cancer", 1.0),
    ("m2cgen", lambda: RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0), "iris", 1.0),
    ("m2cgen", lambda: LogisticRegression(max_iter=5000), "iris", 1.0),
    ("m2cgen", lambda: LogisticRegression(max_iter=5000), "breast_cancer", 1.0),
    ("m2cgen", lambda: SVC(kernel="rbf"), "iris", 1.0),
    ("m2cgen", lambda: SVC(kernel="rbf"), "breast_cancer", 1.0),
    ("emlearn", lambda: DecisionTreeClassifier(random_state=0), "breast_cancer", 1.0),
    ("emlearn", lambda: RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0), "iris", 0.98),
    ("emlearn", lambda: GaussianNB(), "iris", 0.98),
    ("emlearn", lambda: KNeighborsClassifier(), "digits", 0.98),
    ("emlearn", lambda: MLPClassifier((16,), max_iter=300, random_state=0), "iris", 0.98),
    ("emlearn", lambda: MLPClassifier((12, 6), activation="tanh", max_iter=300, random_state=0), "breast_cancer", 0.98),
]


@pytest.mark.skipif(CC is None, reason="no host C compiler")
@pytest.mark.parametrize("tool,factory,dataset,min_agree", CASES,
                         ids=[f"{c[0]}-{c[1]().__class__.__name__}-{c[2]}" for c in CASES])
def test_peer_matches_sklearn(tool, factory, dataset, min_agree, tmp_path):
    X, y = _data(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = factory().fit(X, y)
    peer = PEERS[tool]
    assert peer.supports(est)
    info, labels, _ = _run_peer(peer, est, X, tmp_path)
    expected = np.searchsorted(est.classes_, est.predict(X.astype(np.float32).astype(np.float64)))
    assert np.mean(labels == expected) >= min_agree
    header = (tmp_path / "peer" / "model.h").read_text()
    assert f"#define EK_MODEL_N_FEATURES {X.shape[1]}" in header
    assert "#define EK_MODEL_TASK       0" in header


@pytest.mark.skipif(CC is None, reason="no host C compiler")
def test_m2cgen_svc_outputs_are_ovo_decisions(tmp_path):
    X, y = _data("iris")
    est = SVC(kernel="rbf", decision_function_shape="ovo").fit(X, y)
    info, _, outs = _run_peer(m2cgen_peer, est, X, tmp_path)
    assert info["n_outputs"] == 3
    ref = est.decision_function(X.astype(np.float32).astype(np.float64))
    assert np.allclose(outs, ref, atol=1e-4)


@pytest.mark.skipif(CC is None, reason="no host C compiler")
@pytest.mark.parametrize("tool", ["emlearn", "m2cgen"])
def test_regressor_value(tool, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    y = X[:, 0] * 2.0 + X[:, 1]
    est = RandomForestRegressor(n_estimators=3, max_depth=4, random_state=0).fit(X[:, :8], y)
    _, labels, outs = _run_peer(PEERS[tool], est, X[:, :8], tmp_path)
    assert (labels == 0).all()
    ref = est.predict(X[:, :8].astype(np.float32).astype(np.float64))
    # emlearn prints thresholds with 6 decimals, so allow a few samples to take another leaf
    close = np.isclose(outs[:, 0], ref, rtol=1e-5)
    assert close.mean() >= (1.0 if tool == "m2cgen" else 0.95)


def test_supports_matrix():
    X, y = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = {
            "lr": LogisticRegression(max_iter=50).fit(X, y),
            "svc": SVC().fit(X, y),
            "gnb": GaussianNB().fit(X, y),
            "knn": KNeighborsClassifier().fit(X, y),
            "km": KMeans(n_clusters=2, n_init=1, random_state=0).fit(X),
            "dt": DecisionTreeClassifier(max_depth=2).fit(X, y),
        }
    assert {k for k, e in fitted.items() if emlearn_peer.supports(e)} == {"gnb", "knn", "dt"}
    assert {k for k, e in fitted.items() if m2cgen_peer.supports(e)} == {"lr", "svc", "dt"}
    assert not emlearn_peer.supports(KNeighborsClassifier(metric="manhattan").fit(X, y))
    assert not emlearn_peer.supports(DecisionTreeClassifier())  # not fitted


def test_emlearn_import_keeps_numpy_errstate():
    # emlearn/bayes.py calls numpy.seterr(all='raise') on import; check in a fresh process.
    check = ("import numpy as np; from benchmarks.peers import emlearn_peer; b = np.geterr(); "
             "emlearn_peer._import_emlearn(); assert np.geterr() == b, np.geterr()")
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True)
