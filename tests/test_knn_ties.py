"""kNN under exact distance ties: the device keeps the lower training-row index among rows
tied at the k-th place; `kiln run` flags every row where the k-th and (k+1)-th distances tie,
and every disagreement with scikit-learn on integer data is such a row."""
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
from edgekiln.report import knn_boundary_ties
from test_cli import kiln


def _tied_data():
    X, y = load_digits(return_X_y=True)
    X = X // 6  # integer features with few levels: many exactly equal distances
    return X[:600], y[:600], X[600:800]


def _lowest_index_rule(Xtr, ytr, Xte, k):
    """The device's rule in numpy: the k nearest, the lower row index first among equals."""
    d = ((Xtr[None, :, :] - Xte[:, None, :]) ** 2).sum(axis=2)
    nb = np.argsort(d, axis=1, kind="stable")[:, :k]
    votes = np.stack([np.bincount(ytr[r], minlength=10) for r in nb])
    return votes.argmax(axis=1)


def test_device_rule_and_flags_on_host(tmp_path):
    Xtr, ytr, Xte = _tied_data()
    est = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(Xtr, ytr)
    cm = edgekiln.convert(est, "host", workdir=tmp_path)
    got = cm.predict(Xte)
    assert (got == _lowest_index_rule(Xtr, ytr, Xte, 5)).all()
    ties = knn_boundary_ties(cm.graph, Xte.astype(np.float32))
    assert ties["k"] == 5 and ties["n_tied"] > 20
    differ = np.flatnonzero(got != est.predict(Xte))
    assert set(differ) <= set(ties["rows"]), "a disagreement that is not a tie"
    # the flag is exact: a row is flagged iff the 5th and 6th distances are equal
    d = np.sort(((Xtr[None, :, :] - Xte[:, None, :]) ** 2).sum(axis=2), axis=1)
    assert ties["rows"] == list(np.flatnonzero(d[:, 4] == d[:, 5]))


def test_flags_through_a_scaler():
    Xtr, ytr, Xte = _tied_data()
    est = make_pipeline(StandardScaler(with_std=False), KNeighborsClassifier(3)).fit(Xtr, ytr)
    g = edgekiln.api.to_graph(est)
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
    g = edgekiln.api.to_graph(DecisionTreeClassifier(max_depth=3).fit(Xtr, ytr))
    assert knn_boundary_ties(g, Xte) is None
