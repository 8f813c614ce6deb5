"""`kiln run --reference` with XGBoost (.json/.ubj) and LightGBM (.txt) model files: the
library itself is the oracle, and the fingerprint says whether the file is the exported model."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris

from test_cli import kiln

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")


def _files(tmp_path):
    X, y = load_iris(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    xgb.XGBClassifier(n_estimators=4, max_depth=3).fit(X, y).get_booster().save_model(tmp_path / "multi.json")
    xgb.XGBClassifier(n_estimators=4, max_depth=2).fit(X, y == 1).get_booster().save_model(tmp_path / "bin.ubj")
    xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(Xd, yd).get_booster().save_model(tmp_path / "reg.json")
    lgb.LGBMClassifier(n_estimators=4, num_leaves=6, verbose=-1).fit(X, y).booster_.save_model(tmp_path / "multi.txt")
    lgb.LGBMRegressor(n_estimators=5, num_leaves=6, verbose=-1).fit(Xd, yd).booster_.save_model(tmp_path / "reg.txt")
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    np.save(tmp_path / "xd.npy", Xd.astype(np.float32))


@pytest.mark.parametrize("name,data", [("multi.json", "x"), ("bin.ubj", "x"), ("reg.json", "xd"),
                                       ("multi.txt", "x"), ("reg.txt", "xd")])
def test_reference_model_file(name, data, tmp_path):
    _files(tmp_path)
    out = tmp_path / "p"
    kiln("export", str(tmp_path / name), "-t", "host", "-o", str(out))
    kiln("run", str(out), "-d", str(tmp_path / f"{data}.npy"), "--reference", str(tmp_path / name),
         "--json", str(tmp_path / "r.json"))
    ref = json.loads((tmp_path / "r.json").read_text())["reference_agreement"]
    assert ref["is_exported_model"] is True
    if ref["kind"] == "labels":
        assert ref["agreement"] == 1.0 and ref["n_mismatches"] == 0
    else:
        assert ref["max_rel_error"] <= 1e-5


def test_reference_file_of_another_model(tmp_path):
    _files(tmp_path)
    kiln("export", str(tmp_path / "multi.json"), "-t", "host", "-o", str(tmp_path / "p"))
    out = kiln("run", str(tmp_path / "p"), "-d", str(tmp_path / "x.npy"), "--reference", str(tmp_path / "multi.txt"),
               "--json", str(tmp_path / "r.json")).stdout
    assert json.loads((tmp_path / "r.json").read_text())["reference_agreement"]["is_exported_model"] is False
    assert "NOT the exported model" in out
