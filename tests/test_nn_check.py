"""`kiln check` on networks: ops, parameters and the plan export builds (arena, flash, peak
RAM; tests/test_nn_plan.py compares it with export's); unsupported ops all named in one error
(exit 2); the classic check is untouched (tests/test_cli.py)."""
from __future__ import annotations

import json

from onnx import TensorProto, helper

from nn_fixtures import kws_dir
from test_cli import kiln


def test_check_kws_tflite_prints_ops_parameters_and_arena(tmp_path):
    out = tmp_path / "s.json"
    proc = kiln("check", str(kws_dir() / "kws_ref_int8.tflite"), "--target", "cortex-m4", "--json", str(out))
    assert "supported" in proc.stdout and "conv x9" in proc.stdout and "arena" in proc.stdout
    p = json.loads(out.read_text())
    s = p["summary"]
    assert s["parameters"] == 22604 and s["largest_activations"][0]["bytes"] == 8000
    tensors = [b for b in p["arena"]["buffers"] if b["kind"] == "tensor"]
    assert max(b["offset"] + b["size"] for b in tensors) == 16000  # two live 25x5x64 int8 maps
    scratch = [b for b in p["arena"]["buffers"] if b["kind"] == "scratch"]  # an override's, if it needs any
    assert p["arena_bytes"] >= 16000 and sum(b["size"] for b in scratch) == p["scratch_in_arena_bytes"]
    assert p["peak_ram_bytes"] == p["arena_bytes"] + 16384 and p["macs"] == 2656768  # cortex-m4 reserves 16 KiB


def test_check_unsupported_onnx_names_every_node(tmp_path):
    nodes = [helper.make_node("Erf", ["x"], ["a"], name="erf_a"), helper.make_node("Relu", ["a"], ["b"], name="r"),
             helper.make_node("TopK", ["b", "k"], ["y", "i"], name="topk_1")]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 4))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 2))],
                          initializer=[helper.make_tensor("k", TensorProto.INT64, [1], [2])])
    p = tmp_path / "bad.onnx"
    p.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    proc = kiln("check", str(p), "--target", "host", ok=False)
    assert proc.returncode == 2 and "Erf (erf_a)" in proc.stderr and "TopK (topk_1)" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
