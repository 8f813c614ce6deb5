"""Int8 golden kernels vs LiteRT's reference kernels (BUILTIN_REF), bit for bit, on single-op
.tflite models written by tests/tflite_builder.py: every int8 input value, several seeded
scale/zero-point draws per op, fused activations and broadcasting where TFLite has them."""
from __future__ import annotations

import numpy as np
import pytest

from edgekiln.ir import Graph, Node, QuantParams, ValueInfo
from edgekiln.quantize.nn import int8_reference

from tflite_builder import TfliteWriter, run_reference

SHAPE = (1, 8, 8, 4)  # 256 elements: every int8 value once


def _every_value(rng, shape=SHAPE) -> np.ndarray:
    n = int(np.prod(shape))
    return rng.permutation(np.resize(np.arange(-128, 128), n)).astype(np.int8).reshape(shape)


def _draw(rng, lo=-3.0, hi=1.0) -> tuple[float, int]:
    return float(np.float32(10 ** rng.uniform(lo, hi))), int(rng.integers(-128, 128))


def _ours(op: str, ins: list[tuple[str, np.ndarray, tuple]], out: tuple, attrs: dict) -> np.ndarray:
    inputs = [ValueInfo.tensor(n, a.shape, "int8", QuantParams([s], [z])) for n, a, (s, z) in ins]
    y = ValueInfo.tensor("y", out[0], "int8", QuantParams([out[1]], [out[2]]))
    g = Graph("t", "network", inputs, [y], [Node(op, "n", [v.name for v in inputs], ["y"], attrs)])
    return int8_reference.run(g, {n: a for n, a, _ in ins})["y"]


def _litert(op: str, ins: list[tuple[str, np.ndarray, tuple]], out: tuple, extra=(), **options) -> np.ndarray:
    w = TfliteWriter()
    idx = [w.tensor(n, a.shape, "int8", s, z) for n, a, (s, z) in ins]
    consts = [w.tensor(f"c{i}", np.shape(c), dtype, data=c) for i, (c, dtype) in enumerate(extra)]
    y = w.tensor("y", out[0], "int8", out[1], out[2])
    w.op(op, idx + consts, [y], **options)
    return run_reference(w.finish(idx, [y]), dict(zip(idx, [a for _, a, _ in ins])))[y]


def _compare(tfl_op: str, ir_op: str, ins, out, attrs=None, extra=(), **options) -> None:
    want = _litert(tfl_op, ins, out, extra, **options)
    got = _ours(ir_op, ins, out, attrs or {})
    assert got.dtype == np.int8 and got.shape == want.shape
    bad = np.flatnonzero(got.astype(np.int32) != want)
    assert bad.size == 0, f"{tfl_op}: {bad.size} of {want.size} differ, first at {bad[0]}: ours {got.ravel()[bad[0]]} vs {want.ravel()[bad[0]]}"


BINARY = [("ADD", "add"), ("SUB", "sub"), ("MUL", "mul")]


@pytest.mark.parametrize("tfl_op,ir_op", BINARY)
@pytest.mark.parametrize("seed", range(4))
def test_binary_ops_bit_exact(tfl_op, ir_op, seed):
    rng = np.random.default_rng(100 + seed)
    act = [0, 1, 3][seed % 3]  # none, relu, relu6
    shape2 = SHAPE if seed % 2 == 0 else (1, 1, 1, SHAPE[-1])  # broadcasting on odd seeds
    x1, x2 = _every_value(rng), _every_value(rng, shape2)
    out = (SHAPE, *_draw(rng, -2, 0))
    ins = [("a", x1, _draw(rng, -2, 0)), ("b", x2, _draw(rng, -2, 0))]
    _compare(tfl_op, ir_op, ins, out, {"activation": ["none", "relu", "none", "relu6"][act]},
             fusedActivationFunction=act)


@pytest.mark.parametrize("seed", range(6))
def test_logistic_and_tanh_tables_bit_exact(seed):
    rng = np.random.default_rng(200 + seed)
    x = _every_value(rng)
    qin = _draw(rng, -2.5, 0)
    _compare("LOGISTIC", "sigmoid", [("x", x, qin)], (SHAPE, 1 / 256, -128))
    _compare("TANH", "tanh", [("x", x, qin)], (SHAPE, 1 / 128, 0))


@pytest.mark.parametrize("seed", range(6))
def test_hard_swish_bit_exact(seed):
    rng = np.random.default_rng(300 + seed)
    qin = _draw(rng, -2.5, -0.5)
    out = (SHAPE, float(np.float32(qin[0] * rng.uniform(0.3, 1.5))), int(rng.integers(-128, 0)))
    _compare("HARD_SWISH", "hard_swish", [("x", _every_value(rng), qin)], out)


@pytest.mark.parametrize("alpha", [0.01, 0.2, 0.5])
def test_leaky_relu_bit_exact(alpha):
    rng = np.random.default_rng(int(alpha * 1000))
    out = (SHAPE, *_draw(rng, -2, 0))
    _compare("LEAKY_RELU", "leaky_relu", [("x", _every_value(rng), _draw(rng, -2, 0))], out, {"alpha": alpha},
             alpha=alpha)


@pytest.mark.parametrize("tfl_op,attrs", [("RELU", {}), ("RELU6", {"min": 0.0, "max": 6.0}),
                                          ("RELU_N1_TO_1", {"min": -1.0, "max": 1.0})])
