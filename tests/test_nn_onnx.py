"""ONNX frontend + float32 golden model vs onnxruntime (within 1e-5) on small graphs built
here, one or more per op (seeded random weights), on the shared KWS DS-CNN, and malformed
or unsafe files refused with one clear error."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekiln.errors import InputError, ModelLoadError, UnsupportedModelError
from edgekiln.frontends.onnx import from_onnx
from edgekiln.ir import Graph
from edgekiln.quantize.nn import float_reference

from nn_fixtures import kws_dir, kws_samples

RNG = np.random.default_rng(11)


def _init(name, shape, scale=0.5):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _model(nodes, x_shape, y_name="y", inits=(), opset=13, extra_inputs=()):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in extra_inputs]
    g = helper.make_graph(nodes, "t", inputs, [helper.make_tensor_value_info(y_name, TensorProto.FLOAT, None)],
                          initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _ort(m, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)[0]


def _check(m, feeds, atol=1e-5):
    want = _ort(m, feeds)
    g = Graph.from_json(from_onnx(m, "t").to_json())
    ins = {v.name: feeds[k] for v, k in zip(g.inputs, feeds)}
    got = float_reference.run(g, ins)[g.outputs[0].name]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=atol, rtol=1e-5)
    return g


def _x(shape):
    return {"x": RNG.standard_normal(shape).astype(np.float32)}


CONV_CASES = {
    "standard_2d": ((1, 3, 9, 8), (6, 3, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 1])),
    "depthwise_2d": ((1, 4, 7, 7), (4, 1, 3, 3), dict(group=4, pads=[1, 1, 1, 1])),
    "depthwise_multiplier": ((1, 3, 6, 6), (6, 1, 3, 3), dict(group=3)),
    "grouped_2d": ((1, 6, 8, 5), (4, 3, 3, 2), dict(group=2, dilations=[2, 1], pads=[0, 1, 2, 0])),
    "same_upper": ((1, 2, 7, 6), (3, 2, 4, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    "conv_1d": ((1, 3, 16), (5, 3, 4), dict(pads=[1, 2], strides=[2])),
    "grouped_1d": ((1, 4, 10), (4, 2, 3), dict(group=2, dilations=[2])),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv(case):
    xs, ws, at = CONV_CASES[case]
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="c", **at)
    g = _check(_model([node], xs, inits=[_init("w", ws), _init("b", (ws[0],))]), _x(xs))
    assert g.nodes[-2 if g.nodes[-1].op != "conv" else -1].op in ("conv", "transpose", "reshape")


def test_batch_norm_folds_into_conv_and_stands_alone_after_relu():
    c = helper.make_node("Conv", ["x", "w"], ["c"], name="c", pads=[1, 1, 1, 1])
    bn = helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["y"], name="bn", epsilon=1e-3)
    inits = [_init("w", (4, 2, 3, 3)), _init("s", (4,)), _init("bb", (4,)), _init("m", (4,)),
             numpy_helper.from_array(np.abs(RNG.standard_normal(4)).astype(np.float32) + 0.1, "v")]
    g = _check(_model([c, bn], (1, 2, 6, 6), inits=inits), _x((1, 2, 6, 6)))
    assert "mul" not in g.ops()
    r = helper.make_node("Relu", ["c"], ["r"], name="r")
    bn2 = helper.make_node("BatchNormalization", ["r", "s", "bb", "m", "v"], ["y"], name="bn")
    g = _check(_model([c, r, bn2], (1, 2, 6, 6), inits=inits), _x((1, 2, 6, 6)))
    assert {"mul", "add"} <= set(g.ops())


def test_gemm_and_matmul():
    gm = helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="g", transB=1, alpha=0.5, beta=2.0)
    _check(_model([gm], (1, 7), inits=[_init("w", (3, 7)), _init("b", (3,))]), _x((1, 7)))
    mm = helper.make_node("MatMul", ["x", "w"], ["m"], name="m")
    add = helper.make_node("Add", ["m", "b"], ["y"], name="a")
    g = _check(_model([mm, add], (1, 2, 5), inits=[_init("w", (5, 4)), _init("b", (4,))]), _x((1, 2, 5)))
    assert g.ops() == ["fully_connected"]
    mm2 = helper.make_node("MatMul", ["x", "z"], ["y"], name="mm")
    m = _model([mm2], (1, 3, 4), extra_inputs=[("z", (1, 4, 2))])
    _check(m, {"x": RNG.standard_normal((1, 3, 4)).astype(np.float32), "z": RNG.standard_normal((1, 4, 2)).astype(np.float32)})


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
def test_binary_with_constants_in_channel_last_layout(op):
    c = helper.make_node("Conv", ["x", "w"], ["c"], name="c")
    e = helper.make_node(op, ["k", "c"], ["y"], name="e")
    _check(_model([c, e], (1, 2, 5, 4), inits=[_init("w", (3, 2, 1, 1)), _init("k", (3, 1, 1))]), _x((1, 2, 5, 4)))
    e2 = helper.make_node(op, ["c", "c"], ["y"], name="e")
    _check(_model([c, e2], (1, 2, 5, 4), inits=[_init("w", (3, 2, 1, 1))]), _x((1, 2, 5, 4)))


@pytest.mark.parametrize("op,attrs,extra", [
    ("Relu", {}, []), ("Sigmoid", {}, []), ("Tanh", {}, []), ("HardSwish", {}, []),
    ("LeakyRelu", {"alpha": 0.2}, []), ("Clip", {}, ["lo", "hi"])])
def test_activations(op, attrs, extra):
    inits = [numpy_helper.from_array(np.float32(0.0), "lo"), numpy_helper.from_array(np.float32(6.0), "hi")] if extra else []
    node = helper.make_node(op, ["x", *extra], ["y"], name="a", **attrs)
    _check(_model([node], (1, 3, 4, 4), inits=inits, opset=14), {"x": (RNG.standard_normal((1, 3, 4, 4)) * 5).astype(np.float32)})


@pytest.mark.parametrize("op,attrs,xs", [
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), (1, 3, 7, 6)),
    ("AveragePool", dict(kernel_shape=[3, 2], pads=[1, 0, 1, 1], count_include_pad=1), (1, 2, 5, 5)),
    ("MaxPool", dict(kernel_shape=[2, 3], strides=[2, 1], pads=[0, 1, 1, 1]), (1, 3, 6, 7)),
    ("MaxPool", dict(kernel_shape=[3], strides=[2]), (1, 4, 11)),
    ("GlobalAveragePool", {}, (1, 5, 4, 3))])
def test_pools(op, attrs, xs):
    node = helper.make_node(op, ["x"], ["y"], name="p", **attrs)
    _check(_model([node], xs), _x(xs))


def test_shape_ops_after_a_channel_last_conv():
    c = helper.make_node("Conv", ["x", "w"], ["c"], name="c")
    cases = [
        [helper.make_node("Flatten", ["c"], ["y"], name="f")],
        [helper.make_node("Reshape", ["c", "s"], ["y"], name="r")],
        [helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1], name="t"),
         helper.make_node("Relu", ["t"], ["y"], name="r")],
        [helper.make_node("Unsqueeze", ["c", "ax"], ["u"], name="u"), helper.make_node("Squeeze", ["u", "ax"], ["y"], name="q")],
        [helper.make_node("Concat", ["c", "c"], ["y"], axis=1, name="cat")],
        [helper.make_node("Pad", ["c", "pads", "pv"], ["y"], name="pad")],
        [helper.make_node("Softmax", ["c"], ["y"], axis=1, name="sm")],
    ]
    inits = [_init("w", (3, 2, 1, 1)), numpy_helper.from_array(np.array([1, -1], np.int64), "s"),
             numpy_helper.from_array(np.array([0], np.int64), "ax"),
             numpy_helper.from_array(np.array([0, 1, 0, 2, 0, 0, 1, 1], np.int64), "pads"),
             numpy_helper.from_array(np.float32(0.5), "pv")]
    for nodes in cases:
        _check(_model([c, *nodes], (1, 2, 4, 3), inits=inits), _x((1, 2, 4, 3)))


def test_transpose_is_folded_into_the_layout():
    c = helper.make_node("Conv", ["x", "w"], ["c"], name="c")
    t = helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1], name="t")
    f = helper.make_node("Flatten", ["t"], ["y"], name="f")
    g = _check(_model([c, t, f], (1, 2, 4, 3), inits=[_init("w", (3, 2, 1, 1))]), _x((1, 2, 4, 3)))
    # the NCHW input moves once into the conv's NHWC; the Transpose to NHWC then moves nothing
    assert [n.op for n in g.nodes].count("transpose") == 1 and g.nodes[0].op == "transpose"


def test_softmax_opset_11_flattens_trailing_axes():
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1, name="sm")
    _check(_model([node], (1, 3, 4), opset=11), _x((1, 3, 4)))


def test_dynamic_batch_is_fixed_to_one_and_other_dynamic_dims_refused():
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    g = from_onnx(_model([node], ("N", 3)))
    assert g.inputs[0].shape == (1, 3)
    with pytest.raises(InputError, match="dimension 1 is dynamic"):
        from_onnx(_model([node], (1, "T")))


def test_unsupported_ops_listed_with_node_names_in_one_error():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"), helper.make_node("Erf", ["a"], ["b"], name="erf1"),
             helper.make_node("LSTMish", ["b"], ["y"], name="odd", domain="custom.x")]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("custom.x", 1)])
    with pytest.raises(UnsupportedModelError, match=r"Erf \(erf1\), LSTMish \(odd\)"):
        from_onnx(m)


def test_opset_outside_11_21_refused():
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    with pytest.raises(UnsupportedModelError, match="opset 9"):
        from_onnx(_model([node], (1, 3), opset=9))


def test_malformed_and_unsafe_onnx_files(tmp_path):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="m")
    m = _model([node], (1, 4), inits=[_init("w", (4, 3))])
    good = m.SerializeToString()
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage\xff\xff\xff" * 10)
    (tmp_path / "trunc.onnx").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.onnx").write_bytes(b"")
    for name in ("junk.onnx", "trunc.onnx", "empty.onnx"):
        with pytest.raises(ModelLoadError):
            from_onnx(tmp_path / name)
    bad = onnx.ModelProto()
    bad.CopyFrom(m)
    bad.graph.initializer[0].dims[:] = [4000, 3000]  # claims 48 MB, holds 48 bytes
    (tmp_path / "dims.onnx").write_bytes(bad.SerializeToString())
    with pytest.raises(ModelLoadError, match="needs 48000000 bytes of data, the file holds 48"):
        from_onnx(tmp_path / "dims.onnx")
    # external data: inside the folder works, outside (.. or absolute) is refused
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    (tmp_path / "sub").mkdir()
    (tmp_path / "w.bin").write_bytes(w.tobytes())
    (tmp_path / "sub" / "w.bin").write_bytes(w.tobytes())
    for loc, ok in (("w.bin", True), ("../w.bin", False), (str(tmp_path / "w.bin"), False)):
        ext = onnx.ModelProto()
        ext.CopyFrom(m)
        t = ext.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", loc), ("offset", "0"), ("length", str(w.nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        p = tmp_path / "sub" / "ext.onnx"
        p.write_bytes(ext.SerializeToString())
        if ok:
            g = from_onnx(p)
            np.testing.assert_array_equal(g.constants[g.nodes[0].inputs[1]].data, w.T)
        else:
            with pytest.raises(ModelLoadError, match="outside the model's folder"):
                from_onnx(p)


def test_kws_float_matches_onnxruntime_and_stored_probs():
    path = kws_dir() / "kws_dscnn_f32.onnx"
    m = onnx.load(str(path))
    g = from_onnx(path, "kws")
    assert g.meta["metadata"]["labels"].split(",")[0] == "down"
    d = kws_samples()
    worst = 0.0
    for x, probs in zip(d["x"], d["probs"]):
        want = _ort(m, {"input_1": x[None]})
        got = float_reference.run(g, {g.inputs[0].name: x[None]})[g.outputs[0].name]
        worst = max(worst, float(np.abs(got - want).max()))
        np.testing.assert_allclose(got[0], probs, atol=1e-4)
    assert worst <= 1e-5
