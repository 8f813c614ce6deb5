"""Issue 10: wrong results without a word. DataFrame columns, the wrong --reference."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from edgekiln.errors import InputError

from conftest import require_target


@pytest.fixture(scope="module")
def iris_frame():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def frame_model(iris_frame):
    X, y = iris_frame
    return edgekiln.convert(DecisionTreeClassifier(random_state=0).fit(X, y), "host")


def test_reordered_columns_raise_like_scikit_learn(iris_frame, frame_model):
    X, y = iris_frame
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    swapped = X[list(reversed(X.columns))]
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(swapped)
    with pytest.raises(InputError, match="feature names should match.*another order"):
        frame_model.predict(swapped)


def test_renamed_column_names_the_unseen_and_missing(iris_frame, frame_model):
    X, _ = iris_frame
    renamed = X.rename(columns={X.columns[0]: "bogus"})
    with pytest.raises(InputError, match="not at fit time: bogus.*missing now: sepal length"):
        frame_model.predict(renamed)


def test_same_columns_predict_as_scikit_learn(iris_frame, frame_model):
    X, y = iris_frame
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(frame_model.predict(X), est.predict(X))


def test_array_for_a_model_fitted_with_names_warns(iris_frame, frame_model):
    X, _ = iris_frame
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        frame_model.predict(X.to_numpy())


def test_frame_for_a_model_fitted_without_names_warns(iris_frame):
    X, y = iris_frame
    cm = edgekiln.convert(DecisionTreeClassifier(random_state=0).fit(X.to_numpy(), y), "host")
    with pytest.warns(UserWarning, match="has feature names, but DecisionTreeClassifier was fitted without"):
        cm.predict(X)


def _kiln(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgekiln.cli", *args], capture_output=True, text=True,
                          env={"COLUMNS": "200", "PATH": __import__("os").environ["PATH"]})


@pytest.mark.qemu
def test_run_says_when_the_reference_is_another_model(tmp_path):
    require_target("cortex-m4")
    X, y = load_iris(return_X_y=True)
    sio.dump(RandomForestClassifier(5, random_state=0).fit(X, y), tmp_path / "a.skops")
    sio.dump(RandomForestClassifier(5, random_state=1).fit(X, y), tmp_path / "b.skops")
    np.save(tmp_path / "X.npy", X[:20])
    assert _kiln("export", str(tmp_path / "a.skops"), "-t", "cortex-m4", "-o", str(tmp_path / "p")).returncode == 0
    same = _kiln("run", str(tmp_path / "p"), "-d", str(tmp_path / "X.npy"), "--reference", str(tmp_path / "a.skops"),
                 "--json", str(tmp_path / "a.json"))
    other = _kiln("run", str(tmp_path / "p"), "-d", str(tmp_path / "X.npy"), "--reference", str(tmp_path / "b.skops"),
                  "--json", str(tmp_path / "b.json"))
    assert same.returncode == 0 and other.returncode == 0, same.stderr + other.stderr
    assert json.loads((tmp_path / "a.json").read_text())["reference_agreement"]["is_exported_model"] is True
    assert json.loads((tmp_path / "b.json").read_text())["reference_agreement"]["is_exported_model"] is False
    assert "NOT the exported model" in other.stdout


def test_reference_with_other_feature_count_fails_before_running(tmp_path):
    X, y = load_iris(return_X_y=True)
    sio.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "a.skops")
    wide = np.hstack([X, X])
    sio.dump(DecisionTreeClassifier(random_state=0).fit(wide, y), tmp_path / "wide.skops")
    np.save(tmp_path / "X.npy", X[:5])
    assert _kiln("export", str(tmp_path / "a.skops"), "-t", "host", "-o", str(tmp_path / "p")).returncode == 0
    r = _kiln("run", str(tmp_path / "p"), "-d", str(tmp_path / "X.npy"), "--reference", str(tmp_path / "wide.skops"))
    assert r.returncode == 2
    assert "takes 8 features but the exported model takes 4" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert not (tmp_path / "p" / "fw.elf").exists() and not (tmp_path / "p" / "build.json").exists()


@pytest.mark.qemu
def test_multicore_instruction_counts_repeat_exactly():
    """Barrier waiting follows host thread scheduling; the reported instructions must not."""
    require_target("gap8")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    cm = edgekiln.convert(RandomForestClassifier(10, max_depth=10, random_state=0).fit(X, y), "gap8",
                          options={"cores": 3})
    runs = []
    for _ in range(3):
        cm._cache = None
        runs.append(cm.run(X[:20]).instructions)
    assert runs[0] == runs[1] == runs[2]
