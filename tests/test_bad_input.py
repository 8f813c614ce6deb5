"""Bad input gets a clear error that says what was wrong and what to do."""
from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from conftest import require_target
from edgekiln.errors import (InputError, MemoryBudgetError, ModelLoadError, SimulatorError, ToolchainError,
                             UnsupportedModelError)
from edgekiln.targets import get_target
from edgekiln.targets.build import build_project
from edgekiln.targets.simulators import run_firmware

X, y = load_iris(return_X_y=True)


def test_unsupported_estimator_lists_supported_and_nearest():
    with pytest.raises(UnsupportedModelError) as e:
        edgekiln.export(AdaBoostClassifier(n_estimators=3).fit(X, y), "host", "/tmp/unused")
    msg = str(e.value)
    assert "AdaBoostClassifier is not supported" in msg
    assert "nearest supported alternative is DecisionTreeClassifier" in msg or "RandomForest" in msg
    assert "KNeighborsClassifier" in msg and "GaussianNB" in msg  # the supported list


def test_unfitted_estimator():
    with pytest.raises(InputError, match="not fitted"):
        edgekiln.convert(RandomForestClassifier(), "host")


def test_unsupported_options_say_what_to_change():
    with pytest.raises(UnsupportedModelError, match="precomputed"):
        edgekiln.export(SVC(kernel="precomputed").fit(X @ X.T, y), "host", "/tmp/unused")
    with pytest.raises(UnsupportedModelError, match="metric"):
        edgekiln.export(KNeighborsClassifier(metric="chebyshev").fit(X, y), "host", "/tmp/unused")


def test_wrong_feature_count_and_shape(tmp_path):
    cm = edgekiln.convert(DecisionTreeClassifier().fit(X, y), "host", workdir=tmp_path)
    with pytest.raises(InputError, match="3 features, but the model expects 4"):
        cm.predict(X[:, :3])
    with pytest.raises(InputError, match="2-D"):
        cm.predict(X[0])


def test_nan_follows_scikit_learn(tmp_path):
    """Trees define a result for NaN (the learned missing-value direction): the device gives
    the same. SVC rejects NaN: so do we, with scikit-learn's reason."""
    rng = np.random.default_rng(0)
    Xn = X.copy()
    Xn[rng.random(Xn.shape) < 0.15] = np.nan
    tree = DecisionTreeClassifier(random_state=0).fit(Xn, y)  # learns where NaN goes
    Xt = X.copy()
    Xt[rng.random(Xt.shape) < 0.3] = np.nan
    for layout in ("inline", "table"):
        cm = edgekiln.convert(tree, "host", workdir=tmp_path / layout, options={"tree_layout": layout})
        assert np.array_equal(cm.predict(Xt), tree.predict(Xt))
        assert np.array_equal(cm.predict_proba(Xt), tree.predict_proba(Xt))
    forest = RandomForestClassifier(5, random_state=0).fit(Xn, y)
    cmf = edgekiln.convert(forest, "host", workdir=tmp_path / "forest")
    assert np.array_equal(cmf.predict(Xt), forest.predict(Xt))
    plain = DecisionTreeClassifier(random_state=0).fit(X, y)  # never saw NaN: sklearn still defines it
    cm2 = edgekiln.convert(plain, "host", workdir=tmp_path / "plain")
    assert np.array_equal(cm2.predict(Xt), plain.predict(Xt))
    svc = edgekiln.convert(SVC().fit(X, y), "host", workdir=tmp_path / "svc")
    with pytest.raises(InputError, match="NaN"):
        svc.predict(Xt)
    with pytest.raises(InputError, match="infinity"):
        svc.predict(np.full((1, 4), np.inf))


def test_pickle_needs_explicit_trust(tmp_path):
    import joblib

    p = tmp_path / "m.joblib"
    joblib.dump(DecisionTreeClassifier().fit(X, y), p)
    with pytest.raises(ModelLoadError, match="--trust-pickle"):
        edgekiln.load_model(p)
    assert edgekiln.load_model(p, trust_pickle=True).predict(X[:2]).shape == (2,)


def test_malformed_and_missing_model_files(tmp_path):
    bad = tmp_path / "broken.skops"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(ModelLoadError, match="not a valid .skops"):
        edgekiln.load_model(bad)
    with pytest.raises(ModelLoadError, match="does not exist"):
        edgekiln.load_model(tmp_path / "nope.skops")
    text = tmp_path / "model.txt"  # .txt is a LightGBM model file
    text.write_text("x")
    with pytest.raises(ModelLoadError, match="not a LightGBM model"):
        edgekiln.load_model(text)
    other = tmp_path / "model.csv"
    other.write_text("x")
    with pytest.raises(ModelLoadError, match="unknown model file type"):
        edgekiln.load_model(other)


