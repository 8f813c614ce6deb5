"""A target folder is all it takes: a synthetic target under $EDGEKILN_TARGETS is found by
the registry, picked up by the tests' target filters (tests/conftest.py) and so by the parity
tests with no test edits, and builds and runs. Lowerings keep their own options."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from conftest import target_params, targets_where
from edgekiln.errors import InputError
from edgekiln.targets import registry

TESTS = Path(__file__).parent


def _synthetic(root: Path, name: str = "vendorhost", cores: int = 2) -> Path:
    """A copy of the host target's description under another name, in a folder of its own
    (its port file named by absolute path, as an outside folder would)."""
    host = registry.HERE / "host" / "target.toml"
    text = host.read_text().replace('name = "host"', f'name = "{name}"').replace("cores = 8", f"cores = {cores}")
    text = text.replace('"../common/posix_port.c"', repr(str(registry.HERE / "common" / "posix_port.c")).replace("'", '"'))
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "target.toml").write_text(text)
    assert tomllib.loads(text)["name"] == name
    return folder


def test_synthetic_target_is_registered_filtered_and_runs(tmp_path, monkeypatch):
    _synthetic(tmp_path / "more")
    monkeypatch.setenv(registry.EXTRA_TARGETS_ENV, str(tmp_path / "more"))
    assert "vendorhost" in registry.all_targets() and "host" in registry.all_targets()
    assert "vendorhost" in targets_where(kind=("host",), min_cores=2, fpu=True, simulator=("native",))
    assert "vendorhost" not in targets_where(min_cores=3) and "vendorhost" not in targets_where(fpu=False)
    [param] = target_params(["vendorhost"])
    assert param.id == "vendorhost" and not param.marks       # native: no qemu mark, nothing missing
    X, y = load_iris(return_X_y=True)
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    cm = edgekiln.convert(est, "vendorhost", workdir=tmp_path / "p", options={"cores": 2})
    assert np.array_equal(cm.predict(X.astype(np.float32)), est.predict(X.astype(np.float32)))


def test_parity_tests_pick_up_a_new_target_folder(tmp_path):
    _synthetic(tmp_path / "more")
    env = {**os.environ, registry.EXTRA_TARGETS_ENV: str(tmp_path / "more")}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "--collect-only", "-p", "no:cacheprovider",
                          "tests/test_parity.py", "tests/test_flash_c.py"],
                         cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    for test in ("test_classifier_parity", "test_regressor_parity", "test_kmeans_parity", "test_table_tree_layout_parity",
                 "test_forward_matches_numpy"):
        with_host = [i for i in ids if test in i and re.search(r"[\[-]host\]$", i)]
        with_synth = [i for i in ids if test in i and re.search(r"[\[-]vendorhost\]$", i)]
        assert with_host and len(with_synth) == len(with_host), test


def test_a_target_name_defined_twice_is_refused(tmp_path, monkeypatch):
    _synthetic(tmp_path / "a", name="host")
    monkeypatch.setenv(registry.EXTRA_TARGETS_ENV, str(tmp_path / "a"))
    with pytest.raises(InputError, match="target 'host' is defined twice"):
        registry.all_targets()


def test_lowerings_do_not_share_options():
    """Lowering.options is per instance (no class-level dict one use could leak into another)."""
    from sklearn.linear_model import LogisticRegression

    from edgekiln.codegen.lowering import Lowering, lowering_for
    from edgekiln.frontends.sklearn import from_sklearn

    X, y = load_iris(return_X_y=True)
    node = from_sklearn(LogisticRegression(max_iter=300).fit(X, y)).nodes[-1]
    opts = {"cores": 4}
    a, b = lowering_for(node, options=opts), lowering_for(node)
    a.options["tree_layout"] = "table"
    assert b.options == {} and opts == {"cores": 4} and a.cores == 4 and b.cores == 1
    assert "options" not in vars(Lowering) and type(a).__dict__.get("options") is None
