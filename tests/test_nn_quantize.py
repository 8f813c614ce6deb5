"""Post-training quantization of networks: observers, RTN weights, int4 packing, the int8
IR the quantizer writes (run by the int8 golden model), the QDQ ONNX it exports (run by
onnxruntime, close to float, re-imported to the same IR), QDQ graphs made by onnxruntime's
quantize_static read by the frontend (golden model vs onnxruntime), and `kiln quantize`'s
errors for bad calibration sets."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import edgekiln
from edgekiln.cli import main
from edgekiln.errors import InputError
from edgekiln.frontends.onnx import from_onnx
from edgekiln.quantize.nn import int8_reference
from edgekiln.quantize.nn.int4 import pack_int4, unpack_int4
from edgekiln.quantize.nn.methods import Layer, UnsupportedConfigError, WeightConfig, get_method
from edgekiln.quantize.nn.observers import make_observer
from edgekiln.quantize.nn.quantizer import dequantize, quantize_input

from nn_fixtures import kws_dir, kws_samples

RNG = np.random.default_rng(16)


@pytest.fixture(autouse=True)
def _seeded():
    """Each test draws the same weights and data, whichever tests run before it."""
    global RNG
    RNG = np.random.default_rng(16)


def _w(name, shape, scale=0.4):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _small_cnn(opset=13) -> onnx.ModelProto:
    """Conv+Relu, depthwise Conv+Clip(0,6), Add of a constant, Sigmoid*x, Pad, Concat,
    GlobalAveragePool, Flatten, Gemm: most of the ONNX ops the int8 kernels cover."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="dw", group=6, pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"], name="relu6"),
        helper.make_node("Add", ["r2", "k"], ["a"], name="addk"),
        helper.make_node("Sigmoid", ["a"], ["s"], name="sig"),
        helper.make_node("Mul", ["a", "s"], ["m"], name="swish"),
        helper.make_node("Pad", ["m", "pads"], ["p"], name="pad"),
        helper.make_node("Concat", ["p", "p"], ["cat"], name="cat", axis=1),
        helper.make_node("GlobalAveragePool", ["cat"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    inits = [_w("w1", (6, 3, 3, 3)), _w("b1", (6,), 0.1), _w("w2", (6, 1, 3, 3)), _w("b2", (6,), 0.1),
             numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi"),
             _w("k", (1, 6, 1, 1), 0.5), numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
             _w("wf", (5, 12)), _w("bf", (5,), 0.1)]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _calib(n=32, shape=(1, 3, 8, 8)):
    return RNG.standard_normal((n, *shape)).astype(np.float32)


def _ort(model: onnx.ModelProto):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _same_ir(a, b) -> None:
    assert [(n.op, n.name, n.inputs, n.outputs, n.attrs) for n in a.nodes] == \
           [(n.op, n.name, n.inputs, n.outputs, n.attrs) for n in b.nodes]
    assert [v.to_doc() for v in a.all_values()] == [v.to_doc() for v in b.all_values()]
    assert sorted(a.constants) == sorted(b.constants)
    for k, c in a.constants.items():
        assert c.data.dtype == b.constants[k].data.dtype and np.array_equal(c.data, b.constants[k].data), k
        assert c.quant == b.constants[k].quant, k


# --- observers, methods, int4 ------------------------------------------------------------
def test_observers_minmax_percentile_mse():
    x = np.concatenate([RNG.standard_normal(10000), [40.0]]).astype(np.float32)
    ranges = {}
    for name in ("minmax", "percentile", "mse"):
        o = make_observer(name, percentile=99.9)
        for part in np.array_split(x, 4):
            o.observe(part)
        ranges[name] = o.range()
    assert ranges["minmax"][1] == 40.0
    assert ranges["percentile"][1] < 5.0 and ranges["mse"][1] <= 40.0
    heavy = RNG.laplace(size=50000).astype(np.float32)  # a long tail: the MSE range clips it
    o, mm = make_observer("mse"), make_observer("minmax")
    o.observe(heavy)
    mm.observe(heavy)
    assert o.range()[1] < mm.range()[1]
    with pytest.raises(InputError, match="unknown observer"):
        make_observer("kl")
    with pytest.raises(InputError, match="NaN"):
        make_observer("minmax").observe(np.array([np.nan]))


def test_rtn_per_channel_int8_and_int4_ranges_and_refusals():
    w = RNG.standard_normal((4, 3, 3, 2)).astype(np.float32) * np.array([1, 10, 0.1, 0], np.float32)[:, None, None, None]
    rtn = get_method("rtn")
    q8 = rtn.quantize(Layer("c", "conv", w), WeightConfig(8))
    assert q8.values.dtype == np.int8 and q8.scales.shape == (4,) and np.abs(q8.values).max() == 127
    assert np.all(q8.values[3] == 0) and q8.scales[3] == 1.0  # an all-zero channel
    assert np.abs(q8.dequantize() - w).max() <= q8.scales.max() / 2 + 1e-6
    q4 = rtn.quantize(Layer("c", "conv", w), WeightConfig(4, "per-tensor"))
    assert q4.scales.shape == (1,) and q4.values.min() >= -7 and np.abs(q4.values).max() == 7 and q4.values.max() <= 7
    mse = get_method("rtn-mse").quantize(Layer("c", "conv", w), WeightConfig(4))
    assert np.sum((mse.dequantize() - w) ** 2) <= np.sum((rtn.quantize(Layer("c", "conv", w), WeightConfig(4)).dequantize() - w) ** 2)
    with pytest.raises(UnsupportedConfigError, match="rtn.*W3"):
        rtn.quantize(Layer("c", "conv", w), WeightConfig(3))
    with pytest.raises(UnsupportedConfigError, match="per-group"):
        rtn.check(WeightConfig(4, "per-channel", 32))
    with pytest.raises(UnsupportedConfigError, match="unknown quantization method 'gptq'"):
        get_method("gptq")


def test_int4_packing_matches_ek_nn_h():
    v = np.array([-8, 7, 1, -1, 3], np.int8)
    p = pack_int4(v)
    assert p.tolist() == [0x78, 0xF1, 0x03]  # even element in the low nibble; odd count half-used
    assert np.array_equal(unpack_int4(p, 5), v)
    with pytest.raises(ValueError):
        pack_int4(np.array([9]))


# --- kiln quantize on a small float graph ----------------------------------------------------
@pytest.mark.parametrize("wbits,granularity,int4", [(8, "per-channel", "onnx"), (8, "per-tensor", "onnx"),
                                                   (4, "per-channel", "onnx"), (4, "per-channel", "int8")])
def test_quantized_small_cnn_runs_in_onnxruntime_close_to_float_and_reimports(wbits, granularity, int4, tmp_path):
    m = _small_cnn()
    path = tmp_path / "cnn.onnx"
    onnx.save(m, path)
    calib = _calib()
    r = edgekiln.quantize_network(str(path), calib, wbits=wbits, granularity=granularity, output=tmp_path / "cnn.q.onnx",
                                  int4=int4)
    q = r["graph"]
    assert {v.dtype for v in q.all_values()} == {"int8"} and all(v.quant is not None for v in q.all_values())
    assert [n.attrs.get("activation") for n in q.nodes if n.op == "conv"] == ["relu", "relu6"]
    assert q.constants["conv1_b"].data.dtype == np.int32
    assert (q.constants["conv1_w"].quant.axis == 0) == (granularity == "per-channel")
    qdq = onnx.load(tmp_path / "cnn.q.onnx")
    onnx.checker.check_model(qdq)
    types = {t.name: t.data_type for t in qdq.graph.initializer}
    assert types["w1_quantized"] == (TensorProto.INT4 if wbits == 4 and int4 == "onnx" else TensorProto.INT8)
    if wbits == 4:
        w1 = numpy_helper.to_array(next(t for t in qdq.graph.initializer if t.name == "w1_quantized"))
        assert np.abs(w1.astype(np.int32)).max() == 7 and r["notes"] == ([] if int4 == "onnx" else [r["notes"][0]])
    assert types["b1_quantized"] == TensorProto.INT32
    fl, qs = _ort(m), _ort(qdq)
    test = _calib(8)
    f = np.concatenate([fl.run(None, {"x": x})[0] for x in test])
    o = np.concatenate([qs.run(None, {"x": x})[0] for x in test])
    sqnr = 10 * np.log10((f ** 2).sum() / ((f - o) ** 2).sum())
    assert sqnr > (25 if wbits == 8 else 10), sqnr
    ours = np.concatenate([dequantize(int8_reference.run(q, {"x": quantize_input(x, q.inputs[0].quant)})["y"],
                                      q.outputs[0].quant) for x in test])
    lsb = np.abs(ours - o).max() / q.outputs[0].quant.scale[0]
    print(f"golden vs onnxruntime QDQ: {lsb:.2f} LSB")
    assert lsb <= 8  # onnxruntime computes in float between the pairs: a few LSB
    from edgekiln.ir import Graph
    from edgekiln.quantize.nn.qreport import int8_outputs

    again = Graph.from_json(q.to_json())  # the int8 IR round-trips through JSON
    probs, logits = int8_outputs(r["network"], test[:2])
    assert np.array_equal(probs[0], dequantize(int8_reference.run(again, {"x": quantize_input(test[0], q.inputs[0].quant)})["y"],
                                               q.outputs[0].quant))
    assert logits.shape == probs.shape == (2, 1, 5)
    back = from_onnx(tmp_path / "cnn.q.onnx", "cnn")
    if int4 == "int8" and wbits == 4:  # the file no longer says the weights are 4-bit
        for n in q.nodes:
            n.attrs.pop("weight_bits", None)
    _same_ir(q, back)
    rows = {row["name"]: row for row in r["report"]["layers"]}
    assert rows["conv1"]["wbits"] == wbits and rows["conv1"]["sqnr_db"] > 20


def test_kws_w8a8_quantize_cli_and_reimport(tmp_path):
    kws = kws_dir()
    np.save(tmp_path / "calib.npy", kws_samples()["x"])
    out = tmp_path / "kws.q.onnx"
    res = CliRunner().invoke(main, ["quantize", str(kws / "kws_dscnn_f32.onnx"), "--calib", str(tmp_path / "calib.npy"),
                                    "--wbits", "8", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "kws.q.report.json").read_text())
    assert rep["agreement"] >= 0.95 and rep["logit_sqnr_db"] >= 24
    assert len(rep["layers"]) == 16 and rep["layers"][2]["wbits"] == 8
    g = from_onnx(out)
    assert [n.attrs.get("activation") for n in g.nodes if n.op == "conv"] == ["relu"] * 9
    x = kws_samples()["x"]
    s = _ort(onnx.load(out))
    want = np.concatenate([s.run(None, {"input_1": v[None]})[0] for v in x])
    got = np.concatenate([dequantize(int8_reference.run(g, {"input_1": quantize_input(v, g.inputs[0].quant)})["probs"],
                                     g.outputs[0].quant) for v in x])
    assert (want.argmax(1) == got.argmax(1)).mean() >= 0.95


# --- QDQ graphs from onnxruntime's quantize_static ------------------------------------------
def _quantize_static(src, dst, calib, name="x"):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{name: c} for c in calib])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True)