@pytest.mark.parametrize("seed", range(3))
def test_relu_family_as_requantizing_clamps(tfl_op, attrs, seed):
    rng = np.random.default_rng(400 + seed)
    qin = _draw(rng, -2, -0.5)
    same = seed == 0  # the shared-scale case is a pure clamp
    out = (SHAPE, *(qin if same else _draw(rng, -2, -0.5)))
    _compare(tfl_op, "relu" if tfl_op == "RELU" else "clip", [("x", _every_value(rng), qin)], out, attrs)


def test_pad_concat_transpose_move_bytes_with_shared_quantization():
    rng = np.random.default_rng(500)
    q = _draw(rng)
    x = _every_value(rng)
    pads = np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32)
    out_shape = (1, 11, 9, 4)
    ir_pads = [int(p) for p in pads[:, 0]] + [int(p) for p in pads[:, 1]]
    _compare("PAD", "pad", [("x", x, q)], (out_shape, *q), {"pads": ir_pads}, extra=[(pads, "int32")])
    y = _every_value(rng, (1, 8, 8, 2))
    _compare("CONCATENATION", "concat", [("a", x, q), ("b", y, q)], ((1, 8, 8, 6), *q), {"axis": 3}, axis=3)
    z = _every_value(rng, (1, 3, 8, 4))
    _compare("CONCATENATION", "concat", [("a", x, q), ("b", z, q)], ((1, 11, 8, 4), *q), {"axis": 1}, axis=1)
    perm = np.array([0, 3, 1, 2], np.int32)
    _compare("TRANSPOSE", "transpose", [("x", x, q)], ((1, 4, 8, 8), *q), {"perm": [0, 3, 1, 2]},
             extra=[(perm, "int32")])


@pytest.mark.parametrize("seed", range(3))
def test_global_average_pool_bit_exact(seed):
    """GlobalAveragePool / mean over H, W is the IR's avg_pool over the whole map."""
    rng = np.random.default_rng(600 + seed)
    shape = [(1, 5, 5, 16), (1, 25, 5, 8), (1, 3, 7, 12)][seed]
    x = rng.integers(-128, 128, shape).astype(np.int8)
    q = _draw(rng)
    attrs = {"kernel": list(shape[1:3]), "strides": list(shape[1:3]), "pads": [0, 0, 0, 0], "count_include_pad": False}
    _compare("AVERAGE_POOL_2D", "avg_pool", [("x", x, q)], ((1, 1, 1, shape[3]), *q), attrs,
             padding=1, strideH=shape[1], strideW=shape[2], filterHeight=shape[1], filterWidth=shape[2])


@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected_requantizes_as_litert_reference(per_channel):
    """LiteRT's reference FULLY_CONNECTED rounds acc * (in * w / out) in double; the fixed-point
    multiplier of the other kernels differs in about 1 output of 640 here."""
    rng = np.random.default_rng(700 + per_channel)
    for trial in range(20):
        k, n = 64, 32
        x = rng.integers(-128, 128, (1, k)).astype(np.int8)
        w = rng.integers(-127, 128, (n, k)).astype(np.int8)
        qin, qout = _draw(rng, -2, 0), _draw(rng, -1, 1)
        sw = (10 ** rng.uniform(-3, -1, n if per_channel else 1)).astype(np.float32)
        b = rng.integers(-5000, 5000, n).astype(np.int32)
        wr = TfliteWriter()
        xi = wr.tensor("x", (1, k), "int8", *qin)
        wi = wr.tensor("w", (n, k), "int8", sw, 0, data=w)
        bi = wr.tensor("b", (n,), "int32", (np.float32(qin[0]) * sw).astype(np.float32), 0, data=b)
        yi = wr.tensor("y", (1, n), "int8", *qout)
        wr.op("FULLY_CONNECTED", [xi, wi, bi], [yi])
        want = run_reference(wr.finish([xi], [yi]), {xi: x})[yi]
        g = Graph("t", "network", [ValueInfo.tensor("x", (1, k), "int8", QuantParams([qin[0]], [qin[1]]))],
                  [ValueInfo.tensor("y", (1, n), "int8", QuantParams([qout[0]], [qout[1]]))],
                  [Node("fully_connected", "fc", ["x", "w", "b"], ["y"], {})])
        from edgekiln.ir import Constant

        g.constants = {"w": Constant("w", w, QuantParams(list(sw), [0] * sw.size, 0 if per_channel else None)),
                       "b": Constant("b", b, None)}
        assert np.array_equal(int8_reference.run(g, {"x": x})["y"], want), trial


@pytest.mark.parametrize("seed", range(4))
def test_batch_matmul_of_two_activations_bit_exact(seed):
    rng = np.random.default_rng(800 + seed)
    sa, sb = [((1, 4, 6, 8), (1, 4, 8, 5)), ((2, 6, 16), (2, 16, 3)), ((3, 5, 7), (3, 7, 4)), ((1, 1, 9, 32), (1, 1, 32, 9))][seed]
    x, y = rng.integers(-128, 128, sa).astype(np.int8), rng.integers(-128, 128, sb).astype(np.int8)
    out_shape = sa[:-1] + sb[-1:]
    _compare("BATCH_MATMUL", "matmul", [("a", x, _draw(rng, -2, 0)), ("b", y, _draw(rng, -2, 0))],
             (out_shape, *_draw(rng, 0, 2)))
