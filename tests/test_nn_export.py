"""Networks through the whole pipeline (issue 11): the official int8 KWS DS-CNN TFLite and
the float KWS ONNX exported, built and run on every registered target through the CLI,
device outputs bit-exact with the int8 golden model and with LiteRT's reference kernels
(BUILTIN_REF), float within 1e-4 of onnxruntime on FPU targets; the Python API with N-d
inputs; two networks in one firmware; the arena in the ELF as planned, measured stack under
the target's reserve; kiln debug's per-layer comparison (and that it finds a planted
difference). Default: 3 samples per QEMU target, all 20 on host; all 20 everywhere under
`-m slow`."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile

import edgekiln
from conftest import require_target, target_params, targets_where
from edgekiln import nn_run
from edgekiln.api import prepare_graph
from edgekiln.targets import get_target
from nn_fixtures import kws_dir, kws_samples
from test_cli import kiln

RUNNABLE = targets_where(simulator=("qemu", "native"))
FPU = targets_where(simulator=("qemu", "native"), fpu=True)


def _n(target: str, slow: bool = False) -> int:
    return 20 if slow or get_target(target).simulator.get("name") == "native" else 3


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("kws")
    x = kws_samples()["x"]
    np.save(d / "x20.npy", x)
    np.save(d / "x3.npy", x[:3])
    return d


def _export_run(tmp_path, data, model: str, target: str, n: int, reference: str) -> dict:
    out = tmp_path / f"{target}-{model}"
    kiln("export", str(kws_dir() / model), "-t", target, "-o", str(out), "--name", "kws")
    report = tmp_path / "r.json"
    kiln("run", str(out), "--data", str(data / ("x20.npy" if n == 20 else "x3.npy")), "--json", str(report),
         "--reference", str(kws_dir() / reference))
    return json.loads(report.read_text()) | {"_project": str(out)}


def _check_int8(r: dict, n: int, target: str) -> None:
    assert r["n_samples"] == n and r["reference"]["kind"] == "tflite"
    assert r["reference"]["reference_bit_exact"] == n, r["reference"]  # every element, LiteRT BUILTIN_REF
    graph, _ = prepare_graph(kws_dir() / "kws_ref_int8.tflite", "kws", None)
    X = nn_run.check_inputs(graph, kws_samples()["x"][:n])
    gold = nn_run.golden(graph, nn_run.stored(graph, X))
    raw = np.asarray(r["outputs_raw"], np.int8)
    assert all(np.array_equal(g["Identity"].reshape(-1), raw[i]) for i, g in enumerate(gold))
    np.testing.assert_allclose(np.asarray(r["outputs"]), (raw.astype(np.float32) + 128) / 256, atol=0)
    assert r["predictions"][:2] == [9, 9]  # "yes", as the README's table says
    if get_target(target).simulator.get("name") == "qemu":
        layers = r["layers"]
        assert len(layers) == 13 and all(layer["instructions"] and layer["instructions"] > 0 for layer in layers)
        total = r["instructions"]["per_inference_median"]  # medians per layer and of the totals
        assert abs(sum(layer["instructions"] for layer in layers) - total) < 1e-3 * total
        assert layers[0]["variant"].endswith("/ek_conv_s8.c") and layers[1]["variant"].endswith("/ek_dwconv_s8.c")
        assert r["macs"] == 2656768 and 0 < r["macs_per_instruction"] < 2


@pytest.mark.parametrize("target", target_params(RUNNABLE))
def test_kws_int8_bit_exact_on_every_target(tmp_path, data, target):
    n = _n(target)
    _check_int8(_export_run(tmp_path, data, "kws_ref_int8.tflite", target, n, "kws_ref_int8.tflite"), n, target)


@pytest.mark.slow
@pytest.mark.parametrize("target", target_params(RUNNABLE))
def test_kws_int8_bit_exact_all_20_samples(tmp_path, data, target):
    _check_int8(_export_run(tmp_path, data, "kws_ref_int8.tflite", target, 20, "kws_ref_int8.tflite"), 20, target)


@pytest.mark.parametrize("target", target_params(FPU))
def test_kws_float_within_tolerance_of_onnxruntime(tmp_path, data, target):
    n = _n(target)
    r = _export_run(tmp_path, data, "kws_dscnn_f32.onnx", target, n, "kws_dscnn_f32.onnx")
    assert r["reference"]["kind"] == "onnx" and r["reference"]["max_abs_diff"] < 1e-4, r["reference"]
    assert r["reference"]["top1_agreement"] == 1.0
    np.testing.assert_allclose(np.asarray(r["outputs"]), kws_samples()["probs"][:n], atol=1e-4)
    plan = json.loads((Path(r["_project"]) / "project.json").read_text())["plan"]
    assert [layer["fused"] for layer in plan["layers"] if layer["op"] == "conv"][0] == ["relu0"]  # Relu fused


def test_python_api_nd_inputs(tmp_path):
    require_target("host")
    x = kws_samples()["x"][:4]
    with edgekiln.convert(str(kws_dir() / "kws_ref_int8.tflite"), target="host", name="kws") as m:
        probs = m.predict(x)
        assert probs.shape == (4, 12) and m.predict_raw(x).dtype == np.int8
        assert list(probs.argmax(1)) == [9, 9, 1, 3]  # yes yes go no (the README's int8 column)
        with_batch = m.predict(x[:, None])  # the model's own [1, 49, 10, 1] per sample
        np.testing.assert_array_equal(with_batch, probs)
        with pytest.raises(edgekiln.errors.InputError, match=r"\(n_samples, 49, 10, 1\)"):
            m.predict(x.reshape(4, -1))
        bad = x.copy()
        bad[1, 0, 0, 0] = np.nan
        with pytest.raises(edgekiln.errors.InputError, match="NaN"):
            m.predict(bad)


def _elf_symbol(elf: Path, name: str) -> tuple[int, int]:
    with open(elf, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return sym["st_value"], sym["st_size"]


@pytest.mark.parametrize("model,target,region", [
    pytest.param("kws_ref_int8.tflite", "gap8", "L1", marks=pytest.mark.qemu, id="int8-gap8-L1"),
    pytest.param("kws_dscnn_f32.onnx", "pulp-open", "L2", marks=pytest.mark.qemu, id="f32-pulp-open-L2"),
    pytest.param("kws_ref_int8.tflite", "cortex-m4", "RAM", marks=pytest.mark.qemu, id="int8-cortex-m4"),
])
def test_firmware_arena_and_stack_agree_with_the_plan(tmp_path, data, model, target, region):
    """check's plan == export's plan; the ELF's arena symbol has the planned size and lies in
    the planned region; the stack the harness measures fits the target's reserve."""
    require_target(target)
    plan_json = tmp_path / "plan.json"
    proc = kiln("check", str(kws_dir() / model), "-t", target, "--name", "kws", "--json", str(plan_json))
    checked = json.loads(plan_json.read_text())
    if region == "L2":
        assert "does not fit L1" in proc.stdout and "placed in L2" in proc.stdout
    out = tmp_path / "p"
    kiln("export", str(kws_dir() / model), "-t", target, "-o", str(out), "--name", "kws")
    exported = json.loads((out / "project.json").read_text())["plan"]
    checked.pop("summary")
    assert checked == exported
    assert exported["arena_region"] == region
    kiln("build", str(out))
    addr, size = _elf_symbol(out / "fw.elf", "kws_arena")
    assert size == exported["arena_bytes"]
    mem = next(m for m in get_target(target).memory if m.name == region)
    assert mem.origin <= addr and addr + size <= mem.origin + mem.length
    report = tmp_path / "r.json"
    kiln("run", str(out), "--data", str(data / "x3.npy"), "--json", str(report))
    r = json.loads(report.read_text())
    stack = r["memory"]["stack_bytes"]
    assert stack is not None and 0 < stack <= exported["stack_budget_bytes"]
    assert r["memory"]["peak_ram_bytes"] == exported["arena_bytes"] + stack <= exported["peak_ram_bytes"]


