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
    "grouped_conv": ([helper.make_node("Conv", ["x", "w"], ["y"], group=2, strides=[2, 1], pads=[0, 1, 0, 1])],
                     (1, 4, 6, 5), (1, 6, 3, 5), {"w": np.linspace(-1, 1, 6 * 2 * 1 * 3).reshape(6, 2, 1, 3)}),
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


def test_int4_weights_run_bit_exact_with_the_golden_model(tmp_path):
    """The KWS graph with its weights clipped to [-8, 7] and weight_bits = 4 (the int4 golden
    model's convention): export packs them two per byte for the *_s4 kernels; the device
    matches the int8 golden model on every element, and the constants shrink."""
    require_target("host")
    from edgekiln import nn_run
    from edgekiln.api import prepare_graph
    from nn_fixtures import kws_dir, kws_samples

    g, _ = prepare_graph(kws_dir() / "kws_ref_int8.tflite", "kw4", None)
    for node in g.nodes:
        if node.op in ("conv", "fully_connected"):
            node.attrs["weight_bits"] = 4
            c = g.constants[node.inputs[1]]
            c.data = np.clip(c.data, -8, 7).astype(np.int8)
    int8_plan = edgekiln.plan(str(kws_dir() / "kws_ref_int8.tflite"), "host", name="kw4")
    x = kws_samples()["x"][:4]
    with edgekiln.convert(g, target="host", name="kw4") as m:
        raw = m.predict_raw(x)
        plan = nn_run.project_plan(m.project)
    assert {layer["kernel"] for layer in plan["layers"] if layer["op"] == "conv"} == {"ek_conv_s4", "ek_dwconv_s4"}
    gold = nn_run.golden(g, nn_run.stored(g, nn_run.check_inputs(g, x)))
    for i in range(4):
        np.testing.assert_array_equal(raw[i], gold[i][g.outputs[0].name].reshape(-1))
    assert plan["constants_flash_bytes"] < int8_plan["constants_flash_bytes"] - 9000  # ~22.6k weights halved


def test_int8_max_pool_model_on_host_is_bit_exact_with_litert(tmp_path):
    """The KWS model with its average pool swapped for a max pool (tests/test_nn_tflite.py's
    file): exported, run, and compared with LiteRT BUILTIN_REF through `kiln run --reference`."""
    require_target("host")
    from ai_edge_litert import schema_py_generated as schema

    from nn_fixtures import kws_samples
    from test_nn_tflite import _packed

    def swap(m):
        for code in m.operatorCodes:
            if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.AVERAGE_POOL_2D:
                code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.MAX_POOL_2D

    p = tmp_path / "maxpool.tflite"
    p.write_bytes(_packed(swap))
    np.save(tmp_path / "x.npy", kws_samples()["x"][:8])
    kiln("export", str(p), "-t", "host", "-o", str(tmp_path / "out"))
    kiln("run", str(tmp_path / "out"), "--data", str(tmp_path / "x.npy"), "--reference", str(p), "--json",
         str(tmp_path / "r.json"))
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["reference"]["reference_bit_exact"] == 8 and r["layers"][9]["kernel"] == "ek_maxpool_s8"


@pytest.mark.qemu
def test_scratch_of_a_target_only_kernel_file_is_probed_on_the_target(tmp_path):
    """The host cannot build the file (arm_acle.h): the probe raises ScratchProbeNeedsTarget,
    and the firmware edgekiln renders for it answers on cortex-m4 (QEMU)."""
    require_target("cortex-m4")
    from edgekiln.codegen.scratch_probe import ScratchProbeNeedsTarget, render_target_probe, target_answers
    from edgekiln.targets import get_target
    from edgekiln.targets.build import build_project
    from edgekiln.targets.simulators.runner import run_network

    src = tmp_path / "ek_conv_s8.c"
    src.write_text((Path(__file__).parent / "c" / "nn_scratch_target_only.c").read_text())
    req = [{"index": 2, "fn": "ek_conv_s8_scratch_bytes", "args": "dims3", "a": [1, 25, 5, 64], "b": [64, 1, 1, 64],
            "c": [1, 25, 5, 64]}, {"index": 7, "fn": "ek_conv_s8_scratch_bytes", "args": "dims3",
                                   "a": [1, 4, 4, 100000], "b": [8, 3, 3, 100000], "c": [1, 4, 4, 8]}]
    with pytest.raises(ScratchProbeNeedsTarget) as info:
        probe_scratch(req, [src], [RUNTIME / "include"], environment(), 1)
    t = get_target("cortex-m4")
    render_target_probe(info.value, t, tmp_path / "probe")
    result = run_network(build_project(tmp_path / "probe").elf, t, np.zeros((1, 4), np.uint8), count_instructions=False)
    answers = target_answers(info.value, result.tensors[0].tobytes())
    assert answers == {"2": 64 * 3, "7": 65535}  # USAT saturates the second: the target's own arithmetic
    known = {info.value.key: answers}
    assert probe_scratch(req, [src], [RUNTIME / "include"], environment(), 1, known) == {2: 192, 7: 65535}


