"""The weight-quantization method interface: RTN now; GPTQ, AWQ and the rest of the PTQ
suite (issue 16) implement the same class and register by name.

A method turns one layer's float weight into integers and scales:

    @weight_method("rtn")
    class RTN(WeightMethod):
        def supports(self, config) -> str | None: ...     # None, or why not
        def quantize(self, layer: Layer, config) -> QuantizedWeight: ...

`Layer` carries what data-aware methods need: the float weight (output channels first:
conv [O, *K, I/group], fully_connected [N, K]), the op and its attributes, and the layer's
calibration inputs (float, channel-last, one array per sample) when the caller has them.
A method asked for a configuration it cannot do raises `UnsupportedConfigError` naming
the method and the configuration: there is no silent fallback."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekiln.errors import InputError
from edgekiln.registry import Registry

WEIGHT_METHODS: Registry[type] = Registry()  # filled by @weight_method in rtn.py (and the PTQ suite)
weight_method = WEIGHT_METHODS.register
GRANULARITIES = ("per-channel", "per-tensor")


class UnsupportedConfigError(InputError):
    """A quantization method asked for a configuration it does not implement."""


@dataclass(frozen=True)
class WeightConfig:
    """bits: 8 (int8 in [-127, 127]) or 4 (int4 in [-7, 7], packed two per byte on device);
    granularity: per-channel (one scale per output channel) or per-tensor; symmetric
    weights only (zero point 0, as TFLite's int8 conv kernels need); group_size is for the
    per-group methods of the PTQ suite (None here)."""

    bits: int = 8
    granularity: str = "per-channel"
    group_size: int | None = None

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1

    def describe(self) -> str:
        g = self.granularity if self.group_size is None else f"per-group {self.group_size}"
        return f"W{self.bits} {g}"


@dataclass
class Layer:
    name: str
    op: str
    weight: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)
    inputs: list[np.ndarray] | None = None  # calibration inputs of this layer, when known
    quant_inputs: list[np.ndarray] | None = None  # the same inputs through the quantized layers before it (sequential methods)
    bias: np.ndarray | None = None  # the layer's float bias, when it has one


@dataclass
class QuantizedWeight:
    values: np.ndarray        # int8 array, same shape as the weight, within [-qmax, qmax]
    scales: np.ndarray        # float32, one per output channel or one
    bits: int
    bias: np.ndarray | None = None  # a corrected float bias (bias correction), else the graph's is kept

    @property
    def per_channel(self) -> bool:
        return self.scales.size > 1

    def dequantize(self) -> np.ndarray:
        s = self.scales.reshape(-1, *[1] * (self.values.ndim - 1)) if self.per_channel else self.scales[0]
        return self.values.astype(np.float32) * s


class WeightMethod:
    """Subclass, set `name`, implement `supports` and `quantize`; set
    `needs_calibration_inputs = True` to get each layer's float inputs (one channel-last
    array per calibration sample, from the float golden model) in `Layer.inputs`; set
    `sequential = True` as well to be called layer by layer in network order with
    `Layer.quant_inputs`, the same samples through the int8 golden model of the layers
    already quantized (dequantized), and `Layer.bias` (a method may return a corrected
    float bias in `QuantizedWeight.bias`)."""

    name = "base"
    needs_calibration_inputs = False
    sequential = False

    def supports(self, config: WeightConfig) -> str | None:
        return "not implemented"

    def check(self, config: WeightConfig) -> None:
        why = self.supports(config)
        if why:
            raise UnsupportedConfigError(f"method {self.name!r} cannot do {config.describe()}: {why}")

    def quantize(self, layer: Layer, config: WeightConfig) -> QuantizedWeight:
        raise NotImplementedError


def get_method(name: str) -> WeightMethod:
    from . import adaround, rtn  # noqa: F401  (registers the built-in methods)

    cls = WEIGHT_METHODS.get(name)
    if cls is None:
        raise UnsupportedConfigError(f"unknown quantization method {name!r}; available: {', '.join(WEIGHT_METHODS.names())} "
                                     "(GPTQ, AWQ and the rest arrive with the PTQ suite)")
    return cls()


def symmetric_scales(w: np.ndarray, qmax: int, per_channel: bool) -> np.ndarray:
    """max|w| / qmax per output channel (axis 0) or for the whole tensor; an all-zero
    channel gets scale 1 (its integers are 0 either way)."""
    a = np.abs(w.astype(np.float64))
    m = a.reshape(a.shape[0], -1).max(axis=1) if per_channel else np.array([a.max()])
    s = (m / qmax).astype(np.float32)
    return np.where(s > 0, s, np.float32(1.0)).astype(np.float32)


def round_to_grid(w: np.ndarray, scales: np.ndarray, qmax: int) -> np.ndarray:
    """round(w / s) half away from zero, clamped to [-qmax, qmax], as int8."""
    s = scales.reshape(-1, *[1] * (w.ndim - 1)) if scales.size > 1 else scales[0]
    r = w.astype(np.float32) / s
    q = np.sign(r) * np.floor(np.abs(r) + 0.5)
    return np.clip(q, -qmax, qmax).astype(np.int8)
