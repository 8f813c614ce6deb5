"""Memory budget and measured peak for the MoE engines.

Every byte a system holds goes through one MemoryMeter: plane buffers (page-aligned maps
that O_DIRECT reads land in), dequantised expert scratch while an expert computes, the
resident weights and the KV caches. The meter counts the sizes of buffers actually
allocated and still held, keeps the high-water mark, and refuses an allocation that would
cross the budget (the scheduler must evict first), so "peak <= budget" is checked on
every allocation, not estimated afterwards.
"""
from __future__ import annotations

import mmap
import threading
from dataclasses import dataclass, field

import numpy as np

from edgekiln.errors import MemoryBudgetError
from edgekiln.flash_offload.io.sections import ALIGN, align_up

KINDS = ("resident", "kv", "experts", "plane", "scratch")


class BudgetExceeded(MemoryBudgetError):
    """An allocation would cross the budget: a scheduling bug or a budget set too low."""


@dataclass
class MemoryMeter:
    """Bytes held now, by kind, and the high-water mark. Thread-safe."""
    budget: int | None = None
    used: int = 0
    peak: int = 0
    by_kind: dict = field(default_factory=lambda: {k: 0 for k in KINDS})
    peak_by_kind: dict = field(default_factory=dict)  # by_kind at the moment of the peak
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def alloc(self, nbytes: int, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown memory kind {kind!r}; one of {KINDS}")
        with self._lock:
            if self.budget is not None and self.used + nbytes > self.budget:
                raise BudgetExceeded(
                    f"allocating {nbytes} bytes of {kind} would hold {self.used + nbytes} bytes, "
                    f"over the budget of {self.budget} ({self._describe()})")
            self.used += nbytes
            self.by_kind[kind] += nbytes
            if self.used > self.peak:
                self.peak = self.used
                self.peak_by_kind = dict(self.by_kind)

    def free(self, nbytes: int, kind: str) -> None:
        with self._lock:
            self.used -= nbytes
            self.by_kind[kind] -= nbytes
            assert self.used >= 0 and self.by_kind[kind] >= 0, "freed more than allocated"

    def room(self) -> int | None:
        """Bytes that can still be allocated (None: no budget)."""
        with self._lock:
            return None if self.budget is None else self.budget - self.used

    def _describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.by_kind.items() if v)

    def report(self) -> dict:
        return {"budget_bytes": self.budget, "peak_bytes": self.peak, "held_bytes": self.used,
                "peak_by_kind": {k: v for k, v in self.peak_by_kind.items() if v}}


class PlaneBuffer:
    """A page-aligned buffer (O_DIRECT needs aligned memory) counted by a meter while held."""

    __slots__ = ("buf", "nbytes", "kind", "_meter")

    def __init__(self, nbytes: int, meter: MemoryMeter | None, kind: str = "plane"):
        self.nbytes = align_up(max(nbytes, 1), ALIGN)
        if meter is not None:
            meter.alloc(self.nbytes, kind)  # refuse before allocating
        self.kind, self._meter = kind, meter
        self.buf = mmap.mmap(-1, self.nbytes)

    def view(self, start: int = 0, stop: int | None = None) -> memoryview:
        return memoryview(self.buf)[start:stop]

    def release(self) -> None:
        if self.buf is None:
            return
        try:
            self.buf.close()
        except BufferError:  # a view still exists; the map goes when the last view does
            pass
        self.buf = None
        if self._meter is not None:
            self._meter.free(self.nbytes, self.kind)


class Scratch:
    """A float32 array counted by the meter while the `with` block holds it."""

    def __init__(self, meter: MemoryMeter | None, shape, kind: str = "scratch"):
        self.meter, self.shape, self.kind = meter, tuple(shape), kind
        self.nbytes = int(np.prod(self.shape)) * 4

    def __enter__(self) -> np.ndarray:
        if self.meter is not None:
            self.meter.alloc(self.nbytes, self.kind)
        return np.empty(self.shape, np.float32)

    def __exit__(self, *exc) -> None:
        if self.meter is not None:
            self.meter.free(self.nbytes, self.kind)


def hold_arrays(meter: MemoryMeter, arrays, kind: str) -> int:
    """Count arrays that stay allocated for the whole run (resident weights, KV caches)."""
    n = sum(int(a.nbytes) for a in arrays)
    meter.alloc(n, kind)
    return n


def check_budget(budget: int, fixed_bytes: int, min_dynamic_bytes: int, what: str, dynamic: str) -> None:
    """Refuse a budget below fixed (resident + KV + scratch) + the smallest workable dynamic
    part (`dynamic` names it: one expert's base plane, or one expert at its bit-width)."""
    need = fixed_bytes + min_dynamic_bytes
    if budget < need:
        raise MemoryBudgetError(
            f"memory budget {budget} bytes is below the minimum of {need} bytes for {what}: "
            f"{fixed_bytes} for resident weights, KV caches and compute scratch plus "
            f"{min_dynamic_bytes} for {dynamic}; pass --budget {need} or more")
