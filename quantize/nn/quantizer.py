"""Post-training quantization of a float network graph into the int8 IR that the TFLite
frontend produces, so `int8_reference` (and the C kernels) run it unchanged:

1. activations are fused into the op before them (`fuse.py`);
2. the float golden model runs every calibration sample and an observer per tensor
   records its range (`observers.py`);
3. activations become asymmetric per-tensor int8 (`QuantParams` on every tensor), with
   TFLite's rules: softmax and sigmoid write scale 1/256 and zero point -128, tanh 1/128
   and 0; reshape, transpose, pools, pad and concat share one scale and zero point over
   their inputs and output (the union of their ranges);
4. conv and fully_connected weights go through the weight method (`methods.py`, RTN
   first): symmetric int8 ([-127, 127]) or int4 ([-7, 7], `weight_bits: 4` on the node),
   per output channel (axis 0) or per tensor; biases become int32 with scale
   in_scale * w_scale[c] and zero point 0 (a method may correct the float bias first:
   `QuantizedWeight.bias`); other constants (an add's operand) are int8
   per tensor over their own range.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgekiln.errors import InputError, UnsupportedModelError
from edgekiln.fingerprint import graph_fingerprint
from edgekiln.ir import Constant, Graph, QuantParams

from . import float_reference
from .fuse import fuse_activations
from .methods import Layer, QuantizedWeight, WeightConfig, get_method
from .observers import affine_int8, make_observer

SHARED = ("reshape", "transpose", "max_pool", "avg_pool", "pad", "concat")
FIXED = {"softmax": (1 / 256, -128), "sigmoid": (1 / 256, -128), "tanh": (1 / 128, 0)}
WEIGHTED = ("conv", "fully_connected")
f32 = np.float32


@dataclass(frozen=True)
class QuantConfig:
    wbits: int = 8
    abits: int = 8
    method: str = "rtn"
    granularity: str = "per-channel"
    observer: str = "minmax"
    percentile: float = 99.99
    group_size: int | None = None

    def weight_config(self) -> WeightConfig:
        return WeightConfig(self.wbits, self.granularity, self.group_size)

    def label(self) -> str:
        return f"W{self.wbits}A{self.abits}"


def check_config(config: QuantConfig) -> None:
    if config.abits != 8:
        raise InputError(f"--abits {config.abits}: activations are int8 (8 bits) in this release")
    get_method(config.method).check(config.weight_config())
    make_observer(config.observer, percentile=config.percentile)


def calibration_samples(graph: Graph, calib) -> np.ndarray:
    """The calibration set as (n, *input dims): checked for emptiness, shape and NaN."""
    if len(graph.inputs) != 1:
        raise InputError(f"calibration takes models with one input; this one has {len(graph.inputs)}")
    dims = tuple(graph.inputs[0].dims)
    x = np.asarray(calib)
    want = f"(n, {', '.join(map(str, dims))})" + (f" or (n, {', '.join(map(str, dims[1:]))})" if dims[0] == 1 else "")
    if x.dtype.kind not in "fiu":
        raise InputError(f"calibration data must be numbers, got dtype {x.dtype}")
    if x.ndim >= 1 and x.shape[0] == 0:
        raise InputError(f"the calibration set is empty; give {want} float inputs of {graph.inputs[0].name!r}")
    if x.shape[1:] == dims:
        pass
    elif dims[0] == 1 and x.shape[1:] == dims[1:]:
        x = x.reshape((x.shape[0],) + dims)
    else:
        raise InputError(f"calibration data has shape {x.shape}; input {graph.inputs[0].name!r} needs {want} "
                         "(a leading sample axis, then the model's input shape)")
    if np.isnan(x).any():
        raise InputError(f"calibration data holds NaN (first at sample {int(np.argwhere(np.isnan(x))[0][0])})")
    if np.isinf(x).any():
        raise InputError(f"calibration data holds infinity (first at sample {int(np.argwhere(np.isinf(x))[0][0])})")
    return x.astype(np.float32)


def calibrate(graph: Graph, samples: np.ndarray, config: QuantConfig,
              layer_inputs: dict[str, list] | None = None) -> dict[str, tuple[float, float]]:
    """The range of every activation tensor of the (fused) float graph over the samples;
    with `layer_inputs` ({weighted node name: []}), each of those nodes' float input per
    sample is appended to its list (for data-aware weight methods)."""
    observers: dict[str, object] = {}
    name = graph.inputs[0].name
    wanted = {n.name: n.inputs[0] for n in graph.nodes if layer_inputs is not None and n.name in layer_inputs}
    for x in samples:
        values = float_reference.run(graph, {name: x}, keep_all=True)
        for k, v in values.items():
            if k not in observers:
                observers[k] = make_observer(config.observer, percentile=config.percentile, seed=len(observers))
            observers[k].observe(v)
        for node_name, tensor in wanted.items():
            layer_inputs[node_name].append(values[tensor])
    return {k: o.range() for k, o in observers.items()}


class _Groups:
    """Union-find over tensor names (tensors that must share one scale and zero point)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def activation_params(graph: Graph, ranges: dict[str, tuple[float, float]]) -> dict[str, QuantParams]:
    """Per-tensor int8 parameters of every activation (and of concat's constant inputs)."""
    groups = _Groups()
    fixed: dict[str, tuple[float, int]] = {}
    for n in graph.nodes:
        if n.op in SHARED:
            for i in n.inputs:
                if i and (i not in graph.constants or n.op == "concat"):
                    groups.union(i, n.outputs[0])
        if n.op in FIXED:
            fixed[n.outputs[0]] = FIXED[n.op]
    names = [v.name for v in graph.all_values()]
    names += [c for n in graph.nodes if n.op == "concat" for c in n.inputs if c in graph.constants]
    span: dict[str, list[float]] = {}
    pinned: dict[str, tuple[float, int]] = {}
    for k in names:
        r = groups.find(k)
        lo, hi = ranges[k] if k in ranges else _const_range(graph, k)
        s = span.setdefault(r, [np.inf, -np.inf])
        s[0], s[1] = min(s[0], lo), max(s[1], hi)
        if k in fixed:
            if r in pinned and pinned[r] != fixed[k]:
                raise UnsupportedModelError(f"tensor {k}: two fixed int8 scales meet in one shared group")
            pinned[r] = fixed[k]
    out = {}
    for k in names:
        r = groups.find(k)
        scale, zp = pinned[r] if r in pinned else affine_int8(*span[r])
        out[k] = QuantParams([scale], [zp])
    return out


