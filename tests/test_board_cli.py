"""The issue's command forms against emulated boards: `kiln boards`, `kiln flash --board`,
`kiln run --board --data --json` (kiln run's JSON plus link statistics), `kiln profile
--board`; for both board protocols."""
from __future__ import annotations

import json

import numpy as np
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from edgekiln.cli import main

from conftest import require_target

pytestmark = pytest.mark.qemu


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-board")
    X, y = load_iris(return_X_y=True)
    est = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    sio.dump(est, d / "m.skops")
    np.save(d / "X.npy", X[:40].astype(np.float32))
    return d, est, X[:40].astype(np.float32)


def _ok(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return r.output


def test_kiln_boards_lists_boards_and_ports(tmp_path):
    out = _ok(["boards", "--json", str(tmp_path / "b.json")])
    assert "edgekiln boards" in out and "serial ports:" in out  # (the table wraps to the terminal)
    doc = json.loads((tmp_path / "b.json").read_text())
    assert {"emulated-gap8", "nucleo-f446re"} <= {b["name"] for b in doc["boards"]} and isinstance(doc["ports"], list)


@pytest.mark.parametrize("main_kind,target", [("board", "cortex-m4"), ("energyrunner", "gap8")])
def test_flash_run_profile_with_board(model, main_kind, target):
    d, est, X = model
    require_target(target)
    proj = d / f"p-{main_kind}"
    _ok(["export", str(d / "m.skops"), "-t", target, "-o", str(proj), "--main", main_kind])
    board = f"emulated-{target}"
    assert "ok" in _ok(["flash", str(proj), "--board", board])
    _ok(["run", str(proj), "--board", board, "--data", str(d / "X.npy"), "--json", str(d / "r.json")])
    rep = json.loads((d / "r.json").read_text())
    assert rep["predictions"] == [int(c) for c in est.predict(X)]
    link = rep["link"]
    for key in ("frames", "retries", "crc_errors_total", "bytes_per_s", "samples_per_s"):
        assert key in link, key
    assert link["retries"] == 0 and rep["board"] == board
    prof = _ok(["profile", str(proj), "--board", board, "--data", str(d / "X.npy"), "--json", str(d / "p.json")])
    assert "cycle counter" in prof
    assert json.loads((d / "p.json").read_text())["instructions"]["per_inference_median"] > 0
    r = CliRunner().invoke(main, ["run", str(proj), "--board", board, "--data", str(d / "X.npy"), "--resume",
                                  "--reference", str(d / "m.skops")])
    assert r.exit_code == 2 and "simulator path" in r.output


def test_profile_board_without_data_reads_counters(model):
    d, est, X = model
    require_target("cortex-m4")
    proj = d / "p-board"
    if not proj.exists():
        _ok(["export", str(d / "m.skops"), "-t", "cortex-m4", "-o", str(proj), "--main", "board"])
    out = _ok(["profile", str(proj), "--board", "emulated-cortex-m4"])
    assert "inferences" in out and "none on this port" in out
    r = CliRunner().invoke(main, ["profile", str(proj)])
    assert r.exit_code == 2 and "--data" in r.output
