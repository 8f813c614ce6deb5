"""AdaRound (quantize/nn/adaround.py): learned rounding with layer-wise reconstruction,
against RTN on small layers, a small CNN and the KWS DS-CNN (split from test_nn_quantize.py,
whose graph and comparison helpers it reuses)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

import edgekiln
from edgekiln.cli import main
from edgekiln.errors import InputError
from edgekiln.frontends.onnx import from_onnx
from edgekiln.quantize.nn.methods import Layer, UnsupportedConfigError, WeightConfig, get_method

from nn_fixtures import kws_dir, kws_samples
from test_nn_quantize import _calib, _ort, _same_ir, _seeded, _small_cnn, _tflite_exact  # noqa: F401 (_seeded: autouse)

RNG = np.random.default_rng(16)


@pytest.fixture(autouse=True)
def _seeded_here():
    """This module's draws are the same whichever tests run before."""
    global RNG
    RNG = np.random.default_rng(16)


# --- adaround (quantize/nn/adaround.py) ------------------------------------------------------
def _layer_output(layer, w, b):
    """The layer's float output over its (quantized, when given) inputs with weight w, bias b."""
    from edgekiln.quantize.nn import geometry

    xs = layer.quant_inputs or layer.inputs
    if layer.op == "fully_connected":
        x = np.concatenate([a.reshape(-1, w.shape[1]) for a in xs]).astype(np.float64)
        return x @ w.astype(np.float64).T + b
    x = np.concatenate(xs).astype(np.float64)
    return geometry.conv_accumulate(x, w.astype(np.float64), layer.attrs) + b


def _target(layer):
    from edgekiln.quantize.nn import geometry

    if layer.op == "fully_connected":
        x = np.concatenate([a.reshape(-1, layer.weight.shape[1]) for a in layer.inputs]).astype(np.float64)
        return x @ layer.weight.astype(np.float64).T + layer.bias
    return geometry.conv_accumulate(np.concatenate(layer.inputs).astype(np.float64), layer.weight.astype(np.float64),
                                    layer.attrs) + layer.bias


def _small_layers():
    """A 2-D conv, a depthwise conv with stride 2 and a 1-D conv, a fully connected layer; the
    quantized inputs are the float ones plus int8-like rounding noise."""
    def relu_in(shape):
        return [np.maximum(RNG.standard_normal(shape), 0).astype(np.float32) for _ in range(12)]

    def noisy(xs):
        return [np.round(x / 0.02).astype(np.float32) * np.float32(0.02) for x in xs]

    specs = [("conv", {"pads": [1, 1, 1, 1]}, (8, 3, 3, 4), (1, 6, 6, 4)),
             ("conv", {"group": 6, "strides": [2, 2], "pads": [1, 1, 1, 1]}, (6, 3, 3, 1), (1, 7, 7, 6)),
             ("conv", {"pads": [2, 2]}, (5, 5, 3), (1, 16, 3)),
             ("fully_connected", {}, (7, 20), (1, 20))]
    out = []
    for op, attrs, wshape, xshape in specs:
        xs = relu_in(xshape)
        w = (RNG.standard_normal(wshape) * 0.3).astype(np.float32)
        b = (RNG.standard_normal(wshape[0]) * 0.1).astype(np.float32)
        out.append(Layer(f"{op}{len(out)}", op, w, attrs, xs, noisy(xs), b))
    return out


@pytest.mark.parametrize("wbits", [4, 8])
def test_adaround_beats_rtn_on_the_layer_output_and_is_deterministic(wbits):
    cfg = WeightConfig(wbits)
    ada, rtn = get_method("adaround"), get_method("rtn")
    for layer in _small_layers():
        a, a2, r = ada.quantize(layer, cfg), ada.quantize(layer, cfg), rtn.quantize(layer, cfg)
        assert np.array_equal(a.values, a2.values) and np.array_equal(a.scales, a2.scales)
        assert np.array_equal(a.bias, a2.bias)
        assert a.values.dtype == np.int8 and a.values.shape == layer.weight.shape and a.scales.dtype == np.float32
        assert np.abs(a.values.astype(int)).max() <= cfg.qmax and a.scales.size == layer.weight.shape[0]
        want = _target(layer)
        e_rtn = ((_layer_output(layer, r.dequantize(), layer.bias) - want) ** 2).mean()
        e_ada = ((_layer_output(layer, a.dequantize(), a.bias) - want) ** 2).mean()
        print(f"{layer.name} W{wbits}: output MSE rtn {e_rtn:.3g}, adaround {e_ada:.3g}")
        assert e_ada < (0.8 if wbits == 4 else 0.95) * e_rtn, (layer.name, e_ada, e_rtn)
        from edgekiln.quantize.nn.adaround import reconstruction_error

        assert reconstruction_error(layer, a) <= reconstruction_error(layer, r)