def _golden_vs_ort(path, xs, name):
    g = from_onnx(path)
    s = _ort(onnx.load(path))
    diff = 0.0
    agree = 0
    for x in xs:
        want = s.run(None, {name: x})[0]
        got = dequantize(int8_reference.run(g, {g.inputs[0].name: quantize_input(x, g.inputs[0].quant)})[g.outputs[0].name],
                         g.outputs[0].quant)
        diff = max(diff, float(np.abs(got - want).max()))
        agree += int(got.argmax() == want.argmax())
    return g, diff / g.outputs[0].quant.scale[0], agree / len(xs)


def test_onnxruntime_qdq_small_graph_imports_to_int8_ir(tmp_path):
    """A conv/relu/pool/gemm graph quantized by onnxruntime: golden model vs onnxruntime."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p1"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
                          initializer=[_w("w1", (6, 3, 3, 3)), _w("b1", (6,), 0.1), _w("wf", (5, 96), 0.2), _w("bf", (5,), 0.1)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "f.onnx")
    calib = _calib(16)
    _quantize_static(tmp_path / "f.onnx", tmp_path / "q.onnx", calib)
    ir, lsb, agree = _golden_vs_ort(tmp_path / "q.onnx", _calib(16), "x")
    assert ir.meta["source"] == "onnx-qdq" and {c.data.dtype for c in ir.constants.values()} == {np.dtype(np.int8), np.dtype(np.int32)}
    conv = next(n for n in ir.nodes if n.op == "conv")
    assert ir.constants[conv.inputs[1]].quant.axis == 0 and conv.attrs.get("activation", "none") in ("none", "relu")
    assert lsb <= 4, f"golden model vs onnxruntime's QDQ: {lsb} LSB"
    assert agree >= 0.9


def test_onnxruntime_qdq_kws_imports_and_agrees(tmp_path):
    kws = kws_dir()
    x = kws_samples()["x"]
    _quantize_static(kws / "kws_dscnn_f32.onnx", tmp_path / "kws_qdq.onnx", [v[None] for v in x], "input_1")
    ir, lsb, agree = _golden_vs_ort(tmp_path / "kws_qdq.onnx", [v[None] for v in x], "input_1")
    assert [n.op for n in ir.nodes].count("conv") == 9
    assert any("softmax" in note for note in ir.meta.get("qdq_notes", []))
    # measured 18 LSB of 1/256 on the probabilities: onnxruntime runs the QDQ graph in float between
    # the pairs (its softmax has its own output scale), the golden model runs TFLite's integer kernels
    assert lsb <= 24 and agree >= 0.95


# --- bad calibration sets -------------------------------------------------------------------
def test_bad_calibration_sets_are_one_clear_error(tmp_path):
    m = _small_cnn()
    onnx.save(m, tmp_path / "cnn.onnx")
    cases = {"empty.npy": (np.zeros((0, 1, 3, 8, 8), np.float32), "empty.*\\(n, 1, 3, 8, 8\\)"),
             "shape.npy": (np.zeros((4, 3, 9, 8), np.float32), "shape \\(4, 3, 9, 8\\).*\\(n, 1, 3, 8, 8\\) or \\(n, 3, 8, 8\\)"),
             "nan.npy": (np.full((2, 3, 8, 8), np.nan, np.float32), "NaN")}
    for name, (data, pattern) in cases.items():
        np.save(tmp_path / name, data)
        res = CliRunner().invoke(main, ["quantize", str(tmp_path / "cnn.onnx"), "--calib", str(tmp_path / name),
                                        "-o", str(tmp_path / "o.onnx")])
        assert res.exit_code == 2, res.output
        err = res.stderr if hasattr(res, "stderr") else res.output
        import re
        assert re.search(pattern, err.replace("\n", " ")), err
    assert not (tmp_path / "o.onnx").exists()
    with pytest.raises(InputError, match="activations are int8"):
        edgekiln.quantize_network(str(tmp_path / "cnn.onnx"), _calib(2), abits=4)
    with pytest.raises(UnsupportedConfigError, match="cannot do W3"):
        edgekiln.quantize_network(str(tmp_path / "cnn.onnx"), _calib(2), wbits=3)


def test_malformed_qdq_graphs_are_one_clear_error(tmp_path):
    from edgekiln.errors import ModelLoadError, UnsupportedModelError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    scale = numpy_helper.from_array(np.float32(0.1), "s")
    zp = numpy_helper.from_array(np.int8(0), "z")

    def model(nodes, inits):
        m = helper.make_model(helper.make_graph(nodes, "t", [x], [y], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 21)])
        m.ir_version = 10
        return m

    lonely = model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("DequantizeLinear", ["r", "s", "z"], ["y"])],
                   [scale, zp])
    with pytest.raises(UnsupportedModelError, match="no QuantizeLinear writes"):
        from_onnx(lonely)
    bad4 = helper.make_tensor("w4", TensorProto.INT4, [4, 4], vals=[1] * 16)
    bad4.raw_data = bad4.raw_data[:3]  # 16 int4 values need 8 bytes
    truncated = model([helper.make_node("DequantizeLinear", ["w4", "s", "z4"], ["w"]),
                       helper.make_node("MatMul", ["x", "w"], ["y"])],
                      [bad4, scale, helper.make_tensor("z4", TensorProto.INT4, [], vals=[0])])
    with pytest.raises(ModelLoadError, match="int4 values need 8 bytes"):
        from_onnx(truncated)


def test_qdq_weight_quantized_along_its_input_axis_is_refused():
    from edgekiln.errors import UnsupportedModelError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    inits = [numpy_helper.from_array(np.ones((4, 3), np.int8), "wq"), numpy_helper.from_array(np.full(4, 0.1, np.float32), "ws"),
             numpy_helper.from_array(np.zeros(4, np.int8), "wz"), numpy_helper.from_array(np.float32(0.05), "s"),
             numpy_helper.from_array(np.int8(0), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]), helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
             helper.make_node("MatMul", ["xd", "w"], ["y"], name="mm")]
    m = helper.make_model(helper.make_graph(nodes, "t", [x], [y], initializer=inits), opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(UnsupportedModelError, match="along axis 0, not its output channel \\(axis 1\\)"):
        from_onnx(m)


def _tflite_exact(q, xs) -> tuple[int, int]:
    """(tensors equal, tensors compared) between LiteRT BUILTIN_REF running the int8 IR `q`
    written as a .tflite and the int8 golden model, over the float samples xs."""
    from tflite_builder import ir_to_tflite, run_reference_all

    data, index = ir_to_tflite(q)
    name = q.inputs[0].name
    same = total = 0
    for x in xs:
        qx = quantize_input(x.reshape(q.inputs[0].dims), q.inputs[0].quant)
        want = run_reference_all(data, {index[name]: qx})
        ours = int8_reference.run(q, {name: qx}, keep_all=True)
        for k, v in ours.items():
            if k in index and k not in q.constants:
                total += 1
                same += int(np.array_equal(want[index[k]], v))
    return same, total


@pytest.mark.parametrize("wbits", [8, 4])
def test_quantized_kws_ir_is_what_litert_runs_bit_exact(wbits):
    """The quantizer's int8 IR is TFLite's int8 form: written as a .tflite (tests/tflite_builder.py),
    LiteRT's reference kernels give the golden model's integers on every tensor."""
    x = kws_samples()["x"]
    g = from_onnx(kws_dir() / "kws_dscnn_f32.onnx")
    q = edgekiln.quantize_network(str(kws_dir() / "kws_dscnn_f32.onnx"), x, wbits=wbits)["graph"]
    same, total = _tflite_exact(q, x[:6])
    assert total == 6 * (len(q.nodes) + 1) and same == total
    assert g.inputs[0].name == q.inputs[0].name


def test_quantized_small_graph_of_other_ops_is_what_litert_runs_bit_exact(tmp_path):
    """sigmoid, mul, pad, concat, a standalone clip, leaky_relu, tanh, hard_swish, sub in one graph."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c1"], ["s"], name="sig"),
             helper.make_node("Mul", ["c1", "s"], ["m"], name="swish"),
             helper.make_node("Pad", ["m", "pads"], ["p"], name="pad"),
             helper.make_node("Clip", ["p", "lo", "hi"], ["r6"], name="relu6"),
             helper.make_node("LeakyRelu", ["p"], ["lr"], name="leaky", alpha=0.1),
             helper.make_node("Concat", ["r6", "lr"], ["cat"], name="cat", axis=1),
             helper.make_node("Tanh", ["cat"], ["th"], name="tanh"),
             helper.make_node("HardSwish", ["cat"], ["hs"], name="hswish"),
             helper.make_node("Sub", ["hs", "th"], ["y"], name="sub")]
    inits = [_w("w1", (4, 3, 3, 3)), _w("b1", (4,), 0.1), numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), "pads"),
             numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "ops.onnx")
    r = edgekiln.quantize_network(str(tmp_path / "ops.onnx"), _calib(16, (1, 3, 6, 6)), output=tmp_path / "ops.q.onnx")
    q = r["graph"]
    assert {"sigmoid", "mul", "pad", "clip", "leaky_relu", "concat", "tanh", "hard_swish", "sub"} <= set(q.ops())
    same, total = _tflite_exact(q, _calib(4, (1, 3, 6, 6)))
    assert same == total and total > 0
    _same_ir(q, from_onnx(tmp_path / "ops.q.onnx", "ops"))
    assert 10 * np.log10(1 / max(1e-12, 10 ** (-min(row["sqnr_db"] for row in r["report"]["layers"]) / 10))) > 10


