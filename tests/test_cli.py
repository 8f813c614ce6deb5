"""The `kiln` command line end to end: targets, check, export, build, run --json."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import require_target

KILN = [sys.executable, "-m", "edgekiln.cli"]


def kiln(*args: str, ok: bool = True, columns: int = 200) -> subprocess.CompletedProcess:
    proc = subprocess.run([*KILN, *args], capture_output=True, text=True, env={"COLUMNS": str(columns), "PATH": _path()})
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _path() -> str:
    import os

    return os.environ["PATH"]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    X, y = load_breast_cancer(return_X_y=True)
    rf = RandomForestClassifier(10, max_depth=10, random_state=0).fit(X, y)
    lr = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    sio.dump(rf, d / "rf.skops")
    sio.dump(lr, d / "lr.skops")
    np.save(d / "X.npy", X[:60])
    return d


def test_help_lists_every_group_and_every_command_module():
    import importlib

    import edgekiln.cli

    out = kiln("--help").stdout
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert {"targets", "check", "export", "build", "run", "profile", "flash-offload", "moe"} <= listed
    # every command module in the package (found by file, not named here) adds a listed command
    for name in edgekiln.cli.COMMAND_MODULES:
        module = f"edgekiln.cli.{name}"
        importlib.import_module(module)
        mine = [c for c, cmd in edgekiln.cli.main.commands.items() if cmd.callback.__module__ == module]
        assert mine, f"{module} registers no command"
        assert set(mine) <= listed, (module, mine)


def test_json_outputs_are_all_spelled_json_path():
    import click

    from edgekiln.cli import main

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, cmd

    writers = {}
    for path, cmd in walk(main, []):
        for p in cmd.params:
            if "json" in p.name or any("json" in o for o in p.opts):
                writers[" ".join(path)] = (p.opts, p.name, p.metavar)
    assert {"run", "profile", "flash-offload bench-io", "moe run", "moe bench"} <= set(writers)
    assert all(w == (["--json"], "json_path", "PATH") for w in writers.values()), writers


def test_targets_table():
    out = kiln("targets").stdout
    for name in ("host", "cortex-m4", "arm"):
        assert name in out
    assert "mps2-an386" in out


def test_check_prints_plan_without_building(model_files, tmp_path):
    out = kiln("check", str(model_files / "rf.skops"), "--target", "cortex-m4").stdout
    assert "tree_ensemble" in out and "fits" in out
    assert not list(tmp_path.iterdir())


def test_pickle_refused_on_the_command_line(tmp_path):
    import joblib

    joblib.dump(LogisticRegression().fit(np.eye(3), [0, 1, 1]), tmp_path / "m.pkl")
    proc = kiln("check", str(tmp_path / "m.pkl"), "--target", "host", ok=False)
    assert proc.returncode == 2 and "--trust-pickle" in proc.stderr and not proc.stdout
    assert kiln("check", str(tmp_path / "m.pkl"), "--target", "host", "--trust-pickle").returncode == 0


@pytest.mark.qemu
@pytest.mark.parametrize("model", ["rf", "lr"])
def test_export_build_run_json(model, model_files, tmp_path):
    require_target("cortex-m4")
    out = tmp_path / "proj"
    kiln("export", str(model_files / f"{model}.skops"), "--target", "cortex-m4", "-o", str(out))
    assert (out / "Makefile").exists() and (out / "model.c").exists() and (out / "linker.ld").exists()
    # The project builds with make alone (no Python), warnings as errors.
    make = subprocess.run(["make", "-C", str(out)], capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    build = kiln("build", str(out)).stdout
    assert "FLASH" in build and "RAM" in build
    report_path = tmp_path / "report.json"
    kiln("run", str(out), "--data", str(model_files / "X.npy"), "--json", str(report_path),
         "--reference", str(model_files / f"{model}.skops"))
    r = json.loads(report_path.read_text())
    assert r["target"] == "cortex-m4" and r["simulator"] == "qemu" and r["n_samples"] == 60
    assert len(r["predictions"]) == 60 and len(r["outputs"]) == 60 and len(r["outputs"][0]) == 2
    ins = r["instructions"]
    assert 0 < ins["per_inference_median"] <= ins["per_inference_max"] <= ins["total"]
    assert r["memory"]["flash_bytes"] > 0 and r["memory"]["ram_bytes"] > 0
    assert r["memory"]["stack_bytes"] is not None and r["memory"]["stack_bytes"] > 0
    assert r["reference_agreement"]["agreement"] == 1.0


def test_run_rejects_wrong_feature_count(model_files, tmp_path):
    out = tmp_path / "proj"
    kiln("export", str(model_files / "lr.skops"), "--target", "host", "-o", str(out))
    np.save(tmp_path / "bad.npy", np.zeros((3, 5)))
    proc = kiln("run", str(out), "--data", str(tmp_path / "bad.npy"), ok=False, columns=40)
    assert proc.returncode == 2 and "5 features, but the model expects 30" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # one line, however long