def test_adaround_refuses_what_it_cannot_do(tmp_path):
    ada = get_method("adaround")
    layer = _small_layers()[0]
    for cfg, why in [(WeightConfig(4, "per-tensor"), "per-tensor"), (WeightConfig(4, group_size=32), "per-group"),
                     (WeightConfig(3), "3-bit")]:
        with pytest.raises(UnsupportedConfigError, match=f"'adaround' cannot do .*{why}"):
            ada.quantize(layer, cfg)
    with pytest.raises(InputError, match="needs calibration inputs of layer"):
        ada.quantize(Layer("l", layer.op, layer.weight, layer.attrs), WeightConfig(4))
    path = tmp_path / "cnn.onnx"
    onnx.save(_small_cnn(), path)
    np.save(tmp_path / "calib.npy", _calib(4))
    res = CliRunner().invoke(main, ["quantize", str(path), "--calib", str(tmp_path / "calib.npy"), "--wbits", "4",
                                    "--method", "adaround", "--granularity", "per-tensor", "-o", str(tmp_path / "q.onnx")])
    assert res.exit_code == 2 and "'adaround' cannot do W4 per-tensor" in res.output
    assert not (tmp_path / "q.onnx").exists()


def test_adaround_small_cnn_sequential_beats_rtn_and_runs_in_onnxruntime(tmp_path):
    """The whole graph, layer by layer on the quantized network's own inputs: better than RTN
    on held-out inputs, the same int8 IR form (golden model), a QDQ that onnxruntime runs."""
    from edgekiln.quantize.nn import sequential
    from edgekiln.quantize.nn.qreport import evaluate
    from edgekiln.quantize.nn.quantizer import QuantConfig, quantize_graph

    m = _small_cnn()
    path = tmp_path / "cnn.onnx"
    onnx.save(m, path)
    g = from_onnx(m, "cnn")
    calib, held_out = _calib(48), _calib(16)
    seen = []
    real = sequential._int8_inputs
    sequential._int8_inputs = lambda graph, samples, stop: seen.append(stop) or real(graph, samples, stop)
    try:
        qa = quantize_graph(g, calib, QuantConfig(wbits=4, method="adaround"))
    finally:
        sequential._int8_inputs = real
    assert seen == ["conv1", "dw", "fc"]
    qr = quantize_graph(g, calib, QuantConfig(wbits=4, method="rtn"))
    ea, er = evaluate(qa, held_out), evaluate(qr, held_out)
    print(f"small cnn W4A8 logit SQNR: rtn {er['logit_sqnr_db']:.2f} dB, adaround {ea['logit_sqnr_db']:.2f} dB")
    assert ea["logit_sqnr_db"] > er["logit_sqnr_db"] + 1
    assert qa.graph.constants["conv1_b"].data.dtype == np.int32 and next(n for n in qa.graph.nodes if n.name == "conv1").attrs["weight_bits"] == 4
    r = edgekiln.quantize_network(str(path), calib, wbits=4, method="adaround", output=tmp_path / "q.onnx", int4="int8")
    assert np.array_equal(r["graph"].constants["conv1_w"].data, qa.graph.constants["conv1_w"].data)
    qs = _ort(onnx.load(tmp_path / "q.onnx"))
    f = np.concatenate([_ort(m).run(None, {"x": x})[0] for x in held_out])
    o = np.concatenate([qs.run(None, {"x": x})[0] for x in held_out])
    assert 10 * np.log10((f ** 2).sum() / ((f - o) ** 2).sum()) > 10
    _same_ir(r["graph"], _strip_int4(from_onnx(tmp_path / "q.onnx", "cnn"), r["graph"]))


def _strip_int4(back, q):
    for n in q.nodes:
        n.attrs.pop("weight_bits", None)
    return back


def test_adaround_kws_ir_is_what_litert_runs_bit_exact():
    x = kws_samples()["x"]
    q = edgekiln.quantize_network(str(kws_dir() / "kws_dscnn_f32.onnx"), x, wbits=4, method="adaround")["graph"]
    same, total = _tflite_exact(q, x[:4])
    assert total == 4 * (len(q.nodes) + 1) and same == total
