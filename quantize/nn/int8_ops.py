"""More int8 golden kernels, bit-exact with TFLite's reference kernels (LiteRT's
`BUILTIN_REF`): the ONNX frontend's ops beyond the KWS network.

| IR op | TFLite kernel (tensorflow/lite/kernels/...) | arithmetic |
|---|---|---|
| `sub` | sub.cc (PrepareGeneralSubOp) | ADD's with input 2's multiplier negated |
| `mul` | mul.cc, reference_integer_ops::Mul | (x1+o1)(x2+o2) * M(s1 s2 / so) + zo |
| `sigmoid` | activations.cc LOGISTIC | 256-entry table of 1/(1+exp(-x)) in float32; output 1/256, -128 |
| `tanh` | activations.cc TANH | 256-entry table of tanh in float32; output 1/128, 0 |
| `hard_swish` | reference_ops::HardSwish | int16 fixed point (`_hard_swish` below) |
| `leaky_relu` | reference_ops::QuantizeLeakyRelu | identity / alpha multiplier by sign |
| `relu`, `clip` | activations.cc QuantizedReluX | requantize by M(si/so), clamp to the bounds |
| `pad` | pad.cc | pads with the quantized pad value (the zero point for 0.0) |
| `concat` | concatenation.cc | bytes copied where an input shares the output's scale and zero point, else QUANTIZE's requantization first |
| `transpose` | transpose.cc | moves bytes only |
| `matmul` | batch_matmul.cc | (x + o1)(y + o2) summed, * M(s1 s2 / so) + zo |

Tables are computed as TFLite's PopulateLookupTable does (float32 arithmetic, std::round),
with exp/tanh evaluated in float64 and rounded to float32 (glibc's expf is correctly rounded)."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Node, QuantParams

from .int8_reference import _out, add_sub, kernel
from .tflite_math import INT32_MAX, multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot, tflite_round

f32 = np.float32


@kernel("sub")
def _sub(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    return add_sub(node, a, q, qout, sign=-1)


def mul_multiplier(q1: QuantParams, q2: QuantParams, qout: QuantParams) -> tuple[int, int]:
    """mul.cc's Prepare: QuantizeMultiplier(s1 * s2 / s_out), the product and quotient in float32."""
    return quantize_multiplier(float(f32(f32(q1.scale[0]) * f32(q2.scale[0])) / f32(qout.scale[0])))