@pytest.mark.parametrize("conv_bias", [False, True])
def test_batch_norm_folded_by_the_frontend_leaves_the_qdq_file(conv_bias, tmp_path):
    ins = ["x", "w1", "b1"] if conv_bias else ["x", "w1"]
    nodes = [helper.make_node("Conv", ins, ["c"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["bn"], name="bn", epsilon=1e-3),
             helper.make_node("Relu", ["bn"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = [_w("w1", (6, 3, 3, 3)), _w("b1", (6,), 0.1), numpy_helper.from_array((1 + 0.2 * RNG.standard_normal(6)).astype(np.float32), "g"),
             _w("be", (6,), 0.2), _w("mu", (6,), 0.2), numpy_helper.from_array((1 + RNG.random(6)).astype(np.float32), "var"),
             _w("wf", (5, 6)), _w("bf", (5,), 0.1)]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "bn.onnx")
    r = edgekiln.quantize_network(str(tmp_path / "bn.onnx"), _calib(32), output=tmp_path / "bn.q.onnx")
    qdq = onnx.load(tmp_path / "bn.q.onnx")
    assert "BatchNormalization" not in {n.op_type for n in qdq.graph.node}
    test = _calib(8)
    f = np.concatenate([_ort(m).run(None, {"x": x})[0] for x in test])
    o = np.concatenate([_ort(qdq).run(None, {"x": x})[0] for x in test])
    assert 10 * np.log10((f ** 2).sum() / ((f - o) ** 2).sum()) > 25
    _same_ir(r["graph"], from_onnx(tmp_path / "bn.q.onnx", "bn"))


def _residual() -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["a"], name="skip"),
             helper.make_node("Relu", ["a"], ["r2"], name="relu2"),
             helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "wf"], ["y"], name="fc")]
    inits = [_w("w1", (4, 2, 3, 3)), _w("b1", (4,), 0.1), _w("w2", (4, 4, 3, 3), 0.3), _w("b2", (4,), 0.1), _w("wf", (16, 3))]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def test_residual_block_quantizes_and_runs_bit_exact_in_litert(tmp_path):
    """Conv -> Relu -> Conv, Add(skip) + Relu (fused into the add), MaxPool, MatMul."""
    m = _residual()
    onnx.save(m, tmp_path / "res.onnx")
    calib = _calib(32, (1, 2, 4, 4))
    r = edgekiln.quantize_network(str(tmp_path / "res.onnx"), calib, output=tmp_path / "res.q.onnx")
    q = r["graph"]
    assert [(n.op, n.attrs.get("activation")) for n in q.nodes if n.op in ("conv", "add")] == \
           [("conv", "relu"), ("conv", None), ("add", "relu")]
    same, total = _tflite_exact(q, _calib(4, (1, 2, 4, 4)))
    assert same == total > 0
    _same_ir(q, from_onnx(tmp_path / "res.q.onnx", "res"))
    test = calib[:8]  # inside the calibrated ranges (fresh draws can leave them and saturate)
    f = np.concatenate([_ort(m).run(None, {"x": x})[0] for x in test])
    o = np.concatenate([_ort(onnx.load(tmp_path / "res.q.onnx")).run(None, {"x": x})[0] for x in test])
    assert 10 * np.log10((f ** 2).sum() / ((f - o) ** 2).sum()) > 25


