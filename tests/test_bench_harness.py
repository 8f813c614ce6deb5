"""benchmarks/harness_projects.py: the empty-model baseline and a peer's model build in the
same harness main.c as edgekiln's own project (the classic benchmark's flash figures are
differences against the baseline, so a harness that does not build loses every figure)."""
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from conftest import require_target

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness_projects import edgekiln_project, null_project, peer_project  # noqa: E402
from peers import PEERS  # noqa: E402

from edgekiln.targets.build import build_project  # noqa: E402


@pytest.mark.parametrize("target", ["cortex-m4"])
def test_baseline_peer_and_edgekiln_build_in_one_harness(target, tmp_path):
    require_target(target)
    pytest.importorskip("emlearn")
    X, y = load_iris(return_X_y=True)
    est = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    base = build_project(null_project(est, target, tmp_path / "null"))
    ours = build_project(edgekiln_project(est, target, tmp_path / "edgekiln"))
    project, _ = peer_project(PEERS["emlearn"], est, target, tmp_path / "emlearn")
    peer = build_project(project)
    for b in (ours, peer):
        assert b.firmware_flash_bytes > base.firmware_flash_bytes
