"""Add, sub, mul (with broadcasting), concat and pad through the whole network pipeline
(issue 11), on host and the QEMU targets:

    float ONNX  -> kiln export/build/run --reference m.onnx   (float32 kernels vs onnxruntime)
    kiln quantize -> QDQ ONNX -> export/build/run               (raw int8 == the golden model)
    the quantized IR written as an int8 .tflite -> export/run --reference it.tflite
                                                               (raw int8 == LiteRT BUILTIN_REF)

The model is a small residual block: conv -> relu -> conv -> relu, added back to its input,
scaled per channel, padded, concatenated with a 1x1 conv of itself, minus a per-channel
constant, pooled, a gemm."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import target_params, targets_where
from edgekiln import nn_run
from edgekiln.api import prepare_graph
from edgekiln.targets import get_target
from test_cli import kiln

RUNNABLE = targets_where(simulator=("qemu", "native"))
FLOAT = targets_where(simulator=("qemu", "native"), fpu=True)
OPS = {"add", "mul", "pad", "concat", "sub"}


def residual_block(path: Path, seed: int = 5) -> Path:
    rng = np.random.default_rng(seed)

    def w(name, shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Add", ["r1", "r2"], ["res"], name="residual"),
             helper.make_node("Mul", ["res", "gamma"], ["sc"], name="scale"),
             helper.make_node("Pad", ["sc", "pads"], ["p"], name="pad"),
             helper.make_node("Conv", ["p", "w3", "b3"], ["c3"], name="conv3"),
             helper.make_node("Concat", ["p", "c3"], ["cat"], name="cat", axis=1),
             helper.make_node("Sub", ["cat", "beta"], ["d"], name="shift"),
             helper.make_node("GlobalAveragePool", ["d"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = [w("w1", (8, 2, 3, 3)), w("b1", (8,), 0.1), w("w2", (8, 8, 3, 3), 0.2), w("b2", (8,), 0.1),
             numpy_helper.from_array((1 + 0.5 * rng.standard_normal((1, 8, 1, 1))).astype(np.float32), "gamma"),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
             w("w3", (4, 8, 1, 1)), w("b3", (4,), 0.1), w("beta", (1, 12, 1, 1), 0.2),
             w("wf", (5, 12)), w("bf", (5,), 0.1)]
    g = helper.make_graph(nodes, "residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("elementwise")
    rng = np.random.default_rng(11)
    model = residual_block(d / "m.onnx")
    np.save(d / "calib.npy", rng.standard_normal((32, 1, 2, 6, 5)).astype(np.float32))
    np.save(d / "x.npy", rng.standard_normal((3, 1, 2, 6, 5)).astype(np.float32))
    kiln("quantize", str(model), "--calib", str(d / "calib.npy"), "-o", str(d / "m.q.onnx"))
    return d


def _export_run(d: Path, model: Path, target: str, reference: Path, tag: str) -> dict:
    out = d / f"out-{target}-{tag}"
    kiln("export", str(model), "--target", target, "-o", str(out))
    r = d / f"r-{target}-{tag}.json"
    kiln("run", str(out), "--data", str(d / "x.npy"), "--json", str(r), "--reference", str(reference))
    rep = json.loads(r.read_text())
    assert OPS <= {layer["op"] for layer in rep["layers"]}, rep["layers"]
    return rep


@pytest.mark.parametrize("target", target_params(FLOAT))
def test_float_block_matches_onnxruntime(files, target):
    rep = _export_run(files, files / "m.onnx", target, files / "m.onnx", "f32")
    assert rep["reference"]["kind"] == "onnx" and rep["reference"]["n_samples"] == 3
    assert rep["reference"]["max_abs_diff"] < 1e-4, rep["reference"]


@pytest.mark.parametrize("target", target_params(RUNNABLE))
def test_quantized_block_is_the_golden_model_bit_exact(files, target):
    q = files / "m.q.onnx"
    rep = _export_run(files, q, target, files / "m.onnx", "q")
    graph, _ = prepare_graph(q, "model", None)
    X = nn_run.check_inputs(graph, np.load(files / "x.npy"))
    gold = np.stack([g[graph.outputs[0].name].reshape(-1) for g in nn_run.golden(graph, nn_run.stored(graph, X))])
    assert rep["output_dtype"] == "int8" and np.array_equal(np.asarray(rep["outputs_raw"]).reshape(gold.shape), gold)
    assert rep["reference"]["max_abs_diff"] < 0.25, rep["reference"]  # int8 vs float: measured below 0.1


@pytest.mark.parametrize("target", target_params(["host", "cortex-m4", "gap8"]))
def test_int8_tflite_block_is_litert_bit_exact(files, target):
    from tflite_builder import ir_to_tflite

    graph, _ = prepare_graph(files / "m.q.onnx", "model", None)
    data, _ = ir_to_tflite(graph)
    tfl = files / "m.tflite"
    tfl.write_bytes(data)
    rep = _export_run(files, tfl, target, tfl, "tflite")
    assert rep["reference"]["kind"] == "tflite" and rep["reference"]["reference_bit_exact"] == 3, rep["reference"]
