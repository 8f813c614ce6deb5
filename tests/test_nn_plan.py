"""The network plan: the arena planner (liveness, greedy largest-first offsets, reshape
aliases, scratch), scratch sizes asked of the kernel files themselves, a model over the
target's memory (bytes needed vs available), and small ONNX graphs of the other ops on the
host, float kernels vs onnxruntime (and the int8 max pool vs LiteRT)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgekiln
from conftest import require_target
from edgekiln.codegen.arena import check_disjoint, plan_arena
from edgekiln.codegen.project import environment
from edgekiln.codegen.scratch_probe import probe_scratch
from test_cli import kiln

RUNTIME = Path(edgekiln.__file__).resolve().parents[1] / "runtime_c"
if not (RUNTIME / "include").is_dir():
    import edgekiln.runtime_c as _rt

    RUNTIME = Path(_rt.__file__).parent


def test_greedy_arena_reuses_dead_tensors_and_keeps_live_ones_apart():
    # a -> n0 -> b -> n1 -> c -> n2 (reshape) -> d -> n3 -> e; a skip: a also read by n3
    order = [(["a"], ["b"], False), (["b"], ["c"], False), (["c"], ["d"], True), (["d", "a"], ["e"], False)]
    sizes = {"a": 100, "b": 1000, "c": 1000, "d": 1000, "e": 40}
    plan = plan_arena(order, sizes, ["a"], ["e"], {1: 64})
    check_disjoint(plan)
    assert plan.offset_of("c") == plan.offset_of("d")  # the reshape is an alias
    b = next(x for x in plan.buffers if x.name == "b")
    c = next(x for x in plan.buffers if x.name == "c")
    assert (b.first, b.last) == (0, 1) and (c.first, c.last) == (1, 3) and c.aliases == ["d"]
    # largest first: b at 0, c (live with b at n1) at 1008, a (live throughout) at 2016, n1's
    # scratch (live with a, b, c) at 2128 (16-byte aligned), e at 0 where b died
    assert [plan.offset_of(t) for t in "bca"] == [0, 1008, 2016] and plan.scratch_of(1).offset == 2128
    assert plan.size == 2192
    e = next(x for x in plan.buffers if x.name == "e")
    assert e.offset == b.offset  # e reuses dead b's bytes (largest-first placed b at 0)
    assert plan.scratch_of(1).size == 64 and plan.scratch_of(0) is None


def test_scratch_comes_from_the_kernel_file(tmp_path):
    """A kernel file whose *_scratch_bytes() asks for more: the probe reports its answer."""
    src = tmp_path / "ek_conv_s8.c"
    src.write_text((Path(__file__).parent / "c" / "nn_scratch_override.c").read_text())
    req = [{"index": 4, "fn": "ek_conv_s8_scratch_bytes", "args": "dims3", "a": [1, 25, 5, 64], "b": [64, 3, 3, 64],
            "c": [1, 25, 5, 64]}]
    got = probe_scratch(req, [src], [RUNTIME / "include"], environment(), 1)
    assert got == {4: 2 * 3 * 3 * 64}


def _onnx(tmp_path, name, nodes, x_shape, y_shape, inits):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                          initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    p = tmp_path / f"{name}.onnx"
    p.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    return p


def test_model_over_memory_fails_with_bytes_needed_and_available(tmp_path):
    rng = np.random.default_rng(0)
    p = _onnx(tmp_path, "big", [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
              (1, 8, 128, 128), (1, 16, 128, 128), {"w": rng.standard_normal((16, 8, 3, 3))})
    proc = kiln("check", str(p), "-t", "cortex-m4", ok=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "1572864 bytes of RAM for its arena" in proc.stderr and "RAM (180224 B free)" in proc.stderr
    out = tmp_path / "never"
    proc = kiln("export", str(p), "-t", "cortex-m4", "-o", str(out), ok=False)
    assert proc.returncode == 2 and not out.exists()  # nothing half-written


def _ort(p, x):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
    return np.stack([s.run(None, {"x": xi[None]})[0][0] for xi in x])


GRAPHS = {  # name: (nodes, x shape (batch 1), y shape, initializers)
    "maxpool_pad": ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                      pads=[1, 1, 1, 1])], (1, 3, 9, 9), (1, 3, 5, 5), {}),
    "avgpool_pad": ([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                    (1, 4, 6, 6), (1, 4, 6, 6), {}),
    "conv1d_relu": ([helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[2], pads=[1, 2]),
                     helper.make_node("Relu", ["c"], ["y"])], (1, 3, 20), (1, 5, 10),
                    {"w": np.linspace(-1, 1, 5 * 3 * 4).reshape(5, 3, 4), "b": np.arange(5) * 0.1}),
    "depthwise_mult2": ([helper.make_node("Conv", ["x", "w"], ["y"], group=3, pads=[1, 1, 1, 1])],
                        (1, 3, 7, 7), (1, 6, 7, 7), {"w": np.linspace(-1, 1, 6 * 9).reshape(6, 1, 3, 3)}),
    "gemm_softmax": ([helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1),
                      helper.make_node("Softmax", ["g"], ["y"], axis=1)], (1, 10), (1, 4),
                     {"w": np.linspace(-2, 2, 40).reshape(4, 10), "b": np.array([0.1, -0.2, 0.3, 0.0])}),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_small_onnx_graphs_on_host_match_onnxruntime(tmp_path, name):
    require_target("host")
    nodes, xs, ys, inits = GRAPHS[name]
    p = _onnx(tmp_path, name, nodes, xs, ys, inits)
    x = np.random.default_rng(1).standard_normal((3, *xs[1:])).astype(np.float32)
    ref = _ort(p, x)
    with edgekiln.convert(str(p), target="host", name="g") as m:
        got = m.predict(x)  # ONNX's own layout in and out: the host permutes at the boundary
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)


def test_check_json_is_the_export_plan(tmp_path):
    p = _onnx(tmp_path, "c1", *GRAPHS["conv1d_relu"])
    plan_json = tmp_path / "plan.json"
    kiln("check", str(p), "-t", "gap8", "--json", str(plan_json))
    kiln("export", str(p), "-t", "gap8", "-o", str(tmp_path / "out"))
    checked = json.loads(plan_json.read_text())
    checked.pop("summary")
    assert checked == json.loads((tmp_path / "out" / "project.json").read_text())["plan"]
