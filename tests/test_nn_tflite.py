"""TFLite int8 frontend + int8 golden model: bit-exact with LiteRT's reference kernels
(OpResolverType.BUILTIN_REF), outputs and every intermediate tensor; malformed files refused."""
from __future__ import annotations

import flatbuffers
import numpy as np
import pytest

from edgekiln.errors import ModelLoadError, UnsupportedModelError
from edgekiln.frontends.tflite import from_tflite
from edgekiln.ir import Graph
from edgekiln.quantize.nn import int8_reference

from nn_fixtures import kws_dir, kws_samples, litert_ref


def _quantize_input(it, x):
    d = it.get_input_details()[0]
    s, z = d["quantization"]
    return np.clip(np.round(x / np.float32(s) + z), -128, 127).astype(np.int8)[None]


def test_kws_int8_is_bit_exact_with_litert_reference_kernels_on_every_tensor():
    path = kws_dir() / "kws_ref_int8.tflite"
    g = from_tflite(path, "kws")
    assert [n.op for n in g.nodes].count("conv") == 9 and g.inputs[0].quant.zero_point == [83]
    it = litert_ref(path)
    xs = kws_samples()["x"]
    exact_outputs, exact_tensors, tensors = 0, 0, 0
    for x in xs:
        q = _quantize_input(it, x)
        it.set_tensor(it.get_input_details()[0]["index"], q)
        it.invoke()
        ours = int8_reference.run(g, {"input_1": q}, keep_all=True)
        for name, index in g.meta["tensor_index"].items():
            tensors += 1
            exact_tensors += np.array_equal(it.get_tensor(index), ours[name])
        exact_outputs += np.array_equal(it.get_tensor(it.get_output_details()[0]["index"]), ours["Identity"])
    assert exact_outputs == len(xs) == 20
    assert exact_tensors == tensors == 20 * 14


def test_kws_graph_round_trips_through_json():
    g = from_tflite(kws_dir() / "kws_ref_int8.tflite", "kws")
    g2 = Graph.from_json(g.to_json())
    dw = g2.constants[g2.nodes[1].inputs[1]]
    assert dw.data.shape == (64, 3, 3, 1) and dw.quant.axis == 0 and len(dw.quant.scale) == 64
    q = np.zeros((1, 49, 10, 1), np.int8)
    assert np.array_equal(int8_reference.run(g, {"input_1": q})["Identity"], int8_reference.run(g2, {"input_1": q})["Identity"])


def _packed(mutate) -> bytes:
    from ai_edge_litert import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf((kws_dir() / "kws_ref_int8.tflite").read_bytes(), 0)
    mutate(m)
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_malformed_tflite_files_are_one_clear_error(tmp_path):
    good = (kws_dir() / "kws_ref_int8.tflite").read_bytes()
    cases = {
        "truncated.tflite": (good[: len(good) // 3], "malformed|past the end"),
        "noid.tflite": (good[:4] + b"XXXX" + good[8:], "TFL3"),
        "tiny.tflite": (b"TFL3", "not a TFLite model"),
        "junk.tflite": (good[:8] + bytes(range(256)) * 4, "malformed|names|past"),
    }

    def grow_weight(m):  # a 64x10x4x1 filter declared 64x10x4x1000: 2.5 MB the file does not hold
        m.subgraphs[0].tensors[17].shape = np.array([64, 10, 4, 1000], np.int32)

    def huge_activation(m):
        m.subgraphs[0].tensors[22].shape = np.array([1 << 20, 1 << 20, 1, 64], np.int32)

    cases["shape.tflite"] = (_packed(grow_weight), "needs 2560000 bytes, its buffer has 2560")
    cases["huge.tflite"] = (_packed(huge_activation), "would need")
    for name, (data, pattern) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ModelLoadError, match=pattern):
            from_tflite(p)
    with pytest.raises(ModelLoadError, match="cannot read"):
        from_tflite(tmp_path / "absent.tflite")


def test_unsupported_ops_are_listed_together_before_conversion(tmp_path):
    from ai_edge_litert import schema_py_generated as schema

    def rename(m):
        swap = {schema.BuiltinOperator.DEPTHWISE_CONV_2D: schema.BuiltinOperator.BATCH_MATMUL,
                schema.BuiltinOperator.SOFTMAX: schema.BuiltinOperator.LOGISTIC}
        for code in m.operatorCodes:  # old files keep the op in deprecatedBuiltinCode (< 127)
            op = max(code.builtinCode, code.deprecatedBuiltinCode)
            if op in swap:
                code.builtinCode = swap[op]
                code.deprecatedBuiltinCode = min(swap[op], 127)

    p = tmp_path / "ops.tflite"
    p.write_bytes(_packed(rename))
    with pytest.raises(UnsupportedModelError) as e:
        from_tflite(p)
    msg = str(e.value)
    assert "BATCH_MATMUL (operator 1)" in msg and "BATCH_MATMUL (operator 7)" in msg and "LOGISTIC (operator 12)" in msg


def test_max_pool_int8_is_bit_exact_with_litert(tmp_path):
    """The KWS model with its average pool swapped for a max pool (same options table)."""
    from ai_edge_litert import schema_py_generated as schema

    def swap(m):
        for code in m.operatorCodes:
            if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.AVERAGE_POOL_2D:
                code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.MAX_POOL_2D

    p = tmp_path / "maxpool.tflite"
    p.write_bytes(_packed(swap))
    g = from_tflite(p)
    assert "max_pool" in g.ops()
    it = litert_ref(p)
    for x in kws_samples()["x"][:6]:
        q = _quantize_input(it, x)
        it.set_tensor(it.get_input_details()[0]["index"], q)
        it.invoke()
        ours = int8_reference.run(g, {"input_1": q}, keep_all=True)
        for name, index in g.meta["tensor_index"].items():
            assert np.array_equal(it.get_tensor(index), ours[name]), name
