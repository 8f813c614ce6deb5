"""edgekiln.convert() leaves no temporary project behind: close(), `with`, garbage collection
and interpreter exit remove it; a failed convert leaves nothing; `workdir` is kept."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from edgekiln.errors import InputError

X, y = load_iris(return_X_y=True)
TREE = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)


@pytest.fixture
def tmpdir_root(tmp_path, monkeypatch):
    """tempfile's folder pointed at an empty one, so whatever convert leaves is seen."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_close_removes_the_temporary_project(tmpdir_root):
    cm = edgekiln.convert(TREE, "host")
    assert cm.project.parent == tmpdir_root and cm.project.name.startswith("edgekiln-host-")
    np.testing.assert_array_equal(cm.predict(X[:5]), TREE.predict(X[:5]))
    cm.close()
    cm.close()  # twice is fine
    assert list(tmpdir_root.iterdir()) == []
    with pytest.raises(InputError, match="closed"):
        cm.predict(X[5:9])


def test_with_block_removes_it(tmpdir_root):
    with edgekiln.convert(TREE, "host") as cm:
        assert cm.project.is_dir()
        cm.predict(X[:3])
    assert list(tmpdir_root.iterdir()) == []


def test_garbage_collection_removes_it(tmpdir_root):
    cm = edgekiln.convert(TREE, "host")
    cm.predict(X[:3])
    del cm
    gc.collect()
    assert list(tmpdir_root.iterdir()) == []


def test_failed_convert_leaves_nothing(tmpdir_root):
    with pytest.raises(InputError, match="core"):
        edgekiln.convert(TREE, "host", options={"cores": 0})
    with pytest.raises(InputError, match="expects 4"):  # a failure after the build: the model is fine
        edgekiln.convert(TREE, "host").predict(X[:, :3])
    gc.collect()
    assert list(tmpdir_root.iterdir()) == []


def test_workdir_is_kept(tmpdir_root):
    work = tmpdir_root / "mine"
    cm = edgekiln.convert(TREE, "host", workdir=work)
    cm.close()
    del cm
    gc.collect()
    assert (work / "project.json").is_file() and (work / "model.c").is_file()


def test_interpreter_exit_removes_it(tmp_path):
    code = ("import edgekiln; from sklearn.datasets import load_iris; from sklearn.tree import DecisionTreeClassifier\n"
            "X, y = load_iris(return_X_y=True)\n"
            "cm = edgekiln.convert(DecisionTreeClassifier(max_depth=2).fit(X, y), 'host')\n"
            "print(cm.project)\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
