"""Issue 10: the CLI refuses what it cannot honour before running, and never loses results."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from conftest import require_target


def kiln(*args: str, columns: int = 200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgekiln.cli", *args], capture_output=True, text=True,
                          env={"COLUMNS": str(columns), "PATH": os.environ["PATH"]})


@pytest.fixture(scope="module")
def host_project(tmp_path_factory):
    d = tmp_path_factory.mktemp("contract")
    X, y = load_iris(return_X_y=True)
    sio.dump(DecisionTreeClassifier(random_state=0).fit(X, y), d / "m.skops")
    np.save(d / "X.npy", X[:12])
    np.save(d / "y.npy", y[:12])
    assert kiln("export", str(d / "m.skops"), "-t", "host", "-o", str(d / "p")).returncode == 0
    return d


def _one_line_error(r: subprocess.CompletedProcess, text: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert text in r.stderr, r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_json_into_a_missing_folder_is_created_before_the_run(host_project):
    out = host_project / "nodir" / "deeper" / "r.json"
    r = kiln("run", str(host_project / "p"), "-d", str(host_project / "X.npy"), "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["n_samples"] == 12


def test_json_onto_a_folder_is_refused_before_the_run(host_project):
    r = kiln("run", str(host_project / "p"), "-d", str(host_project / "X.npy"), "--json", str(host_project))
    assert r.returncode == 2 and "is a directory" in r.stderr


def test_negative_timeout_is_refused(host_project):
    r = kiln("run", str(host_project / "p"), "-d", str(host_project / "X.npy"), "--timeout", "-1")
    assert r.returncode == 2 and "--timeout" in r.stderr


def test_calib_without_fixed_is_refused(host_project, tmp_path):
    r = kiln("export", str(host_project / "m.skops"), "-t", "host", "-o", str(tmp_path / "q"),
             "--calib", str(host_project / "X.npy"))
    assert r.returncode == 2 and "only with --dtype fixed" in r.stderr
    assert not (tmp_path / "q").exists()


def test_csv_with_a_header_row_is_read_with_a_notice(host_project, tmp_path):
    X, _ = load_iris(return_X_y=True)
    csv = tmp_path / "X.csv"
    csv.write_text("a,b,c,d\n" + "\n".join(",".join(f"{v}" for v in row) for row in X[:12]) + "\n")
    r = kiln("run", str(host_project / "p"), "-d", str(csv), "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert "read as a header" in r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["n_samples"] == 12


def test_csv_with_text_inside_says_numbers_only(host_project, tmp_path):
    csv = tmp_path / "X.csv"
    csv.write_text("1,2,3,4\n1,x,3,4\n")
    _one_line_error(kiln("run", str(host_project / "p"), "-d", str(csv)), "numbers only")


def test_3d_data_names_its_shape(host_project, tmp_path):
    np.save(tmp_path / "X3.npy", np.zeros((5, 2, 4)))
    _one_line_error(kiln("run", str(host_project / "p"), "-d", str(tmp_path / "X3.npy")),
                    "must be 2-D (n_samples, 4); got shape (5, 2, 4)")


def test_corrupt_project_json_is_one_clear_line(host_project, tmp_path):
    import shutil

    shutil.copytree(host_project / "p", tmp_path / "p")
    (tmp_path / "p" / "project.json").write_text("{not json")
    _one_line_error(kiln("run", str(tmp_path / "p"), "-d", str(host_project / "X.npy")), "project.json is corrupt")


def test_labels_report_accuracy_beside_agreement(host_project, tmp_path):
    r = kiln("run", str(host_project / "p"), "-d", str(host_project / "X.npy"), "--labels", str(host_project / "y.npy"),
             "--reference", str(host_project / "m.skops"), "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["labels"] == {"kind": "accuracy", "accuracy": 1.0, "n_correct": 12}
    assert doc["reference_agreement"]["agreement"] == 1.0
    assert "accuracy on --labels" in r.stdout


def test_labels_of_the_wrong_length_fail_before_running(host_project, tmp_path):
    np.save(tmp_path / "y5.npy", np.zeros(5))
    _one_line_error(kiln("run", str(host_project / "p"), "-d", str(host_project / "X.npy"), "--labels",
                         str(tmp_path / "y5.npy")), "--labels has 5 values but --data has 12 samples")


def test_targets_json_and_80_columns(tmp_path):
    r = kiln("targets", "--json", str(tmp_path / "t.json"), columns=80)
    assert r.returncode == 0
    docs = json.loads((tmp_path / "t.json").read_text())
    from edgekiln.targets import all_targets

    assert {d["name"] for d in docs} == set(all_targets())
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "…" not in r.stdout  # nothing truncated


@pytest.mark.qemu
def test_profile_defaults_to_core_counts_the_target_has(tmp_path):
    require_target("arm")
    from edgekiln.targets import get_target

    X, y = load_iris(return_X_y=True)
    sio.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "m.skops")
    np.save(tmp_path / "X.npy", X[:4])
    assert kiln("export", str(tmp_path / "m.skops"), "-t", "arm", "-o", str(tmp_path / "p")).returncode == 0
    r = kiln("profile", str(tmp_path / "p"), "-d", str(tmp_path / "X.npy"), "--json", str(tmp_path / "prof.json"))
    assert r.returncode == 0, r.stderr
    n = get_target("arm").cores
    cores = [run["cores"] for run in json.loads((tmp_path / "prof.json").read_text())["runs"]]
    assert cores == sorted({c for c in (1, 2, 4, 8) if c <= n} | {n})


@pytest.mark.parametrize("args", [
    ["export", "--bogus"],                                        # click: unknown option
    ["export", "m.skops", "-t", "host"],                          # click: missing -o
    ["export", "missing.skops", "-t", "host", "-o", "out"],       # edgekiln: no such model file
    ["export", "m.skops", "-t", "gap9", "-o", "out"],             # edgekiln: unknown target
    ["run", "p", "-d", "X.npy", "--timeout", "-1"],               # click: out of range
    ["build", "nowhere"],                                         # click: folder does not exist
])
def test_every_error_is_one_line_on_stderr_with_exit_code_2(host_project, args):
    """docs/cli.md "Errors and exit codes": nothing on stdout, one `error:` line on stderr, exit 2."""
    r = subprocess.run([sys.executable, "-m", "edgekiln.cli", *args], capture_output=True, text=True,
                       cwd=host_project, env={"COLUMNS": "80", "PATH": os.environ["PATH"]})
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