def test_cli_eval_set_and_bad_eval_file(tmp_path):
    onnx.save(_small_cnn(), tmp_path / "cnn.onnx")
    np.save(tmp_path / "c.npy", _calib(16))
    np.save(tmp_path / "e.npy", _calib(5))
    base = ["quantize", str(tmp_path / "cnn.onnx"), "--calib", str(tmp_path / "c.npy"), "-o", str(tmp_path / "o.onnx")]
    res = CliRunner().invoke(main, base + ["--eval", str(tmp_path / "e.npy"), "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["samples"] == 5 and "--eval set (5 samples)" in res.output
    res = CliRunner().invoke(main, base + ["--eval", str(tmp_path / "missing.npy")])
    assert res.exit_code == 2 and "--eval" in (res.stderr if hasattr(res, "stderr") else res.output)


@pytest.mark.parametrize("opset", [11, 18])
def test_older_and_newer_opsets_export_per_channel_qdq(opset, tmp_path):
    """Per-channel DequantizeLinear needs opset 13: an opset-11 model is converted, an opset-18 one kept."""
    onnx.save(_small_cnn(opset), tmp_path / "m.onnx")
    r = edgekiln.quantize_network(str(tmp_path / "m.onnx"), _calib(16), output=tmp_path / "m.q.onnx")
    q = onnx.load(tmp_path / "m.q.onnx")
    assert [o.version for o in q.opset_import if o.domain in ("", "ai.onnx")] == [max(opset, 13)]
    _ort(q)
    _same_ir(r["graph"], from_onnx(tmp_path / "m.q.onnx", "m"))


def test_attention_like_matmuls_of_two_activations(tmp_path):
    """softmax(x W (x W)^T) x: MatMul of two activations (BATCH_MATMUL), Transpose, 3-D softmax."""
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["h"], name="proj"),
             helper.make_node("Transpose", ["h"], ["ht"], name="t", perm=[0, 2, 1]),
             helper.make_node("MatMul", ["h", "ht"], ["s"], name="scores"),
             helper.make_node("Softmax", ["s"], ["p"], name="softmax", axis=-1),
             helper.make_node("MatMul", ["p", "x"], ["y"], name="mix")]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 8])], initializer=[_w("wq", (8, 8), 0.3)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "att.onnx")
    calib = _calib(32, (1, 5, 8))
    r = edgekiln.quantize_network(str(tmp_path / "att.onnx"), calib, output=tmp_path / "att.q.onnx")
    q = r["graph"]
    assert [n.op for n in q.nodes].count("matmul") == 2
    same, total = _tflite_exact(q, calib[:4])
    assert same == total > 0
    _same_ir(q, from_onnx(tmp_path / "att.q.onnx", "att"))
    f = np.concatenate([_ort(m).run(None, {"x": x})[0] for x in calib[:8]])
    o = np.concatenate([_ort(onnx.load(tmp_path / "att.q.onnx")).run(None, {"x": x})[0] for x in calib[:8]])
    assert 10 * np.log10((f ** 2).sum() / ((f - o) ** 2).sum()) > 20