def _const_range(graph: Graph, name: str) -> tuple[float, float]:
    if name in graph.constants:
        d = graph.constants[name].data
        return float(d.min()), float(d.max())
    raise InputError(f"tensor {name!r} was not seen during calibration")


def bias_int32(bias: np.ndarray, in_scale: float, w_scales: np.ndarray) -> tuple[np.ndarray, QuantParams]:
    """int32 bias with scale in_scale * w_scale[c] (float32 product), zero point 0."""
    s = (f32(in_scale) * np.asarray(w_scales, f32)).astype(f32)
    r = bias.astype(np.float64) / s.astype(np.float64)
    q = np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5), -(1 << 31), (1 << 31) - 1).astype(np.int32)
    return q, QuantParams(list(s), [0] * s.size, 0 if s.size > 1 else None)


def weight_quant(qw: QuantizedWeight) -> QuantParams:
    return QuantParams(list(qw.scales), [0] * qw.scales.size, 0 if qw.per_channel else None)


def quantize_weights(graph: Graph, config: QuantConfig,
                     layer_inputs: dict[str, list] | None = None) -> dict[str, QuantizedWeight]:
    """The weight method's integers for every conv / fully_connected weight (a data-aware
    method gets each layer's float calibration inputs in `Layer.inputs`)."""
    method = get_method(config.method)
    wc = config.weight_config()
    method.check(wc)
    out = {}
    for n in graph.nodes:
        if n.op in WEIGHTED and n.inputs[1] in graph.constants and n.inputs[1] not in out:
            inputs = (layer_inputs or {}).get(n.name)
            out[n.inputs[1]] = method.quantize(Layer(n.name, n.op, graph.constants[n.inputs[1]].data, dict(n.attrs),
                                                     inputs), wc)
    return out


