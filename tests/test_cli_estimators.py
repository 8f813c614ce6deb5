"""`kiln estimators`: the table and JSON come from the registries, so every registered
converter appears, with what converting and planning a default instance really gives."""
from __future__ import annotations

import json

from click.testing import CliRunner

from edgekiln.cli import main
from edgekiln.frontends.sklearn import supported_estimators


def test_estimators_lists_the_registry(tmp_path):
    out = tmp_path / "est.json"
    r = CliRunner().invoke(main, ["estimators", "--json", str(out)])
    assert r.exit_code == 0, r.output
    rows = {row["estimator"]: row for row in json.loads(out.read_text())}
    assert sorted(rows) == supported_estimators()
    for name in supported_estimators():
        assert name in r.output
    assert all(row["probe_error"] is None for row in rows.values()), \
        {k: v["probe_error"] for k, v in rows.items() if v["probe_error"]}
    iso = rows["IsolationForest"]
    assert iso["ops"] == ["iforest"] and iso["dtypes"] == ["float32"] and "fixed" in iso["dtype_errors"]
    assert iso["outputs"] == ["predict", "decision_function", "score_samples"]
    assert {t["target"] for t in iso["targets"]["float32"]} >= {"host", "cortex-m4"}
    assert {t["float"] for t in iso["targets"]["float32"]} == {"hardware", "soft"}
    assert rows["MLPClassifier"]["ops"] == ["dense", "activation", "linear"]
    assert rows["RandomForestClassifier"]["options"] == ["tree_layout"] and "fixed" in rows["RandomForestClassifier"]["dtypes"]
    assert rows["StandardScaler"]["task"] == "transform" and rows["StandardScaler"]["ops"] == ["affine"]


def test_estimators_bad_json_path(tmp_path):
    r = CliRunner().invoke(main, ["estimators", "--json", str(tmp_path)])
    assert r.exit_code == 2
