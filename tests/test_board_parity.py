"""Parity through the serial protocol: every emulated board in the registry (boards/*.toml
with flasher = "emulated", so a new one joins with no test edit) runs the estimator zoo's
models over its serial link and must give exactly the simulator harness's labels and output
bits (which tests/test_parity.py holds to scikit-learn), and scikit-learn's labels for the
exact (tree) models. By default one model of each family on each board (40 runs, about 4
minutes); the whole zoo on every board (160 runs) with EDGEKILN_BOARD_ZOO=1 (marker `slow`)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import edgekiln
from edgekiln.boards.registry import all_boards
from edgekiln.boards.session import run_on_board
from edgekiln.targets.build import build_project
from edgekiln.targets.simulators import run_firmware

from conftest import as_float32, dataset, require_target
from zoo import CLASSIFIERS, CLUSTERERS, REGRESSORS

BOARDS = sorted(name for name, b in all_boards().items() if b.emulated)
FAMILY = {"rf", "logreg", "svc_rbf", "knn", "gnb", "rfr", "ridge", "kmeans"}  # the default sweep
MODELS = [(kind, m) for kind, ms in (("classify", CLASSIFIERS), ("regress", REGRESSORS), ("cluster", CLUSTERERS))
          for m in ms]
FULL = pytest.mark.skipif(not os.environ.get("EDGEKILN_BOARD_ZOO"),
                          reason="the whole zoo on every emulated board: set EDGEKILN_BOARD_ZOO=1")
PARAMS = [pytest.param(board, kind, mid, factory, exact, id=f"{board}-{mid}",
                       marks=[pytest.mark.qemu] + ([] if mid in FAMILY else [pytest.mark.slow, FULL]))
          for board in BOARDS for kind, (mid, factory, exact) in MODELS]


@pytest.fixture(scope="module")
def harness_runs():
    return {}


@pytest.mark.parametrize("board_name,kind,model_id,factory,exact", PARAMS)
def test_board_parity_with_the_simulator(tmp_path, harness_runs, board_name, kind, model_id, factory, exact):
    board = all_boards()[board_name]
    require_target(board.target)
    if kind == "regress":
        X, y = load_diabetes(return_X_y=True)
        X, y = X[::4], y[::4]
    else:
        X, y = dataset("iris")
    est = factory().fit(X, y) if kind != "cluster" else factory().fit(X)
    X32 = as_float32(X).astype(np.float32)
    proj = tmp_path / "board"
    edgekiln.export(est, board.target, proj, name="m", options={"main": "board"}, sim=board.variant)
    build_project(proj)
    # A generous reply timeout: on a loaded CI machine QEMU can stall past the 2 s default, and a
    # timeout retry is not the lost or corrupt frame the zero-retries assertion below is about.
    r = run_on_board(proj, board, X32, timeout=15.0)
    key = (board.target, model_id)
    if key not in harness_runs:  # the simulator path, on the same target's base port
        cm = edgekiln.convert(est, board.target, name="m", workdir=tmp_path / "harness")
        harness_runs[key] = run_firmware(cm.build.elf, cm.target, X32, preload=False)
    ref = harness_runs[key]
    assert np.array_equal(r.labels, ref.labels)
    assert np.array_equal(r.outputs.view(np.uint32), ref.outputs.view(np.uint32))
    if exact and kind == "classify":
        assert np.array_equal(est.classes_[r.labels], est.predict(X32))
    assert r.extra["link"]["retries"] == 0