def test_constant_target_trees(tmp_path):
    """A tree that is a single leaf (one class, or a constant target) still compiles and
    predicts as scikit-learn does, in both layouts and in soft-float keys."""
    from sklearn.tree import DecisionTreeRegressor

    for est in (DecisionTreeClassifier().fit(X, np.zeros(len(X), dtype=int)),
                DecisionTreeRegressor().fit(X, np.full(len(X), 2.5)),
                RandomForestClassifier(3, random_state=0).fit(X, y == 0)):
        for opts in ({"tree_layout": "inline"}, {"tree_layout": "table"}, {"soft_float": True}):
            cm = edgekiln.convert(est, "host", workdir=tmp_path / f"{type(est).__name__}{len(opts)}{opts}",
                                  options=opts)
            assert np.array_equal(cm.predict(X), est.predict(X))


def test_unknown_target():
    with pytest.raises(InputError, match="unknown target 'gap9'.*available"):
        edgekiln.convert(DecisionTreeClassifier().fit(X, y), "gap9")


@pytest.mark.qemu
def test_model_too_large_before_linking():
    require_target("cortex-m4")
    rng = np.random.default_rng(0)
    big = KNeighborsClassifier().fit(rng.normal(size=(6000, 64)), rng.integers(0, 3, 6000))  # 1.5 MB of rows
    with pytest.raises(MemoryBudgetError, match=r"needs \d+ bytes of flash.*cortex-m4 has 1048576"):
        edgekiln.convert(big, "cortex-m4")


@pytest.mark.qemu
def test_linker_overflow_is_translated(tmp_path):
    """A flash region smaller than the firmware: the linker's overflow becomes our message."""
    require_target("cortex-m4")
    info = edgekiln.export(RandomForestClassifier(10, random_state=0).fit(X, y), "cortex-m4", tmp_path)
    ld = (tmp_path / "linker.ld").read_text()
    assert "LENGTH = 1048576" in ld or "LENGTH = 0x100000" in ld
    (tmp_path / "linker.ld").write_text(ld.replace("LENGTH = 1048576", "LENGTH = 2048", 1)
                                        .replace("LENGTH = 0x100000", "LENGTH = 2048", 1))
    with pytest.raises(MemoryBudgetError, match=r"needs \d+ bytes of FLASH but cortex-m4 has"):
        build_project(info.path)


def test_missing_cross_compiler_names_the_install_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainError, match="apt-get install -y gcc-arm-none-eabi"):
        edgekiln.convert(DecisionTreeClassifier().fit(X, y), "cortex-m4")


def test_missing_simulator_names_the_install_command(monkeypatch, tmp_path):
    """The cross compiler is there, QEMU is not: say which package brings it."""
    import shutil

    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip(reason="arm-none-eabi-gcc not installed: apt-get install gcc-arm-none-eabi")
    (tmp_path / "arm-none-eabi-gcc").symlink_to(cc)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="qemu-system-arm not found.*apt-get install -y qemu-system-arm"):
        edgekiln.convert(DecisionTreeClassifier().fit(X, y), "cortex-m4")


@pytest.mark.qemu
def test_hung_simulator_times_out_with_log_tail(tmp_path):
    require_target("cortex-m4")
    edgekiln.export(DecisionTreeClassifier().fit(X, y), "cortex-m4", tmp_path)
    build = build_project(tmp_path)
    # Streamed over the UART, 4000 rows take far longer than a 2 s budget: the run is stopped.
    with pytest.raises(SimulatorError, match=r"(?s)did not finish within 2 s.*core 0: 0x[0-9a-f]+ in \w+.*"
                                             r"Last output:\n.*EK"):
        run_firmware(build.elf, get_target("cortex-m4"), np.tile(X, (27, 1)), timeout=2, preload=False)
    assert not _processes_with(str(build.elf)), "the stopped simulator is still running"


@pytest.mark.qemu
def test_hung_cluster_reports_every_core(tmp_path):
    """A run stopped on the 9-hart PULP model says where the fabric controller and each
    cluster core were (here: hart 0 reading the console, the cluster asleep in its loop)."""
    require_target("gap8")
    edgekiln.export(DecisionTreeClassifier().fit(X, y), "gap8", tmp_path, options={"cores": 8})
    build = build_project(tmp_path)
    with pytest.raises(SimulatorError) as e:
        run_firmware(build.elf, get_target("gap8"), np.tile(X, (40, 1)), timeout=2, preload=False)
    msg = str(e.value)
    for core in range(9):
        assert f"core {core}: 0x" in msg, msg
    assert "ek_team_worker" in msg or "sleep_until_woken" in msg, msg


def _processes_with(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.split(" ")[0].endswith("qemu-system-arm") and text in cmd:
            found.append(cmd)
    return found


@pytest.mark.parametrize("call", ["convert", "export", "plan"])
def test_unknown_option_keys_are_refused_with_the_valid_ones(tmp_path, call):
    est = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    args = {"convert": (est, "host"), "export": (est, "host", tmp_path / "p"), "plan": (est, "host")}[call]
    with pytest.raises(InputError) as e:
        getattr(edgekiln, call)(*args, options={"tree_layuot": "table", "cores": 1})
    msg = str(e.value)
    assert "unknown option 'tree_layuot'" in msg and "did you mean 'tree_layout'" in msg
    for key in ("tree_layout", "cores", "batch", "dtype", "soft_float", "tree_keys"):
        assert key in msg
    assert not (tmp_path / "p").exists()
