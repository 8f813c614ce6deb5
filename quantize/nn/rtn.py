"""RTN (round to nearest): the first weight method. Symmetric scales from the largest
magnitude (per output channel or per tensor), weights rounded half away from zero and
clamped to [-qmax, qmax]: int8 [-127, 127], int4 [-7, 7] (the narrow, symmetric range, so
-w is representable wherever w is; the packed int4 nibble holds [-8, 7], -8 unused).
Needs no calibration data."""
from __future__ import annotations

import numpy as np

from .methods import GRANULARITIES, Layer, QuantizedWeight, WeightConfig, WeightMethod, round_to_grid, symmetric_scales, weight_method


@weight_method("rtn")
class RTN(WeightMethod):
    name = "rtn"

    def supports(self, config: WeightConfig) -> str | None:
        if config.bits not in (8, 4):
            return f"{config.bits}-bit weights (RTN here writes 8 or 4)"
        if config.group_size is not None:
            return "per-group scales (the PTQ suite adds them; use per-channel or per-tensor)"
        if config.granularity not in GRANULARITIES:
            return f"granularity {config.granularity!r} (use {' or '.join(GRANULARITIES)})"
        return None

    def quantize(self, layer: Layer, config: WeightConfig) -> QuantizedWeight:
        self.check(config)
        scales = symmetric_scales(layer.weight, config.qmax, config.granularity == "per-channel")
        return QuantizedWeight(round_to_grid(layer.weight, scales, config.qmax), scales, config.bits)


@weight_method("rtn-mse")
class RTNClipped(RTN):
    """RTN with the scale of each channel (or the tensor) chosen among clipping ratios 1.0 ..
    0.5 of max|w| to minimise the weight's squared rounding error (no calibration data)."""

    name = "rtn-mse"
    RATIOS = tuple(np.round(np.linspace(1.0, 0.5, 26), 3))

    def quantize(self, layer: Layer, config: WeightConfig) -> QuantizedWeight:
        self.check(config)
        w = layer.weight
        per_channel = config.granularity == "per-channel"
        base = symmetric_scales(w, config.qmax, per_channel)
        rows = w.reshape(w.shape[0], -1).astype(np.float64) if per_channel else w.reshape(1, -1).astype(np.float64)
        best, err = base.copy(), np.full(base.size, np.inf)
        for r in self.RATIOS:
            s = (base * np.float32(r)).astype(np.float32)
            q = round_to_grid(w, s, config.qmax).reshape(rows.shape).astype(np.float64)
            e = ((q * s.astype(np.float64)[:, None] - rows) ** 2).sum(axis=1)
            better = e < err
            err[better], best[better] = e[better], s[better]
        return QuantizedWeight(round_to_grid(w, best, config.qmax), best, config.bits)
