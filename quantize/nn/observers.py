"""Calibration observers: what range of real values an activation tensor takes.

Each observer sees the tensor of every calibration sample (`observe`) and then gives a
range `(lo, hi)` that the asymmetric int8 activation quantization maps onto [-128, 127]:
- `minmax`: the smallest and largest value seen;
- `percentile`: the `percentile`-th and (100 - `percentile`)-th percentiles of the values
  seen (default 99.99), so a few outliers do not stretch the scale;
- `mse`: the clipping of the min-max range (ratios 1.0 down to 0.3) whose int8 fake
  quantization has the smallest mean squared error over the values seen.
Percentile and MSE keep at most `MAX_VALUES` values per tensor (a seeded subsample of
each sample's values once the pool is full), so memory stays bounded on long calibration sets."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import InputError
from edgekiln.registry import Registry

MAX_VALUES = 1 << 20
OBSERVERS: Registry[type] = Registry()
observer = OBSERVERS.register


def affine_int8(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero point) of asymmetric int8 over [lo, hi] widened to hold 0 (TFLite's
    rule: 0.0 is exactly representable); a tensor that is always 0 gets scale 1."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = float(np.float32((hi - lo) / 255.0))
    if not scale > 0:
        return 1.0, 0
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return scale, zp


class Observer:
    name = "base"

    def __init__(self, seed: int = 0, **_) -> None:
        self.lo, self.hi, self.count = np.inf, -np.inf, 0
        self._rng = np.random.default_rng(seed)

    def observe(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).ravel()
        if x.size == 0:
            return
        if not np.isfinite(x).all():
            raise InputError(f"{self.name} observer: a calibration tensor holds NaN or infinity")
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        self.count += 1

    def range(self) -> tuple[float, float]:
        if self.count == 0:
            raise InputError("an observer saw no calibration data")
        return self.lo, self.hi


@observer("minmax")
class MinMax(Observer):
    name = "minmax"


class _Pooled(Observer):
    def __init__(self, seed: int = 0, **kw) -> None:
        super().__init__(seed)
        self._pool: list[np.ndarray] = []
        self._n = 0

    def observe(self, x: np.ndarray) -> None:
        super().observe(x)
        x = np.asarray(x, np.float32).ravel()
        if self._n + x.size > MAX_VALUES:
            keep = max(1, MAX_VALUES // max(self.count, 1))
            x = self._rng.choice(x, size=min(keep, x.size), replace=False)
        self._pool.append(x)
        self._n += x.size

    def values(self) -> np.ndarray:
        return np.concatenate(self._pool) if self._pool else np.zeros(0, np.float32)


@observer("percentile")
class Percentile(_Pooled):
    name = "percentile"

    def __init__(self, seed: int = 0, percentile: float = 99.99, **kw) -> None:
        super().__init__(seed)
        if not 50.0 < percentile <= 100.0:
            raise InputError(f"percentile {percentile} must be in (50, 100]")
        self.percentile = float(percentile)

    def range(self) -> tuple[float, float]:
        super().range()
        v = self.values()
        return float(np.percentile(v, 100.0 - self.percentile)), float(np.percentile(v, self.percentile))


@observer("mse")
class MSE(_Pooled):
    name = "mse"
    RATIOS = tuple(np.round(np.linspace(1.0, 0.3, 15), 3))

    def range(self) -> tuple[float, float]:
        lo, hi = super().range()
        v = self.values().astype(np.float64)
        best, best_err = (lo, hi), np.inf
        for r in self.RATIOS:
            clo, chi = lo * r, hi * r
            scale, zp = affine_int8(clo, chi)
            q = np.clip(np.round(v / scale) + zp, -128, 127)
            err = float(np.mean(((q - zp) * scale - v) ** 2))
            if err < best_err - 1e-15:
                best, best_err = (clo, chi), err
        return best


def make_observer(name: str, **options) -> Observer:
    cls = OBSERVERS.get(name)
    if cls is None:
        raise InputError(f"unknown observer {name!r}; choose one of {', '.join(OBSERVERS.names())}")
    return cls(**options)
