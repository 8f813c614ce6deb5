"""benchmarks/nn_kws.py's DS-CNN figure rows (issue 11): the table's bolding and target
parsing, and (slow) a small real run: W8A8/W4A8/official-int8 rows with every field the issue
names, bit-exact on the host."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.nn_kws_nets import markdown, parse_targets  # noqa: E402

FIELDS = ("model", "target", "config", "agreement", "logit_sqnr_db", "bit_exact", "macs_per_instruction",
          "peak_ram_bytes", "flash_bytes", "instructions_per_inference")


def test_parse_targets():
    assert parse_targets("cortex-m4, gap8:8,") == [("cortex-m4", 1), ("gap8", 8)]
    assert parse_targets("") == []


def test_table_bolds_the_best_of_each_target_and_not_float_self_agreement():
    base = {"logit_sqnr_db": None, "bit_exact": True, "macs_per_instruction": None, "instructions_per_inference": None,
            "constants_flash_bytes": None, "flash_bytes": None, "method": "rtn"}
    rows = [{**base, "target": "t", "config": "W8A8", "agreement": 0.98, "peak_ram_bytes": 200},
            {**base, "target": "t", "config": "W4A8", "agreement": 0.85, "peak_ram_bytes": 100},
            {**base, "target": "t", "config": "float", "agreement": 1.0, "peak_ram_bytes": 900, "bit_exact": None},
            {**base, "target": "u", "config": "W8A8", "agreement": 0.5, "peak_ram_bytes": 1000}]
    lines = markdown(rows).splitlines()
    assert "| **0.980** |" in lines[2] and "| **100** |" in lines[3] and "| 1.000 |" in lines[4]
    assert "**" not in lines[5]  # a group of one row has no best


@pytest.mark.slow
def test_small_real_run_writes_every_issue_field(tmp_path):
    from nn_fixtures import kws_dir
    from benchmarks import nn_kws

    kws_dir()
    out = tmp_path / "r.json"
    assert nn_kws.main(["--limit", "24", "--net-targets", "host", "--net-clips", "2", "--calib-clips", "16",
                        "--mfcc-targets", "", "--device-targets", "", "--json", str(out)]) == 0
    rows = [r for r in json.loads(out.read_text())["rows"] if "method" in r]
    assert {r["config"] for r in rows} == {"W8A8", "W4A8", "official-int8"}
    for r in rows:
        assert all(k in r for k in FIELDS) and r["clips"] == 24 and r["device_clips"] == 2
        assert r["bit_exact"] is True and r["constants_flash_bytes"] < r["flash_bytes"]
    w8, w4 = (next(r for r in rows if r["config"] == c) for c in ("W8A8", "W4A8"))
    assert w4["constants_flash_bytes"] < w8["constants_flash_bytes"] - 9000