def materialize(graph: Graph, acts: dict[str, QuantParams], weights: dict[str, QuantizedWeight]) -> Graph:
    """The int8 graph: every activation int8 with its parameters, weights and biases as
    integers (`graph` is the fused float graph; it is not modified)."""
    import copy

    g = copy.deepcopy(graph)
    for v in g.all_values():
        if v.name not in acts:
            raise UnsupportedModelError(f"tensor {v.name}: no int8 parameters")
        v.dtype, v.quant = "int8", acts[v.name]
    done: set[str] = set()
    for n in g.nodes:
        if n.op in WEIGHTED:
            wname = n.inputs[1]
            if wname not in weights:
                raise UnsupportedModelError(f"node {n.name}: its weight {wname} is not a constant")
            qw = weights[wname]
            g.constants[wname] = Constant(wname, qw.values, weight_quant(qw))
            if qw.bits != 8:
                n.attrs["weight_bits"] = qw.bits
            if len(n.inputs) > 2 and n.inputs[2]:
                b = qw.bias if qw.bias is not None else graph.constants[n.inputs[2]].data
                scales = qw.scales if qw.per_channel else qw.scales[:1]
                q, bq = bias_int32(b, acts[n.inputs[0]].scale[0], scales)
                g.constants[n.inputs[2]] = Constant(n.inputs[2], q, bq)
            done.update(n.inputs[1:])
            continue
        for c in n.inputs:
            if c in g.constants and c not in done:
                data = graph.constants[c].data
                qp = acts.get(c) or QuantParams(*[[v] for v in affine_int8(float(data.min()), float(data.max()))])
                r = data.astype(np.float32) / f32(qp.scale[0])
                q = np.sign(r) * np.floor(np.abs(r) + 0.5) + qp.zero_point[0]
                g.constants[c] = Constant(c, np.clip(q, -128, 127).astype(np.int8), qp)
                done.add(c)
    g.meta = dict(g.meta)
    g.meta["fingerprint"] = graph_fingerprint(g)
    return g


@dataclass
class QuantizedNetwork:
    graph: Graph                 # the int8 IR
    float_graph: Graph           # the fused float graph it was made from
    aliases: dict[str, str]      # tensors removed by fusion -> the tensor holding their values
    config: QuantConfig
    ranges: dict[str, tuple[float, float]]


def quantize_graph(graph: Graph, calib, config: QuantConfig = QuantConfig()) -> QuantizedNetwork:
    """Quantize a float network graph (from the ONNX frontend) with calibration inputs
    (n, *input shape); returns the int8 IR and what it was made from."""
    check_config(config)
    samples = calibration_samples(graph, calib)
    fused, aliases = fuse_activations(graph)
    layer_inputs = ({n.name: [] for n in fused.nodes if n.op in WEIGHTED}
                    if get_method(config.method).needs_calibration_inputs else None)
    ranges = calibrate(fused, samples, config, layer_inputs)
    acts = activation_params(fused, ranges)
    method = get_method(config.method)
    if method.sequential:  # layer by layer on the quantized network's own inputs (sequential.py)
        from .sequential import sequential_weights

        weights = sequential_weights(fused, acts, samples, config, layer_inputs, method)
    else:
        weights = quantize_weights(fused, config, layer_inputs)
    q = materialize(fused, acts, weights)
    q.meta["quantization"] = {**asdict(config), "calibration_samples": int(samples.shape[0])}
    return QuantizedNetwork(q, fused, aliases, config, ranges)


def quantize_input(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """Float input -> int8 as TFLite's QUANTIZE: round(x / scale) half away from zero + zp."""
    r = np.asarray(x, f32) / f32(q.scale[0])
    return np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5) + q.zero_point[0], -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, p: QuantParams) -> np.ndarray:
    return (q.astype(np.float32) - p.zero_point[0]) * f32(p.scale[0])
