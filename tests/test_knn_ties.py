"""kNN under exact distance ties: for algorithm='brute' the device reproduces scikit-learn's
neighbour choice (its heap, as one thread runs it), for kd_tree its tree walk; for ball_tree it
keeps the lower row index. `kiln run` flags every row where the k-th and (k+1)-th distances tie, and every
disagreement with scikit-learn on integer data is such a row."""
from __future__ import annotations

import json

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import edgekiln
from edgekiln.api import to_graph
from edgekiln.report import knn_boundary_ties
from test_cli import kiln


def _tied_data():
    X, y = load_digits(return_X_y=True)
    X = X // 6  # integer features with few levels: many exactly equal distances
    return X[:600], y[:600], X[600:800]


def _distances(Xtr, Xte):
    return ((Xtr[None, :, :] - Xte[:, None, :]) ** 2).sum(axis=2)


def _lowest_index_proba(Xtr, ytr, Xte, k):
    """The device's rule for kd_tree/ball_tree fits: the k nearest, lower row index first."""
    nb = np.argsort(_distances(Xtr, Xte), axis=1, kind="stable")[:, :k]
    return np.stack([np.bincount(ytr[r], minlength=10) for r in nb]) / k


@pytest.mark.parametrize("target,cores", [("host", 1), ("host", 4), ("cortex-m4", 1), ("arm", 4)])
def test_brute_reproduces_scikit_learn_one_thread(target, cores, tmp_path):
    """algorithm='brute': the device runs scikit-learn's heap over the rows in order, so even
    at boundary ties it picks the neighbours scikit-learn picks on one thread."""
    from conftest import require_target
    from threadpoolctl import threadpool_limits

    require_target(target)
    Xtr, ytr, Xte = _tied_data()
    Xte = Xte[:100]
    est = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(Xtr, ytr)
    cm = edgekiln.convert(est, target, workdir=tmp_path, options={"cores": cores})
    assert cm.graph.nodes[-1].attrs["tie_rule"] == "sklearn_brute"
    with threadpool_limits(1):
        ref_p, ref = est.predict_proba(Xte), est.predict(Xte)
    assert (cm.predict(Xte) == ref).all()
    assert np.abs(cm.predict_proba(Xte) - ref_p).max() <= 1e-6
    # the lower-index rule picks other neighbours on some of these rows: the test has teeth
    assert (np.abs(_lowest_index_proba(Xtr, ytr, Xte, 5) - ref_p).max(axis=1) > 1e-6).any()


@pytest.mark.parametrize("target", ["host", "cortex-m4", "gap8"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_kd_tree_reproduces_scikit_learn(target, metric, tmp_path):
    """algorithm='kd_tree' (scikit-learn's pick at 15 features or fewer): the device walks the
    exported tree as KDTree.query does, so it picks scikit-learn's neighbours at ties."""
    from conftest import require_target

    require_target(target)
    Xtr, ytr, Xte = _tied_data()
    Xtr, Xte = Xtr[:, ::8], Xte[:100, ::8]  # 8 features: 'auto' chooses kd_tree
    est = KNeighborsClassifier(n_neighbors=5, metric=metric).fit(Xtr, ytr)
    assert est._fit_method == "kd_tree"
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    assert cm.graph.nodes[-1].attrs["tie_rule"] == "sklearn_kd_tree"
    assert (cm.predict(Xte) == est.predict(Xte)).all()
    assert np.abs(cm.predict_proba(Xte) - est.predict_proba(Xte)).max() <= 1e-6
    assert knn_boundary_ties(cm.graph, Xte.astype(np.float32))["n_tied"] > 10  # ties were there to break


def test_ball_tree_keeps_the_lower_index_and_is_flagged(tmp_path):
    Xtr, ytr, Xte = _tied_data()
    est = KNeighborsClassifier(n_neighbors=5, algorithm="ball_tree").fit(Xtr, ytr)
    cm = edgekiln.convert(est, "host", workdir=tmp_path)
    assert cm.graph.nodes[-1].attrs["tie_rule"] == "lower_index"
    assert np.abs(cm.predict_proba(Xte) - _lowest_index_proba(Xtr, ytr, Xte, 5)).max() <= 1e-6
    got = cm.predict(Xte)
    ties = knn_boundary_ties(cm.graph, Xte.astype(np.float32))
    assert ties["k"] == 5 and ties["n_tied"] > 20
    differ = np.flatnonzero(np.abs(cm.predict_proba(Xte) - est.predict_proba(Xte)).max(axis=1) > 1e-6)
    assert differ.size > 0 and set(differ) <= set(ties["rows"]), "a difference that is not a tie"
    assert set(np.flatnonzero(got != est.predict(Xte))) <= set(ties["rows"])
    # the flag is exact: a row is flagged iff the 5th and 6th distances are equal
    d = np.sort(_distances(Xtr, Xte), axis=1)
    assert ties["rows"] == list(np.flatnonzero(d[:, 4] == d[:, 5]))


def test_flags_through_a_scaler():
    Xtr, ytr, Xte = _tied_data()
    est = make_pipeline(StandardScaler(with_std=False), KNeighborsClassifier(3)).fit(Xtr, ytr)
    g = to_graph(est)
    assert knn_boundary_ties(g, Xte.astype(np.float32))["n_tied"] > 0


def test_kiln_run_reports_ties(tmp_path):
    Xtr, ytr, Xte = _tied_data()
    est = KNeighborsClassifier(n_neighbors=5).fit(Xtr, ytr)
    sio.dump(est, tmp_path / "knn.skops")
    np.save(tmp_path / "x.npy", Xte[:80].astype(np.float32))
    kiln("export", str(tmp_path / "knn.skops"), "-t", "host", "-o", str(tmp_path / "p"))
    out = kiln("run", str(tmp_path / "p"), "--data", str(tmp_path / "x.npy"), "--reference",
               str(tmp_path / "knn.skops"), "--json", str(tmp_path / "r.json")).stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["knn_ties"]["n_tied"] > 0 and "distance tie" in out
    for m in report["reference_agreement"]["mismatches"]:
        assert m["knn_tie"], m


def test_other_models_have_no_tie_field():
    from sklearn.tree import DecisionTreeClassifier

    Xtr, ytr, Xte = _tied_data()
    g = to_graph(DecisionTreeClassifier(max_depth=3).fit(Xtr, ytr))
    assert knn_boundary_ties(g, Xte) is None