TWO = Path(__file__).parent / "data" / "two_networks" / "main.c"


@pytest.mark.parametrize("target", target_params(["host", "cortex-m4"]))
def test_two_networks_in_one_firmware(tmp_path, target):
    """int8 KWS (--name kwa) and float KWS (--name kwf) link into one firmware with one runtime."""
    from edgekiln.targets.simulators.runner import run_network

    t = get_target(target)
    projects = [edgekiln.export(str(kws_dir() / "kws_ref_int8.tflite"), target, tmp_path / "kwa", name="kwa"),
                edgekiln.export(str(kws_dir() / "kws_dscnn_f32.onnx"), target, tmp_path / "kwf", name="kwf")]
    runtime: dict[str, Path] = {}
    for p in projects:
        for src in p.sources:
            if src.startswith("runtime/"):
                if src in runtime:
                    assert (p.path / src).read_bytes() == runtime[src].read_bytes(), src
                runtime.setdefault(src, p.path / src)
    elf = tmp_path / "fw.elf"
    linker = ["-T", str(tmp_path / "kwa" / "linker.ld")] if t.linker_template else []
    cmd = [t.cc, *t.cflags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path),
           "-I", str(tmp_path / "kwa" / "runtime" / "include"), "-I", str(tmp_path / "kwa" / "runtime" / "port"),
           str(tmp_path / "kwa" / "model.c"), str(tmp_path / "kwf" / "model.c"), str(TWO),
           *map(str, runtime.values()), *t.ldflags, *linker, "-lm", "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    x = kws_samples()["x"][:3]
    result = run_network(elf, t, np.ascontiguousarray(x, "<f4").reshape(3, -1).view(np.uint8),
                         count_instructions=False, preload=False)
    kwa = result.tensors[:, :12].view(np.int8)
    kwf = result.tensors[:, 12:].copy().view("<f4")
    graph, _ = prepare_graph(kws_dir() / "kws_ref_int8.tflite", "kwa", None)
    stored = nn_run.stored(graph, nn_run.check_inputs(graph, x))
    _, ref = nn_run.reference_outputs(kws_dir() / "kws_ref_int8.tflite", graph, stored, x)
    np.testing.assert_array_equal(kwa, ref)
    np.testing.assert_allclose(kwf, kws_samples()["probs"][:3], atol=1e-4)


