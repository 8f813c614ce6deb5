"""Accumulator and index widths are per node, not per firmware: two models that chose
different widths share one runtime (the same ek_config.h and kernel files), each calling its
own kernel variant (ek_linear_s16_acc32 / _acc64, ek_tree_*_f32_i16_u8 / ...)."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

import edgekiln


def _symbols(obj) -> dict[str, str]:
    out = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1]: line.split()[-2] for line in out.splitlines() if line.strip()}


def _compile(src, obj, include) -> None:
    subprocess.run(["gcc", "-c", "-O1", "-Wall", "-Wextra", "-Werror", "-Wconversion", f"-I{include}", str(src),
                    "-o", str(obj)], check=True, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("nm") is None, reason="needs gcc and nm")
def test_two_models_with_different_widths_share_one_runtime(tmp_path):
    rng = np.random.default_rng(0)
    projects = {}
    for name, n in (("narrow", 1), ("wide", 30)):  # 30 features can overflow int32, one cannot
        X = rng.normal(0, 3, (200, n))
        est = Ridge().fit(X, X @ rng.normal(0, 2, n))
        projects[name] = edgekiln.export(est, "host", tmp_path / name, name=name, options={"dtype": "fixed"},
                                         calibration=X)
    X = rng.normal(size=(2000, 300))
    deep = DecisionTreeRegressor(random_state=0).fit(X, X[:, 0])  # 300 features: uint16 feature indices
    projects["deep"] = edgekiln.export(deep, "host", tmp_path / "deep", name="deep", options={"tree_layout": "table"})

    configs = {(p.path / "runtime/include/ek_config.h").read_text() for p in projects.values()}
    assert len(configs) == 1  # nothing model-specific in the firmware-wide config
    include = projects["narrow"].path / "runtime" / "include"
    for name, kernel in (("narrow", "ek_linear_s16.c"), ("deep", "ek_tree_predict_f32.c")):
        _compile(projects[name].path / "runtime" / "kernels" / kernel, tmp_path / f"{kernel}.o", include)
    linear, tree = _symbols(tmp_path / "ek_linear_s16.c.o"), _symbols(tmp_path / "ek_tree_predict_f32.c.o")
    assert linear["ek_linear_s16_acc32"] == "T" and linear["ek_linear_s16_acc64"] == "T"
    assert all(tree[f"ek_tree_regress_f32_{w}"] == "T" for w in ("i16_u8", "i16_u16", "i32_u8", "i32_u16"))
    wanted = {"narrow": "ek_linear_s16_acc32", "wide": "ek_linear_s16_acc64", "deep": "ek_tree_regress_f32_i16_u16"}
    for name, kernel in wanted.items():
        _compile(projects[name].path / "model.c", tmp_path / f"{name}.o", include)  # one include dir for all
        assert _symbols(tmp_path / f"{name}.o").get(kernel) == "U", name
