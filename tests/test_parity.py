"""Parity: the generated C computes what scikit-learn computes, on the host (in-process via
cffi) and on every QEMU target, over the data sets scikit-learn ships."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import edgekiln
from conftest import DATASETS, as_float32, assert_parity, dataset, near_tie_for, require_target, target_params, targets_where
from zoo import BOOSTED, CLASSIFIERS, CLUSTERERS, REGRESSORS

# Every registered target but the PULP cluster ones (parallel = "cluster"), whose sweep is
# test_riscv_targets.py: the whole zoo on every data set in soft float is too slow there.
TARGETS = target_params(targets_where(parallel=("single", "pthread")))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("data", list(DATASETS))
@pytest.mark.parametrize("model_id,factory,exact", CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_classifier_parity(target, data, model_id, factory, exact, tmp_path):
    require_target(target)
    X, y = dataset(data)
    est = factory().fit(X, y)
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    assert_parity(cm, est, X, exact=exact, near_tie=near_tie_for(est, X))
    if cm.target.simulator.get("name") == "qemu":
        ins = cm.last_run.instruction_summary()
        assert ins is not None and 0 < ins["per_inference_min"] <= ins["per_inference_median"] <= ins["per_inference_max"]


TABLE_MODELS = [m for m in CLASSIFIERS + REGRESSORS if m[2] and m[0] not in BOOSTED]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("model_id,factory,exact", REGRESSORS, ids=[r[0] for r in REGRESSORS])
def test_regressor_parity(target, model_id, factory, exact, tmp_path):
    require_target(target)
    X, y = load_diabetes(return_X_y=True)
    est = factory().fit(X, y)
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    assert_parity(cm, est, X, exact=exact)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("data", list(DATASETS))
@pytest.mark.parametrize("model_id,factory,exact", CLUSTERERS, ids=[c[0] for c in CLUSTERERS])
def test_kmeans_parity(target, data, model_id, factory, exact, tmp_path):
    require_target(target)
    X, _ = dataset(data)
    est = factory().fit(X)
    cm = edgekiln.convert(est, target, workdir=tmp_path)
    X32 = as_float32(X)
    got, ref = cm.predict(X32), est.predict(X32)
    d = np.sort(est.transform(X32), axis=1)
    near_tie = (d[:, 1] - d[:, 0]) <= 1e-4 * np.maximum(d[:, 1], 1.0)
    assert np.all((got == ref) | near_tie), f"non-tie mismatches at {np.flatnonzero((got != ref) & ~near_tie)}"
    assert (got == ref).mean() >= 0.999


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("data", list(DATASETS))
@pytest.mark.parametrize("model_id,factory,exact", TABLE_MODELS, ids=[m[0] for m in TABLE_MODELS])
def test_table_tree_layout_parity(target, data, model_id, factory, exact, tmp_path):
    """The compact array layout is exact too (auto picks inline code for these sizes)."""
    require_target(target)
    X, y = dataset(data)
    est = factory().fit(X, y)
    cm = edgekiln.convert(est, target, workdir=tmp_path, options={"tree_layout": "table"})
    assert cm.graph.nodes[-1].op == "tree_ensemble" and (tmp_path / "runtime/kernels/ek_tree_predict_f32.c").exists()
    assert_parity(cm, est, X, exact=True)
