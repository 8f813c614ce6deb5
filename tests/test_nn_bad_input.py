"""Bad input for networks through the commands (issue 11, "Bad input"): each one clear line on
stderr, exit 2, before anything is built or written. What the frontends and the quantizer
refuse is tested at the API in test_nn_onnx.py, test_nn_tflite.py and test_nn_quantize.py
(empty / wrong-shape / NaN calibration sets through `kiln quantize` there too); audio of the
wrong rate or length in test_audio.py and test_kws_audio.py; a model over the target's memory
in test_nn_plan.py (check and export). Here: the same files through `kiln check`, `kiln export`
and `kiln quantize`, dynamic shapes and `--input-shape`, NaN into `kiln run`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import require_target
from nn_fixtures import kws_dir
from test_cli import kiln
from test_nn_quantize_export import small_kws_like


def _one_line_exit_2(proc, *words: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def _nothing_written(tmp_path: Path, before: set) -> None:
    assert set(tmp_path.iterdir()) == before, sorted(set(tmp_path.iterdir()) - before)


def _commands(model: Path, tmp_path: Path) -> list[tuple[str, ...]]:
    np.save(tmp_path / "calib.npy", np.zeros((4, 1, 12, 8), np.float32))
    cmds = [("check", str(model), "-t", "cortex-m4"),
            ("export", str(model), "-t", "cortex-m4", "-o", str(tmp_path / "out"))]
    if model.suffix == ".onnx":
        cmds.append(("quantize", str(model), "--calib", str(tmp_path / "calib.npy"), "-o", str(tmp_path / "q.onnx")))
    return cmds


def test_malformed_and_truncated_onnx_through_every_command(tmp_path):
    good = small_kws_like(tmp_path / "good.onnx").read_bytes()
    (tmp_path / "good.onnx").unlink()
    cases = {"trunc.onnx": good[: len(good) // 2], "junk.onnx": b"\x08\x07garbage\xff\xff\xff" * 10, "empty.onnx": b""}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in cases:
        for cmd in _commands(tmp_path / name, tmp_path):
            before = set(tmp_path.iterdir())
            _one_line_exit_2(kiln(*cmd, ok=False), name)
            _nothing_written(tmp_path, before)


def test_malformed_and_truncated_tflite_through_check_and_export(tmp_path):
    good = (kws_dir() / "kws_ref_int8.tflite").read_bytes()
    cases = {"trunc.tflite": good[: len(good) // 3], "noid.tflite": good[:4] + b"XXXX" + good[8:],
             "tiny.tflite": b"TFL3"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in cases:
        for cmd in _commands(tmp_path / name, tmp_path):
            before = set(tmp_path.iterdir())
            _one_line_exit_2(kiln(*cmd, ok=False), name if name != "noid.tflite" else "TFL3")
            _nothing_written(tmp_path, before)


def _graph(nodes, in_shape, opset=13, inits=(), out_shape=None):
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def test_unsupported_opset_and_ops_before_anything_is_written(tmp_path):
    relu = helper.make_node("Relu", ["x"], ["y"], name="r")
    onnx.save(_graph([relu], (1, 1, 12, 8), opset=9), tmp_path / "old.onnx")
    nodes = [helper.make_node("Erf", ["x"], ["a"], name="erf_a"), helper.make_node("Relu", ["a"], ["b"], name="r"),
             helper.make_node("HardSigmoid", ["b"], ["y"], name="hsig_1")]
    onnx.save(_graph(nodes, (1, 1, 12, 8)), tmp_path / "ops.onnx")
    for model, words in (("old.onnx", ("opset 9", "11-21")), ("ops.onnx", ("Erf (erf_a)", "HardSigmoid (hsig_1)"))):
        for cmd in _commands(tmp_path / model, tmp_path):
            before = set(tmp_path.iterdir())
            _one_line_exit_2(kiln(*cmd, ok=False), *words)
            _nothing_written(tmp_path, before)


def test_dynamic_shapes_name_the_input_and_input_shape_fixes_them(tmp_path):
    rng = np.random.default_rng(1)
    model = small_kws_like(tmp_path / "dyn.onnx", in_shape=("N", 1, "T", 8))
    for cmd in _commands(model, tmp_path):
        before = set(tmp_path.iterdir())
        _one_line_exit_2(kiln(*cmd, ok=False), "input 'x'", "dimension 2 is dynamic (T)", "--input-shape x:1,1,T,8")
        _nothing_written(tmp_path, before)
    # bad --input-shape values: one line each
    for spec, words in (("x:1,1,12", ("3 dimensions given", "has 4")), ("z:1,1,12,8", ("no input 'z'",)),
                        ("x:1,1,zero,8", ("positive integers",))):
        _one_line_exit_2(kiln("check", str(model), "-t", "host", "--input-shape", spec, ok=False), *words)
    _one_line_exit_2(kiln("check", str(kws_dir() / "kws_ref_int8.tflite"), "-t", "host", "--input-shape", "1,2", ok=False),
                     "--input-shape", ".onnx")
    # with the shape: check plans it, quantize writes a QDQ file with the static shape, export needs no option
    proc = kiln("check", str(model), "-t", "cortex-m4", "--input-shape", "x:1,1,12,8")
    assert "x float32[1, 1, 12, 8]" in proc.stdout
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.standard_normal((8, 1, 12, 8)).astype(np.float32))
    q = tmp_path / "dyn.q.onnx"
    kiln("quantize", str(model), "--calib", str(calib), "--input-shape", "1,1,12,8", "-o", str(q))
    dims = [d.dim_value for d in onnx.load(q).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 12, 8]
    kiln("export", str(q), "-t", "host", "-o", str(tmp_path / "qout"))
    kiln("export", str(model), "-t", "host", "-o", str(tmp_path / "fout"), "--input-shape", "x:1,1,12,8")
    assert (tmp_path / "fout" / "project.json").is_file()


def test_nan_in_float_inputs_to_kiln_run(tmp_path):
    require_target("host")
    model = small_kws_like(tmp_path / "m.onnx")
    kiln("export", str(model), "-t", "host", "-o", str(tmp_path / "out"))
    x = np.zeros((3, 1, 12, 8), np.float32)
    x[2, 0, 4, 5] = np.nan
    np.save(tmp_path / "nan.npy", x)
    proc = kiln("run", str(tmp_path / "out"), "--data", str(tmp_path / "nan.npy"), "--json", str(tmp_path / "r.json"),
                ok=False)
    _one_line_exit_2(proc, "NaN", "sample 2")
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "out" / "fw.elf").exists()  # refused before building


@pytest.mark.parametrize("bad", ["empty", "shape"])
def test_bad_calibration_for_a_dynamic_model_after_input_shape(tmp_path, bad):
    """The calibration set is checked against the fixed shape, before the QDQ file is written."""
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    onnx.save(_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])], ("N", 1, "T", 8),
                     inits=[w]), tmp_path / "dyn.onnx")
    np.save(tmp_path / "c.npy", np.zeros((0, 1, 12, 8) if bad == "empty" else (4, 1, 10, 8), np.float32))
    proc = kiln("quantize", str(tmp_path / "dyn.onnx"), "--calib", str(tmp_path / "c.npy"), "--input-shape", "x:1,1,12,8",
                "-o", str(tmp_path / "q.onnx"), ok=False)
    _one_line_exit_2(proc, "empty" if bad == "empty" else "shape (4, 1, 10, 8)")
    assert not (tmp_path / "q.onnx").exists()