def test_nodes_without_a_kernel_are_all_named_in_one_error(tmp_path):
    p = _onnx(tmp_path, "nokernel", [helper.make_node("Sigmoid", ["x"], ["a"], name="sig"),
                                     helper.make_node("Tanh", ["a"], ["y"], name="th")], (1, 8), (1, 8), {})
    proc = kiln("export", str(p), "-t", "host", "-o", str(tmp_path / "out"), ok=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "sigmoid" in proc.stderr and "tanh" in proc.stderr and not (tmp_path / "out").exists()


@pytest.mark.qemu
def test_profile_reports_every_layer_with_its_kernel_file(tmp_path):
    require_target("gap8")
    p = _onnx(tmp_path, "c1", *GRAPHS["conv1d_relu"])
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((2, 3, 20)).astype(np.float32))
    kiln("export", str(p), "-t", "gap8", "-o", str(tmp_path / "out"))
    proc = kiln("profile", str(tmp_path / "out"), "--data", str(tmp_path / "x.npy"), "--json", str(tmp_path / "p.json"))
    r = json.loads((tmp_path / "p.json").read_text())
    (conv,) = r["layers"]  # the boundary transposes run on the host, the Relu is fused
    assert conv["variant"].endswith("/ek_conv_f32.c") and conv["variant"] in proc.stdout
    assert conv["macs"] == 5 * 10 * 4 * 3 and conv["instructions"] > 0
    assert conv["macs_per_instruction"] == pytest.approx(conv["macs"] / conv["instructions"])


def test_debug_on_a_float_graph_matches_the_float_golden_model(tmp_path):
    require_target("host")
    p = _onnx(tmp_path, "c1", *GRAPHS["conv1d_relu"])
    np.save(tmp_path / "x.npy", np.random.default_rng(2).standard_normal((2, 3, 20)).astype(np.float32))
    kiln("export", str(p), "-t", "host", "-o", str(tmp_path / "out"))
    proc = kiln("debug", str(tmp_path / "out"), "--data", str(tmp_path / "x.npy"), "--sample", "1", "--json",
                str(tmp_path / "d.json"))
    (row,) = json.loads((tmp_path / "d.json").read_text())["layers"]
    assert "every layer matches" in proc.stdout and row["dtype"] == "float32" and row["output"] == "y"
    assert row["shape"] == [1, 10, 5] and row["max_abs_diff"] < 1e-5  # the fused conv writes the Relu's output


def test_network_model_defines_only_prefixed_globals(tmp_path):
    """model.h/model.c of a network name only `<name>_`/`<NAME>_` things (two link into one firmware)."""
    import re
    import subprocess

    p = _onnx(tmp_path, "c1", *GRAPHS["conv1d_relu"])
    info = edgekiln.export(str(p), "host", tmp_path / "out", name="net")
    header = (info.path / "model.h").read_text()
    macros = re.findall(r"^#define (\w+)", header, re.M)
    assert macros and all(m.startswith("NET_") for m in macros), macros
    subprocess.run(["gcc", "-c", "-I", str(info.path / "runtime/include"), str(info.path / "model.c"), "-o",
                    str(tmp_path / "m.o")], check=True)
    nm = subprocess.run(["nm", "--defined-only", "-g", str(tmp_path / "m.o")], capture_output=True, text=True,
                        check=True).stdout
    defined = [line.split()[-1] for line in nm.splitlines()]
    assert sorted(defined) == ["net_input", "net_invoke", "net_output", "net_set_trace"], defined