@kernel("mul")
def _mul(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    m, s = mul_multiplier(q[0], q[1], qout)
    prod = (a[0].astype(np.int64) - q[0].zero_point[0]) * (a[1].astype(np.int64) - q[1].zero_point[0])
    return _out(multiply_by_quantized_multiplier(prod, m, s) + qout.zero_point[0], node, qout)


def _table(qin: QuantParams, qout: QuantParams, fn) -> np.ndarray:
    """PopulateLookupTable<int8_t>: out[v] for v = -128..127."""
    v = np.arange(-128, 128, dtype=np.int64)
    deq = f32(qin.scale[0]) * (v - qin.zero_point[0]).astype(f32)
    transformed = fn(deq)
    inverse = f32(1) / f32(qout.scale[0])
    scaled = (transformed * inverse).astype(np.float64)
    rescaled = np.where(scaled >= 0, np.floor(scaled + 0.5), -np.floor(-scaled + 0.5))  # std::round
    return np.clip(rescaled.astype(np.int64) + qout.zero_point[0], -128, 127)


def _sigmoid32(x: np.ndarray) -> np.ndarray:
    e = np.exp(-x.astype(np.float64)).astype(f32)
    return f32(1) / (f32(1) + e)


def _tanh32(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(f32)


def _need_output(node: Node, qout: QuantParams, scale: float, zero_point: int) -> None:
    if f32(qout.scale[0]) != f32(scale) or qout.zero_point[0] != zero_point:
        raise UnsupportedModelError(f"node {node.name}: int8 {node.op} needs output scale {scale} and zero point "
                                    f"{zero_point} (TFLite's rule), got {qout.scale[0]} / {qout.zero_point[0]}")


@kernel("sigmoid", "tanh")
def _lut(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    if node.op == "sigmoid":
        _need_output(node, qout, 1 / 256, -128)
        table = _table(q[0], qout, _sigmoid32)
    else:
        _need_output(node, qout, 1 / 128, 0)
        table = _table(q[0], qout, _tanh32)
    return table[a[0].astype(np.int64) + 128].astype(np.int8)


# --- hard_swish: reference_ops::HardSwish on int16 fixed point --------------------------------
def _sat16(x):
    return np.clip(x, -32768, 32767)


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    num = ab + nudge
    high = np.where(num >= 0, num // (1 << 15), -((-num) // (1 << 15)))
    return np.where((a == -32768) & (b == -32768), 32767, high)


def _sdhm16(a, b):
    """SaturatingDoublingHighMul (rounding toward zero)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    high = np.where(ab >= 0, ab // (1 << 15), -((-ab) // (1 << 15)))
    return np.where((a == -32768) & (b == -32768), 32767, high)


def _downscale16(m32: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    return 32767 if m32 >= INT32_MAX - (1 << 15) else (m32 + (1 << 15)) >> 16


def hard_swish_params(qin: QuantParams, qout: QuantParams) -> dict:
    """HardSwishPrepare (float32 scales, as TFLite)."""
    hires = f32(1.0 / 128.0) * f32(qin.scale[0])
    out_m, out_e = quantize_multiplier(float(hires / f32(qout.scale[0])))
    rel_m, rel_e = quantize_multiplier(float(hires / f32(3.0 / 32768.0)))
    if out_e > 0:
        raise UnsupportedModelError(f"int8 hard_swish: output scale {qout.scale[0]} too small for input scale {qin.scale[0]}")
    return {"output_multiplier": _downscale16(out_m), "output_exponent": out_e,
            "reluish_multiplier": _downscale16(rel_m), "reluish_exponent": rel_e}


@kernel("hard_swish")
def _hard_swish(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    p = hard_swish_params(q[0], qout)
    x = a[0].astype(np.int64) - q[0].zero_point[0]
    hires = x * (1 << 7)
    preshift = _srdhm16(hires, p["output_multiplier"])
    r = hires
    e = p["reluish_exponent"]
    if e > 0:
        r = _sat16(r * (1 << (e - 1)))
    r = _srdhm16(r, p["reluish_multiplier"])
    if e > 0:
        r = _sat16(r * 2)
    if e < 0:
        r = rounding_divide_by_pot(r, -e)
    r = (r + (1 << 15)) >> 1
    out = rounding_divide_by_pot(_sdhm16(r, preshift), -p["output_exponent"]) + qout.zero_point[0]
    return np.clip(out, -128, 127).astype(np.int8)


@kernel("leaky_relu")
def _leaky_relu(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    si, so = f32(q[0].scale[0]), f32(qout.scale[0])
    m_a, s_a = quantize_multiplier(float(si * f32(node.attrs["alpha"]) / so))
    m_i, s_i = quantize_multiplier(float(si / so))
    x = a[0].astype(np.int64) - q[0].zero_point[0]
    y = np.where(x >= 0, multiply_by_quantized_multiplier(x, m_i, s_i), multiply_by_quantized_multiplier(x, m_a, s_a))
    return np.clip(y + qout.zero_point[0], -128, 127).astype(np.int8)


def relu_bounds(node: Node) -> tuple[float, float]:
    if node.op == "relu":
        return 0.0, np.inf
    return float(node.attrs.get("min", -np.inf)), float(node.attrs.get("max", np.inf))


@kernel("relu", "clip")
def _relu_x(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    """QuantizedReluX: requantize to the output scale, clamp to the quantized bounds."""
    lo_f, hi_f = relu_bounds(node)
    so, zo = f32(qout.scale[0]), qout.zero_point[0]
    lo = -128 if lo_f == -np.inf else max(-128, zo + tflite_round(float(f32(lo_f) / so)))
    hi = 127 if hi_f == np.inf else min(127, zo + tflite_round(float(f32(hi_f) / so)))
    m, s = quantize_multiplier(float(f32(q[0].scale[0]) / so))
    y = zo + multiply_by_quantized_multiplier(a[0].astype(np.int64) - q[0].zero_point[0], m, s)
    return np.clip(y, lo, hi).astype(np.int8)


def _same_quant(node: Node, q: list, qout: QuantParams) -> None:
    for qi in q:
        if qi is not None and (f32(qi.scale[0]) != f32(qout.scale[0]) or qi.zero_point[0] != qout.zero_point[0]):
            raise UnsupportedModelError(f"node {node.name}: int8 {node.op} needs the same scale and zero point on its "
                                        "inputs and output (TFLite's rule; the quantizer shares them)")


def pad_fill(node: Node, qout: QuantParams) -> int:
    """The stored pad value: the zero point for 0.0, else the quantized attr `value`."""
    value = float(node.attrs.get("value", 0.0))
    fill = qout.zero_point[0] + (tflite_round(float(f32(value) / f32(qout.scale[0]))) if value else 0)
    return int(np.clip(fill, -128, 127))


@kernel("pad")
def _pad(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    _same_quant(node, q[:1], qout)
    p = node.attrs["pads"]
    r = a[0].ndim
    return np.pad(a[0], [(p[i], p[i + r]) for i in range(r)], constant_values=np.int8(pad_fill(node, qout)))


def same_quant(a: QuantParams, b: QuantParams) -> bool:
    return f32(a.scale[0]) == f32(b.scale[0]) and a.zero_point[0] == b.zero_point[0]


def requantize_multiplier(qin: QuantParams, qout: QuantParams) -> tuple[int, int]:
    """quantize.cc's Prepare for int8 -> int8: QuantizeMultiplier(s_in / s_out) in double."""
    return quantize_multiplier(float(f32(qin.scale[0])) / float(f32(qout.scale[0])))


def requantize(x: np.ndarray, qin: QuantParams, qout: QuantParams) -> np.ndarray:
    """reference_ops::Requantize (QUANTIZE int8 -> int8): zo + MBQM(x - zi), saturated."""
    m, s = requantize_multiplier(qin, qout)
    y = multiply_by_quantized_multiplier(x.astype(np.int64) - qin.zero_point[0], m, s) + qout.zero_point[0]
    return np.clip(y, -128, 127).astype(np.int8)


@kernel("concat")
def _concat(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    """concatenation.cc copies bytes and needs one scale and zero point everywhere; an input
    with its own is requantized first, as the QUANTIZE op TFLite's converter inserts."""
    parts = [x.astype(np.int8) if qi is None or same_quant(qi, qout) else requantize(x, qi, qout)
             for x, qi in zip(a, q)]
    return np.concatenate(parts, axis=node.attrs["axis"])


@kernel("transpose")
def _transpose(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(a[0], node.attrs["perm"]))


@kernel("matmul")
def _matmul(node: Node, a: list, q: list, qout: QuantParams) -> np.ndarray:
    """BATCH_MATMUL (batch_matmul.cc, reference_ops::BatchMatMul): both operands activations,
    sum (x + o1)(y + o2) * M(s1 s2 / so) + zo, numpy broadcasting over the batch dims."""
    real = float(f32(f32(q[0].scale[0]) * f32(q[1].scale[0])) / f32(qout.scale[0]))
    m, s = quantize_multiplier(real)
    x = a[0].astype(np.int64) - q[0].zero_point[0]
    y = a[1].astype(np.int64) - q[1].zero_point[0]
    return _out(multiply_by_quantized_multiplier(np.matmul(x, y), m, s) + qout.zero_point[0], node, qout)
