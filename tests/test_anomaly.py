"""Anomaly detectors (IsolationForest, OneClassSVM) on every target: predict, decision_function
and score_samples against scikit-learn on the same float32 inputs."""
from __future__ import annotations

import numpy as np
import pytest

import edgekiln
from edgekiln.api import to_graph
from conftest import as_float32, dataset, require_target, target_params, targets_where
from zoo import ANOMALY

TARGETS = target_params(targets_where())
DATA = ["iris", "breast_cancer", "digits"]
REL = 1e-5


def _rows(data: str, X: np.ndarray) -> np.ndarray:
    return X[::5] if data == "digits" else X  # digits: every 5th row keeps soft float quick


def _offset(est) -> float:
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    return float(np.ravel(final.offset_)[0])


def check_anomaly_parity(cm, est, X: np.ndarray, exact: bool) -> None:
    X32 = as_float32(X)
    ref_s, ref_d = est.score_samples(X32), est.decision_function(X32)
    got_s, got_d = cm.score_samples(X32), cm.decision_function(X32)
    # decision = score - offset cancels near the boundary: both are held to 1e-5 of the
    # score's own size (max(|score|, |offset|)), which is 1e-5 relative for score_samples.
    scale = np.maximum(np.abs(ref_s), abs(_offset(est)))
    assert (np.abs(got_s - ref_s) / scale).max() <= REL, f"score_samples off by {(np.abs(got_s - ref_s) / scale).max():.3g}"
    assert (np.abs(got_d - ref_d) / scale).max() <= REL, f"decision_function off by {(np.abs(got_d - ref_d) / scale).max():.3g}"
    got, ref = cm.predict(X32), est.predict(X32)
    assert set(np.unique(got)) <= {-1, 1}
    differ = np.flatnonzero(got != ref)
    if exact:
        assert differ.size == 0, f"{differ.size} labels differ at rows {differ[:10]}"
    else:
        near = np.abs(ref_d[differ]) <= REL * scale[differ]
        assert near.all(), f"rows {differ[~near][:10]} differ and are not within {REL} of the boundary"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model_id,factory,exact", ANOMALY, ids=[m[0] for m in ANOMALY])
def test_anomaly_parity(target, data, model_id, factory, exact, tmp_path):
    require_target(target)
    X, _ = dataset(data)
    est = factory().fit(X)
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    check_anomaly_parity(cm, est, _rows(data, X), exact)
    if cm.target.simulator.get("name") == "qemu":
        ins = cm.last_run.instruction_summary()
        assert ins is not None and ins["per_inference_min"] > 0


@pytest.mark.parametrize("target", target_params(targets_where(kind=("host",)) + targets_where(fpu=False)[:1]))
def test_iforest_nan_follows_learned_direction(target, tmp_path):
    """NaN is allowed by IsolationForest; each split sends it where the tree learned."""
    require_target(target)
    from sklearn.ensemble import IsolationForest

    X, _ = dataset("wine")
    rng = np.random.default_rng(0)
    Xn = X.copy()
    Xn[rng.random(X.shape) < 0.1] = np.nan
    est = IsolationForest(n_estimators=15, random_state=0).fit(Xn)
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    assert cm.graph.nodes[-1].op == "iforest"
    check_anomaly_parity(cm, est, Xn, exact=True)


def test_anomaly_graph_contract():
    """classes -1/1 (outlier, inlier), one decision output, and the offset for score_samples."""
    from sklearn.ensemble import IsolationForest
    from sklearn.svm import OneClassSVM

    X, _ = dataset("iris")
    for est in (IsolationForest(n_estimators=3, random_state=0).fit(X), OneClassSVM().fit(X)):
        g = to_graph(est)
        assert g.classes == [-1, 1] and g.score_kind == "decision" and g.outputs[-1].length == 1
        assert g.nodes[-1].attrs["score_offset"] == pytest.approx(float(np.ravel(est.offset_)[0]))


@pytest.mark.parametrize("target", target_params(targets_where(min_cores=4)))
def test_iforest_trees_across_cores(target, tmp_path):
    """With --cores 4 each core walks its trees and core 0 adds the path lengths in tree order:
    the same sums, so the same labels and scores as one core and as scikit-learn."""
    require_target(target)
    from sklearn.ensemble import IsolationForest

    X, _ = dataset("wine")
    est = IsolationForest(n_estimators=13, random_state=0).fit(X)
    cm = edgekiln.convert(est, target, workdir=tmp_path, options={"cores": 4})
    check_anomaly_parity(cm, est, X, exact=True)
