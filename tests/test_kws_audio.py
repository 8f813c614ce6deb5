"""Audio to label: our small KWS model (sdk/audio/models/kws_small.onnx, no ../shared needed)
through the ONNX frontend, an `mfcc` node in front of it (edgekiln.audio.graph.with_mfcc),
the float golden model vs onnxruntime, and the firmware on the host and every QEMU target."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

import edgekiln
from edgekiln.audio import LABELS, build_set
from edgekiln.audio.features import KWS_MFCC
from edgekiln.audio.graph import with_mfcc
from edgekiln.errors import InputError
from edgekiln.frontends.onnx import from_onnx
from edgekiln.ir import Graph
from edgekiln.quantize.nn import float_reference
from edgekiln.quantize.nn.mfcc import mfcc

from conftest import require_target, target_params, targets_where

MODEL = Path(edgekiln.__file__).parent / "audio" / "models" / "kws_small.onnx"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (scripts/setup.sh installs it)")


def _ort(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"input_1": f[None]})[0] for f in x])


@pytest.fixture(scope="module")
def clips():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup.sh installs it)")
    return build_set("eval")


def test_small_model_file_is_the_recorded_one_with_listed_ops_only():
    data = MODEL.read_bytes()
    report = json.loads(MODEL.with_suffix(".json").read_text())
    assert len(data) < 1_000_000 and hashlib.sha256(data).hexdigest() == report["sha256"]
    m = onnx.load(str(MODEL))
    assert {n.op_type for n in m.graph.node} <= {"Reshape", "Conv", "Relu", "AveragePool", "Gemm", "Softmax"}
    assert dict((p.key, p.value) for p in m.metadata_props)["labels"].split(",") == list(LABELS)
    assert report["eval_accuracy"] > 0.8


def test_small_model_golden_equals_onnxruntime(clips):
    feats = mfcc(clips.float_audio(), KWS_MFCC)[..., None].astype(np.float32)[::4]
    g = from_onnx(MODEL, "kws_small")
    want = _ort(MODEL, feats)
    got = np.concatenate([float_reference.run(g, {g.inputs[0].name: f[None]})[g.outputs[0].name] for f in feats])
    assert np.abs(got - want).max() < 1e-5 and np.array_equal(got.argmax(1), want.argmax(1))
    report = json.loads(MODEL.with_suffix(".json").read_text())
    all_feats = mfcc(clips.float_audio(), KWS_MFCC)[..., None].astype(np.float32)
    assert np.isclose(np.mean(_ort(MODEL, all_feats).argmax(1) == clips.labels), report["eval_accuracy"])


def test_mfcc_node_in_front_of_the_network(clips):
    g = with_mfcc(from_onnx(MODEL, "kws_small"))
    assert g.inputs[0].dims == (1, 16000) and g.nodes[0].op == "mfcc"
    assert Graph.from_json(g.to_json()).nodes[0].attrs == KWS_MFCC
    x = clips.float_audio()[:24:3]
    want = _ort(MODEL, mfcc(x, KWS_MFCC)[..., None].astype(np.float32))
    got = np.concatenate([float_reference.run(g, {"audio": a[None]})[g.outputs[0].name] for a in x])
    assert np.abs(got - want).max() < 1e-5
    with pytest.raises(InputError, match=r"\[1, 49, 10, 1\]"):
        with_mfcc(from_onnx(MODEL, "kws_small"), {**KWS_MFCC, "frame_step": 160})


def _audio_to_label(target: str, clips, idx) -> None:
    g = with_mfcc(from_onnx(MODEL, "kws_small"))
    x = clips.float_audio()[idx]
    gold = np.concatenate([float_reference.run(g, {"audio": a[None]})[g.outputs[0].name] for a in x])
    y = np.asarray(edgekiln.convert(g, target=target, name="kws_small").predict(x)).reshape(gold.shape)
    assert np.abs(y - gold).max() < 1e-5, np.abs(y - gold).max()
    assert np.array_equal(y.argmax(1), gold.argmax(1))


def test_audio_to_label_on_the_host(clips):
    require_target("host")
    _audio_to_label("host", clips, [0, 100, 250, 270, 287])


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",))))
def test_audio_to_label_on_qemu(target, clips):
    require_target(target)
    _audio_to_label(target, clips, [3, 260])  # a word and a silence clip


@pytest.mark.slow
def test_training_script_is_seeded(tmp_path):
    pytest.importorskip("torch", reason="torch is the optional `train` extra")
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "train_kws_small.py"
    outs = []
    for k in range(2):
        out = tmp_path / f"m{k}.onnx"
        subprocess.run([sys.executable, str(script), "--epochs", "1", "--out", str(out)], check=True,
                       capture_output=True, timeout=600)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def _int8_kws():
    from nn_fixtures import kws_dir
    from edgekiln.frontends.tflite import from_tflite

    return from_tflite(kws_dir() / "kws_ref_int8.tflite", "kws")


def test_int8_network_gets_int16_audio_and_the_integer_mfcc(clips):
    from edgekiln.quantize.nn import int8_reference
    from edgekiln.quantize.nn.mfcc_fixed import mfcc_s32, q16_to_s8

    net = _int8_kws()
    g = with_mfcc(net)
    assert g.inputs[0].dtype == "int16" and g.inputs[0].quant.scale == [float(np.float32(1 / 32768))]
    for a in clips.audio[::40]:
        feats = q16_to_s8(mfcc_s32(a, KWS_MFCC), 0.5847029089927673, 83)[None, ..., None]
        want = int8_reference.run(net, {"input_1": feats})["Identity"]
        assert np.array_equal(int8_reference.run(g, {"audio": a[None]})["Identity"], want)


def _audio_to_label_int8(target: str, clips, idx) -> None:
    from edgekiln.quantize.nn import int8_reference

    g = with_mfcc(_int8_kws())
    gold = np.concatenate([int8_reference.run(g, {"audio": clips.audio[i][None]})["Identity"] for i in idx])
    raw = np.asarray(edgekiln.convert(g, target=target, name="kws").predict_raw(clips.float_audio()[idx]))
    assert np.array_equal(raw.reshape(gold.shape), gold)


def test_int8_audio_to_label_on_the_host(clips):
    require_target("host")
    _audio_to_label_int8("host", clips, [0, 100, 250, 270])


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",))))
def test_int8_audio_to_label_on_qemu(target, clips):
    """gap8 runs it in integers only: ek_mfcc_s8 and the int8 network kernels."""
    require_target(target)
    _audio_to_label_int8(target, clips, [3, 260])


def test_bad_audio_through_the_api_is_refused(clips):
    require_target("host")
    m = edgekiln.convert(with_mfcc(from_onnx(MODEL, "kws_small")), target="host", name="kws_small")
    x = clips.float_audio()[:1].copy()
    with pytest.raises(InputError, match=r"shape \(n_samples, 16000\)"):
        m.predict(x[:, :8000])
    x[0, 5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        m.predict(x)


def test_cli_audio_clips_export_build_run(tmp_path, clips):
    """kiln audio clips -> kiln audio export (our model) -> kiln build -> kiln run, on the host."""
    import subprocess
    import sys

    require_target("host")

    def kiln(*args, ok=True):
        p = subprocess.run([sys.executable, "-m", "edgekiln.cli", *args], capture_output=True, text=True, cwd=tmp_path)
        assert (p.returncode == 0) == ok, p.stdout + p.stderr
        return p

    kiln("audio", "clips", "--split", "eval", "-o", "x.npy", "--labels", "y.npy", "--limit", "3")
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (3, 16000) and np.array_equal(x, clips.float_audio()[:3])
    assert np.array_equal(np.load(tmp_path / "y.npy"), clips.labels[:3])
    kiln("audio", "export", str(MODEL), "-t", "host", "-o", "out", "--name", "kws_small")
    kiln("build", "out")
    kiln("run", "out", "--data", "x.npy", "--json", "r.json")
    got = np.array(json.loads((tmp_path / "r.json").read_text())["outputs"])
    g = with_mfcc(from_onnx(MODEL, "kws_small"))
    want = np.concatenate([float_reference.run(g, {"audio": a[None]})[g.outputs[0].name] for a in x])
    assert np.abs(got - want).max() < 1e-5
    bad = kiln("audio", "clips", "-o", "x.txt", ok=False)
    assert bad.returncode == 2 and "a .npy file" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    (tmp_path / "m.txt").write_text("tree\n")
    assert kiln("audio", "export", "m.txt", "-t", "host", "-o", "o2", ok=False).returncode == 2