def test_a_data_aware_method_plugs_into_the_interface():
    """What the PTQ suite does: register a WeightMethod; it gets each layer's calibration inputs."""
    from edgekiln.quantize.nn.methods import WeightMethod, weight_method
    from edgekiln.quantize.nn.quantizer import QuantConfig, quantize_graph

    seen = {}

    @weight_method("test-data-aware")
    class DataAware(WeightMethod):
        name = "test-data-aware"
        needs_calibration_inputs = True

        def supports(self, config):
            return None if config.bits == 8 else "8-bit weights only (a test method)"

        def quantize(self, layer, config):
            seen[layer.name] = (len(layer.inputs), layer.inputs[0].shape)
            return get_method("rtn").quantize(layer, config)

    m = _small_cnn()
    g = from_onnx(m, "cnn")
    qn = quantize_graph(g, _calib(5), QuantConfig(method="test-data-aware"))
    assert seen == {"conv1": (5, (1, 8, 8, 3)), "dw": (5, (1, 8, 8, 6)), "fc": (5, (1, 12))}
    assert qn.graph.constants["conv1_w"].data.dtype == np.int8
    with pytest.raises(UnsupportedConfigError, match="'test-data-aware' cannot do W4 per-channel: 8-bit weights only"):
        quantize_graph(g, _calib(5), QuantConfig(wbits=4, method="test-data-aware"))
