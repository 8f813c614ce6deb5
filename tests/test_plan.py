"""One plan for check and export: `kiln check` (and edgekiln.plan) report the memory plan
that `kiln export` with the same options builds (project.json's "plan"), for float and
fixed point, several cores and batch mode."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import edgekiln
from conftest import dataset
from edgekiln.cli import main

CASES = {  # id: (model, target, CLI options)
    "rf-float-m4": ("rf", "cortex-m4", []),
    "rf-table-gap8": ("rf", "gap8", ["--tree-layout", "table"]),
    "lr-fixed-gap8": ("lr", "gap8", ["--dtype", "fixed", "--calib", "X.npy"]),
    "knn-fixed-gap8-cores4": ("knn", "gap8", ["--dtype", "fixed", "--calib", "X.npy", "--cores", "4"]),
    "knn-float-gap8-cores4": ("knn", "gap8", ["--cores", "4"]),
    "knn-batch-gap8": ("knn", "gap8", ["--cores", "4", "--batch"]),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    X, y = dataset("iris")
    for name, est in {"rf": RandomForestClassifier(5, max_depth=5, random_state=0),
                      "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                      "knn": KNeighborsClassifier(3)}.items():
        sio.dump(est.fit(X, y), d / f"{name}.skops")
    np.save(d / "X.npy", X)
    return d


def _invoke(*args: str) -> str:
    r = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    return r.output


def _run(models, tmp_path, case: str) -> tuple[dict, dict, str]:
    model, target, opts = CASES[case]
    opts = [str(models / o) if o == "X.npy" else o for o in opts]
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = _invoke("check", str(models / f"{model}.skops"), "-t", target, *opts, "--json", str(tmp_path / "plan.json"))
    _invoke("export", str(models / f"{model}.skops"), "-t", target, "-o", str(tmp_path / "p"), *opts)
    built = json.loads((tmp_path / "p" / "project.json").read_text())["plan"]
    return json.loads((tmp_path / "plan.json").read_text()), built, out


@pytest.mark.parametrize("case", list(CASES))
def test_check_plans_what_export_builds(models, tmp_path, case):
    checked, built, out = _run(models, tmp_path, case)
    assert checked == built
    # the printed table carries the same numbers
    assert re.search(rf"constants \(flash bytes\)\s*│?\s*{checked['constants_flash_bytes']}\b", out)
    ram = checked["buffers_ram_bytes"] + checked["scratch_ram_bytes"]
    assert re.search(rf"buffers \+ scratch \(RAM bytes\)\s*│?\s*{ram}\b", out)


def test_check_follows_the_options(models, tmp_path):
    """The options change the plan (as they change the build): fixed point picks s16 kernels,
    more cores need more scratch, batch mode one copy of the buffers per core."""
    fixed, _, _ = _run(models, tmp_path / "a", "knn-fixed-gap8-cores4")
    float4, _, _ = _run(models, tmp_path / "b", "knn-float-gap8-cores4")
    batch, _, _ = _run(models, tmp_path / "c", "knn-batch-gap8")
    one = edgekiln.plan(edgekiln.load_model(str(models / "knn.skops")), "gap8")
    assert fixed["dtype"] == "fixed" and fixed["kernels"] == ["ek_distance_s16.c"]
    assert float4["cores"] == 4 and float4["scratch_ram_bytes"] > one["scratch_ram_bytes"]
    assert batch["batch"] and batch["scratch_ram_bytes"] == 4 * one["scratch_ram_bytes"]


def test_api_plan_equals_export(tmp_path):
    X, y = dataset("iris")
    est = LogisticRegression(max_iter=1000).fit(X, y)
    options = {"dtype": "fixed", "cores": 2}
    info = edgekiln.export(est, "pulp-open", tmp_path, options=options, calibration=X)
    assert edgekiln.plan(est, "pulp-open", options=options, calibration=X) == info.plan
