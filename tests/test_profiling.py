"""Instruction counting and the harness paths: deterministic, plausible, stream == preload."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from conftest import require_target, target_params, targets_where
from edgekiln.targets import get_target
from edgekiln.targets.simulators import run_firmware

pytestmark = pytest.mark.qemu
X, y = load_digits(return_X_y=True)


# Instruction counts (the QEMU plugin) with a hardware FPU, so a multiply-add is a few
# instructions; the cluster targets' counts are checked in test_riscv_targets.py.
@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",), fpu=True,
                                                               parallel=("single", "pthread"))))
def test_counts_are_deterministic_and_scale_with_work(target, tmp_path):
    rng = np.random.default_rng(0)
    counts = {}
    for n in (8, 64):
        Xs = rng.normal(size=(50, n))
        cm = edgekiln.convert(Ridge().fit(Xs, Xs[:, 0]), target, workdir=tmp_path / str(n))
        a = run_firmware(cm.build.elf, cm.target, Xs[:5]).instructions
        b = run_firmware(cm.build.elf, cm.target, Xs[:5]).instructions
        assert a == b, "instruction counts must repeat exactly"
        assert len(set(a)) == 1, "a dense dot product has no data-dependent branches"
        counts[n] = a[0]
    # 56 more multiply-adds: at least 2 instructions each (load + fma), at most 10.
    assert 2 * 56 <= counts[64] - counts[8] <= 10 * 56, counts


def test_stream_and_preload_give_identical_results(tmp_path):
    require_target("cortex-m4")
    est = LogisticRegression(max_iter=500).fit(X, y)
    cm = edgekiln.convert(est, "cortex-m4", workdir=tmp_path)
    t = get_target("cortex-m4")
    streamed = run_firmware(cm.build.elf, t, X[:40].astype(np.float32), preload=False)
    preloaded = run_firmware(cm.build.elf, t, X[:40].astype(np.float32), preload=True)
    assert np.array_equal(streamed.labels, preloaded.labels)
    assert np.array_equal(streamed.outputs, preloaded.outputs)
    assert streamed.instructions == preloaded.instructions


def test_tree_depth_shows_in_counts(tmp_path):
    """Samples reaching deeper leaves execute more instructions: the count sees the branches."""
    require_target("cortex-m4")
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    cm = edgekiln.convert(est, "cortex-m4", workdir=tmp_path)
    cm.predict(X[:200])
    depth = est.decision_path(X[:200].astype(np.float32)).sum(axis=1).A1
    ins = np.asarray(cm.last_run.instructions)
    assert np.corrcoef(depth, ins)[0, 1] > 0.95
