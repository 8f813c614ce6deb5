"""Int8 golden model of network graphs, bit-exact with TFLite's reference kernels
(tensorflow/lite/kernels/internal/reference/integer_ops/*, reference/softmax.h) as LiteRT
runs them with `OpResolverType.BUILTIN_REF`.

Each kernel reads the scales and zero points the IR carries (per-tensor activations,
per-tensor or per-channel weights) and derives TFLite's fixed-point multipliers from them
exactly as TFLite's Prepare does (`tflite_math`)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.registry import Registry
from edgekiln.ir import Graph, Node, QuantParams, pack_int4, unpack_int4  # noqa: F401 (re-exported)

from . import geometry
from .tflite_math import (calculate_activation_range, exp_on_negative_values, get_reciprocal,
                          multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_smaller_than_one_exp,
                          quantize_multiplier, rounding_divide_by_pot, softmax_params, srdhm)

Kernel = Callable[[Node, list, list, QuantParams], np.ndarray]
_KERNELS: Registry[Kernel] = Registry()
kernel = _KERNELS.register  # @kernel("op", ...)



def _out(acc: np.ndarray, node: Node, qout: QuantParams) -> np.ndarray:
    lo, hi = calculate_activation_range(node.attrs.get("activation", "none"), qout.scale[0], qout.zero_point[0])
    return np.clip(acc, lo, hi).astype(np.int8)


def channel_multipliers(q_in: QuantParams, q_w: QuantParams, q_out: QuantParams, channels: int):
    """PopulateConvolutionQuantizationParams: in_scale * w_scale[c] / out_scale in double."""
    scales = q_w.scale if len(q_w.scale) > 1 else q_w.scale * channels
    pairs = [quantize_multiplier(float(np.float32(q_in.scale[0])) * float(np.float32(s)) / float(np.float32(q_out.scale[0])))
             for s in scales]
    return np.array([m for m, _ in pairs], np.int64), np.array([s for _, s in pairs], np.int64)


def _weights(node: Node, w: np.ndarray) -> np.ndarray:
    """int8 weights; with attr weight_bits = 4 (packed int4 kernels) they must lie in [-8, 7]:
    the arithmetic is int8's, only the storage differs."""
    if node.attrs.get("weight_bits", 8) == 4 and w.size and (w.min() < -8 or w.max() > 7):
        raise UnsupportedModelError(f"node {node.name}: int4 weights outside [-8, 7]")
    return w.astype(np.int64)


def _bias(a: list, channels: int) -> np.ndarray:
    return a[2].astype(np.int64) if len(a) > 2 and a[2] is not None else np.zeros(channels, np.int64)


