"""The CMakeLists.txt shipped in every exported project: cmake configures and builds it for
the host (the library alone, its test harness, and an existing CMake application that adds it
with add_subdirectory), and what it builds predicts as scikit-learn does."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import edgekiln
from edgekiln.targets import get_target
from edgekiln.targets.simulators import run_firmware

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("gcc") is None,
                                reason="needs cmake and gcc")
USER_APP = Path(__file__).parent / "data" / "cmake_user"
X, y = load_iris(return_X_y=True)


def _cmake(src: Path, build: Path, *defines: str) -> None:
    for cmd in (["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", *defines],
                ["cmake", "--build", str(build), "-j", "2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def forest():
    return RandomForestClassifier(10, max_depth=5, random_state=0).fit(X, y)


def test_harness_built_by_cmake_predicts_as_scikit_learn(tmp_path, forest):
    info = edgekiln.export(forest, "host", tmp_path / "p", options={"cores": 2})
    assert "CMakeLists.txt" in info.files
    _cmake(info.path, tmp_path / "b", "-DEDGEKILN_MODEL_HARNESS=ON")
    assert (tmp_path / "b" / "libedgekiln_model.a").is_file()
    X32 = X.astype(np.float32)
    result = run_firmware(tmp_path / "b" / "fw.elf", get_target("host"), X32)
    np.testing.assert_array_equal(forest.classes_[result.labels], forest.predict(X32.astype(np.float64)))


def test_existing_cmake_application_adds_the_project(tmp_path, forest):
    info = edgekiln.export(forest, "host", tmp_path / "iris", name="iris")
    _cmake(USER_APP, tmp_path / "b", f"-DEDGEKILN_PROJECT={info.path}")
    X32 = X.astype(np.float32)
    rows = "\n".join(" ".join("%.9g" % v for v in row) for row in X32)
    out = subprocess.run([str(tmp_path / "b" / "user_app")], input=rows, capture_output=True, text=True, check=True)
    got = np.array([[float(v) for v in line.split()] for line in out.stdout.splitlines()])
    ref = X32.astype(np.float64)
    np.testing.assert_array_equal(forest.classes_[got[:, 0].astype(int)], forest.predict(ref))
    np.testing.assert_allclose(got[:, 1:], forest.predict_proba(ref), atol=1e-6)


@pytest.mark.qemu
def test_cortex_m4_harness_built_by_cmake_runs_on_qemu(tmp_path, forest):
    """Cross-compiled with a plain CMake cross setup (compiler + the target flags CMake is given)."""
    from conftest import require_target

    require_target("cortex-m4")
    info = edgekiln.export(forest, "cortex-m4", tmp_path / "p")
    _cmake(info.path, tmp_path / "b", "-DCMAKE_SYSTEM_NAME=Generic", "-DCMAKE_C_COMPILER=arm-none-eabi-gcc",
           "-DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY", "-DEDGEKILN_MODEL_HARNESS=ON",
           "-DEDGEKILN_MODEL_APPLY_TARGET_FLAGS=ON")
    X32 = X.astype(np.float32)
    result = run_firmware(tmp_path / "b" / "fw.elf", get_target("cortex-m4"), X32, count_instructions=False)
    np.testing.assert_array_equal(forest.classes_[result.labels], forest.predict(X32.astype(np.float64)))