def test_debug_compares_every_layer_and_finds_a_planted_difference(tmp_path, data):
    require_target("host")
    out = tmp_path / "p"
    kiln("export", str(kws_dir() / "kws_ref_int8.tflite"), "-t", "host", "-o", str(out), "--name", "kws")
    report = tmp_path / "d.json"
    proc = kiln("debug", str(out), "--data", str(data / "x3.npy"), "--sample", "2", "--json", str(report))
    assert "every layer matches the golden model" in proc.stdout
    rows = json.loads(report.read_text())["layers"]
    assert len(rows) == 13 and all(r["status"] == "same" for r in rows)
    assert rows[0]["elements"] == 8000
    # Change one weight in the golden model's copy (graph.json), not in the firmware:
    # debug must name layer 2 (conv_2d_2) as the first that differs.
    from edgekiln.ir import Graph

    g = Graph.from_json((out / "graph.json").read_text())
    w = g.nodes[2].inputs[1]
    g.constants[w].data = g.constants[w].data.copy()
    g.constants[w].data[5, 0, 0, 7] = np.int8(-g.constants[w].data[5, 0, 0, 7] or 1)
    (out / "graph.json").write_text(g.to_json())
    proc = kiln("debug", str(out), "--data", str(data / "x3.npy"), "--sample", "2", "--json", str(report))
    assert "first differing layer: 2 conv_2d_2" in proc.stdout
    rows = json.loads(report.read_text())["layers"]
    assert rows[0]["status"] == rows[1]["status"] == "same" and rows[2]["status"] == "DIFFERS"
    first = rows[2]["first_difference"]
    assert first["index"][-1] == 5 and first["device"] != first["golden"]


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",), min_cores=2)))
def test_kws_int8_on_all_cores_stays_bit_exact(tmp_path, data, target):
    """--cores N reaches the kernels (ctx.n_cores); whatever they split, the bytes stay LiteRT's."""
    cores = get_target(target).cores
    out = tmp_path / "p"
    kiln("export", str(kws_dir() / "kws_ref_int8.tflite"), "-t", target, "-o", str(out), "--name", "kws",
         "--cores", str(cores))
    kiln("run", str(out), "--data", str(data / "x3.npy"), "--json", str(tmp_path / "r.json"), "--reference",
         str(kws_dir() / "kws_ref_int8.tflite"))
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["cores"] == cores and r["reference"]["reference_bit_exact"] == 3
    assert all(layer["critical_path"] is not None for layer in r["layers"])
    assert r["critical_path_median"] >= max(layer["critical_path"] for layer in r["layers"])
