"""Parallel kernels: identical results at every core count; profiling reports speedups."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

import edgekiln
from conftest import as_float32, target_params, targets_where
from edgekiln.targets import get_target
from zoo import CLASSIFIERS, CLUSTERERS, REGRESSORS

X, y = load_digits(return_X_y=True)
X, y = X[:240], y[:240]
MODELS = [c for c in CLASSIFIERS if c[0] in ("rf", "et", "gnb", "logreg", "svc_rbf", "svc_linear", "knn", "knn_dist_l1")]
MODELS += [r for r in REGRESSORS if r[0] in ("rfr", "svr", "knnr")] + CLUSTERERS


def _fit(factory, model_id):
    est = factory()
    return est.fit(X) if model_id == "kmeans" else est.fit(X, y if model_id not in ("rfr", "svr", "knnr") else X[:, 20])


# Linux user-mode targets with threads (arm: 4 POSIX threads under qemu-aarch64).
THREADED = target_params(targets_where(kind=("linux-user",), min_cores=2))
# Tree models run in both layouts (if/else code and arrays); others have one.
HOST_CASES = [(*m, "inline") for m in MODELS] + [(*m, "table") for m in MODELS if m[0] in ("rf", "et", "rfr")]


@pytest.mark.parametrize("model_id,factory,exact,layout", HOST_CASES, ids=[f"{c[0]}-{c[3]}" for c in HOST_CASES])
def test_host_threads_give_identical_outputs(model_id, factory, exact, layout, tmp_path):
    est = _fit(factory, model_id)
    X32 = as_float32(X)
    outs = {}
    for cores in (1, 3, 8):
        cm = edgekiln.convert(est, "host", workdir=tmp_path / str(cores), options={"cores": cores, "tree_layout": layout})
        r = cm.run(X32)
        outs[cores] = (r.labels, r.outputs)
    for cores in (3, 8):
        assert np.array_equal(outs[cores][0], outs[1][0])
        assert np.array_equal(outs[cores][1], outs[1][1]), "outputs must be bit-identical to the 1-core run"


@pytest.mark.parametrize("target", THREADED)
@pytest.mark.parametrize("model_id,factory,exact", MODELS, ids=[m[0] for m in MODELS])
def test_arm_threads_match_one_core_and_sklearn(model_id, factory, exact, target, tmp_path):
    est = _fit(factory, model_id)
    X32 = as_float32(X[:60])
    one = edgekiln.convert(est, target, workdir=tmp_path / "1").run(X32)
    four = edgekiln.convert(est, target, workdir=tmp_path / "4", options={"cores": get_target(target).cores}).run(X32)
    assert np.array_equal(one.labels, four.labels) and np.array_equal(one.outputs, four.outputs)
    assert max(four.per_core[0]) >= 1, "the worker threads' work is counted"


def test_more_cores_than_the_target_has_is_refused(tmp_path):
    from edgekiln.errors import InputError

    with pytest.raises(InputError, match="cortex-m4 has 1 core"):
        edgekiln.export(_fit(*MODELS[0][1:2], "rf"), "cortex-m4", tmp_path, options={"cores": 8})


@pytest.mark.parametrize("target", THREADED)
def test_kiln_profile_json(target, tmp_path):
    import skops.io as sio

    est = _fit(dict((m[0], m[1]) for m in MODELS)["svc_rbf"], "svc_rbf")
    sio.dump(est, tmp_path / "m.skops")
    np.save(tmp_path / "X.npy", X[:20])
    kiln = [sys.executable, "-m", "edgekiln.cli"]
    n = get_target(target).cores
    subprocess.run([*kiln, "export", str(tmp_path / "m.skops"), "-t", target, "-o", str(tmp_path / "p")], check=True,
                   capture_output=True)
    subprocess.run([*kiln, "profile", str(tmp_path / "p"), "-d", str(tmp_path / "X.npy"), "--cores", f"1,{n}",
                    "--json", str(tmp_path / "p.json")], check=True, capture_output=True)
    runs = json.loads((tmp_path / "p.json").read_text())["runs"]
    assert [r["cores"] for r in runs] == [1, n]
    assert runs[0]["speedup"] == 1.0 and runs[1]["identical_to_1_core"] is True
    assert runs[1]["speedup"] > n / 2, runs  # SVC kernel rows split n ways (arm: 4)
    assert runs[1]["critical_path_instructions"] < runs[1]["total_instructions"]
    assert set(runs[1]) >= {"cores", "total_instructions", "critical_path_instructions", "speedup", "efficiency", "cycles"}


@pytest.mark.parametrize("model_id,factory,exact", MODELS, ids=[m[0] for m in MODELS])
def test_host_batch_mode_gives_identical_outputs(model_id, factory, exact, tmp_path):
    est = _fit(factory, model_id)
    X32 = as_float32(X)
    one = edgekiln.convert(est, "host", workdir=tmp_path / "1").run(X32)
    batch = edgekiln.convert(est, "host", workdir=tmp_path / "b", options={"cores": 8, "batch": True}).run(X32)
    assert np.array_equal(one.labels, batch.labels) and np.array_equal(one.outputs, batch.outputs)


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",), min_cores=2)))
@pytest.mark.parametrize("model_id", ["rf", "gnb", "svc_rbf", "knn", "kmeans", "rfr"])
def test_batch_mode_on_qemu(target, model_id, tmp_path):
    """Samples split across cores: same outputs as one core, and the critical path per sample
    shrinks with the core count (the harness runs 4 samples per core per timed run)."""
    factory = dict((m[0], m[1]) for m in MODELS)[model_id]
    est = _fit(factory, model_id)
    X32 = as_float32(X[:64])
    t = get_target(target)
    cores = t.cores
    one = edgekiln.convert(est, target, workdir=tmp_path / "1").run(X32)
    batch = edgekiln.convert(est, target, workdir=tmp_path / "b", options={"cores": cores, "batch": True}).run(X32)
    assert np.array_equal(one.labels, batch.labels) and np.array_equal(one.outputs, batch.outputs)
    speedup = np.median(one.instructions) / np.median(batch.critical_path)
    # The cluster's fork costs ~100 instructions; a pthread fork (mutex, condition variable)
    # costs more, which small models (a few hundred instructions each) feel on arm.
    floor = 0.75 * cores if t.parallel == "cluster" else 1.5
    assert speedup > floor, f"batch speedup {speedup:.2f} on {cores} cores"
    assert len(batch.per_core[0]) == cores, "every core ran samples"