@kernel("conv")
def _conv(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    x = a[0].astype(np.int64) - q[0].zero_point[0]
    w = _weights(node, a[1])
    acc = geometry.conv_accumulate(x, w, node.attrs) + _bias(a, w.shape[0])
    mult, shift = channel_multipliers(q[0], q[1], qout, w.shape[0])
    return _out(multiply_by_quantized_multiplier(acc, mult, shift) + qout.zero_point[0], node, qout)


@kernel("fully_connected")
def _fc(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    w = _weights(node, a[1]) - q[1].zero_point[0]
    x = a[0].astype(np.int64).reshape(-1, w.shape[1]) - q[0].zero_point[0]
    acc = x @ w.T + _bias(a, w.shape[0])
    if node.attrs.get("keep_num_dims"):
        acc = acc.reshape(a[0].shape[:-1] + (w.shape[0],))
    return _out(fc_requantize(acc, q[0], q[1], qout) + qout.zero_point[0], node, qout)


def fc_scales(q_in: QuantParams, q_w: QuantParams, q_out: QuantParams, channels: int) -> np.ndarray:
    """The double factor per output channel of LiteRT's FULLY_CONNECTED requantization,
    in * w[c] / out, each a double of the float32 scale (the C kernels get these doubles)."""
    scales = np.asarray(q_w.scale if len(q_w.scale) > 1 else q_w.scale * channels, np.float32).astype(np.float64)
    return float(np.float32(q_in.scale[0])) * scales / float(np.float32(q_out.scale[0]))


def fc_requantize(acc: np.ndarray, q_in: QuantParams, q_w: QuantParams, q_out: QuantParams) -> np.ndarray:
    """LiteRT's reference FULLY_CONNECTED requantizes in double, not with a fixed-point
    multiplier (reference_integer_ops::FullyConnected / FullyConnectedPerChannel, the
    overloads taking float scales): round(acc * (in * w[c] / out)), every factor a double
    of the float32 scale, C's round (half away from zero). Checked against LiteRT 2.3.0 on
    1,280 outputs (tests/test_nn_int8_ops.py), where the multiplier form differs in 1."""
    v = acc.astype(np.float64) * fc_scales(q_in, q_w, q_out, acc.shape[-1])
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


@kernel("avg_pool")
def _avg_pool(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    total, count = geometry.pool(a[0].astype(np.int64), node.attrs, "avg")
    half = count // 2
    num = np.where(total > 0, total + half, total - half)
    avg = np.where(num >= 0, num // count, -((-num) // count))  # C division truncates
    return _out(avg, node, qout)


@kernel("max_pool")
def _max_pool(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    return _out(geometry.pool(a[0], node.attrs, "max").astype(np.int64), node, qout)


@kernel("reshape")
def _reshape(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    return a[0].reshape(node.attrs["shape"])


@kernel("add")
def _add(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    return add_sub(node, a, q, qout)


def add_sub(node: Node, a: list, q: list, qout: QuantParams, sign: int = 1) -> np.ndarray:
    """PrepareInt8AddSub + reference_integer_ops::Add (left shift 20); SUB is the same
    kernel with input 2's multiplier negated (sub.cc), `sign` -1."""
    left_shift = 20
    s1, s2, so = (np.float32(q[0].scale[0]), np.float32(q[1].scale[0]), np.float32(qout.scale[0]))
    twice_max = float(np.float32(2) * max(s1, s2))
    m1, e1 = quantize_multiplier(float(s1) / twice_max)
    m2, e2 = quantize_multiplier(float(s2) / twice_max)
    m2 *= sign
    mo, eo = quantize_multiplier(twice_max / float(np.float32(1 << left_shift) * so))
    x1 = (a[0].astype(np.int64) - q[0].zero_point[0]) << left_shift
    x2 = (a[1].astype(np.int64) - q[1].zero_point[0]) << left_shift
    total = (multiply_by_quantized_multiplier_smaller_than_one_exp(x1, m1, e1)
             + multiply_by_quantized_multiplier_smaller_than_one_exp(x2, m2, e2))
    return _out(multiply_by_quantized_multiplier_smaller_than_one_exp(total, mo, eo) + qout.zero_point[0], node, qout)


@kernel("softmax")
def _softmax(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    """reference_ops::Softmax (gemmlowp exp in Q5.26, sums in Q12.19) over the last axis."""
    if node.attrs["axis"] not in (-1, a[0].ndim - 1):
        raise UnsupportedModelError(f"node {node.name}: int8 softmax runs over the last axis only")
    mult, left_shift, diff_min = softmax_params(float(node.attrs.get("beta", 1.0)), float(np.float32(q[0].scale[0])))
    x = a[0].astype(np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    keep = diff >= diff_min
    scaled = srdhm(diff * (1 << left_shift), mult)
    exps = exp_on_negative_values(np.where(keep, scaled, 0))
    sum_of_exps = np.where(keep, rounding_divide_by_pot(exps, 12), 0).sum(axis=-1, keepdims=True)
    scale, bits_over_unit = get_reciprocal(sum_of_exps, 12)
    out = rounding_divide_by_pot(srdhm(scale, exps), bits_over_unit + 31 - 8) - 128
    return np.where(keep, np.clip(out, -128, 127), -128).astype(np.int8)


@kernel("mfcc")
def _mfcc(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    """int16 audio -> the int8 features (quantize/nn/mfcc_fixed.py, ek_mfcc_s8). The MFCC divides
    each clip by its maximum, so the audio's scale does not matter; its zero point must be 0."""
    from .mfcc_fixed import mfcc_s32, q16_to_s8

    if q[0] is not None and q[0].zero_point[0] != 0:
        raise UnsupportedModelError(f"node {node.name}: int16 audio with zero point {q[0].zero_point[0]} (0 only)")
    f = q16_to_s8(mfcc_s32(a[0].reshape(-1).astype(np.int16), node.attrs), qout.scale[0], qout.zero_point[0])
    return f.reshape((1,) + f.shape + (1,))


def supported_ops() -> list[str]:
    _more()
    return _KERNELS.names()


def _more() -> None:
    from . import int8_ops  # noqa: F401  (registers the kernels of the other ONNX ops)


def run(graph: Graph, inputs: dict[str, np.ndarray], keep_all: bool = False) -> dict[str, np.ndarray]:
    """Int8 outputs of `graph` for one sample of int8 inputs; with `keep_all`, every tensor."""
    values: dict[str, np.ndarray] = {}
    quant: dict[str, QuantParams | None] = {v.name: v.quant for v in graph.all_values()}
    for v in graph.inputs:
        values[v.name] = np.asarray(inputs[v.name]).astype(v.dtype if v.dtype == "int16" else np.int8).reshape(v.dims)
    for name, c in graph.constants.items():
        values[name], quant[name] = c.data, c.quant
    _more()
    for node in graph.nodes:
        fn = _KERNELS.get(node.op)
        if fn is None:
            raise UnsupportedModelError(f"node {node.name}: op {node.op!r} has no int8 reference kernel")
        qout = quant.get(node.outputs[0])
        if qout is None:
            raise UnsupportedModelError(f"node {node.name}: output {node.outputs[0]} has no quantization")
        args = [values[i] if i else None for i in node.inputs]
        values[node.outputs[0]] = fn(node, args, [quant.get(i) if i else None for i in node.inputs], qout)
    if keep_all:
        return {k: v for k, v in values.items() if k not in graph.constants}
    return {v.name: values[v.name] for v in graph.outputs}
