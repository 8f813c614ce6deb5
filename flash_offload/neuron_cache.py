"""DRAM cache of FFN neurons with windowing ("LLM in a flash", section 3.3).

Per layer: a preallocated matrix of bundles [up | down | b_up] (capacity rows), the neuron
id of each row, an id -> row map, the used count and each neuron's last active token.
A neuron stays while it was active in any of the last `window` tokens. Deleting moves the
last live rows into the holes, inserting appends: rows of live neurons stay contiguous in
[0, used), and nothing is reallocated after construction.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgekiln.errors import InputError, MemoryBudgetError
from edgekiln.flash_offload.ekf_format import EkfFile

NEVER = np.iinfo(np.int64).min // 2
PINNED = np.iinfo(np.int64).max // 2
# fetch(ids, out) fills out (len(ids), 2d+1) with the bundles of ids (NeuronReader.read_bundles)
Fetch = Callable[[np.ndarray, np.ndarray], object]


class DramBudgetError(MemoryBudgetError, InputError):
    """The DRAM budget cannot hold the resident part plus a minimal neuron cache."""


class CacheCapacityError(MemoryBudgetError, InputError):
    """More neurons are active in one token than a layer's cache can hold."""


@dataclass
class CacheStats:
    loaded: int = 0        # neurons fetched from the file
    hits: int = 0          # active neurons already in DRAM
    evicted: int = 0
    mem_seconds: float = 0.0  # bookkeeping and row moves, excluding the fetch itself

    def reset(self) -> None:
        self.loaded = self.hits = self.evicted = 0
        self.mem_seconds = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class LayerCache:
    """The neuron cache of one layer."""

    def __init__(self, n_neurons: int, d_model: int, capacity: int, window: int):
        if window < 1:
            raise InputError(f"window={window}: keep at least the current token (window >= 1)")
        if not 1 <= capacity <= n_neurons:
            raise InputError(f"capacity={capacity} must be in [1, {n_neurons}]")
        self.n_neurons, self.d, self.capacity, self.window = n_neurons, d_model, capacity, window
        self.buf = np.zeros((capacity, 2 * d_model + 1), dtype=np.float32)
        self.ids = np.full(capacity, -1, dtype=np.int64)
        self.slot_of = np.full(n_neurons, -1, dtype=np.int64)
        self.last_active = np.full(n_neurons, NEVER, dtype=np.int64)
        self.used = 0
        self.n_pinned = 0
        self.t = 0  # tokens seen
        self.stats = CacheStats()

    @property
    def nbytes(self) -> int:
        """DRAM held by this layer's cache: rows plus index arrays."""
        return self.buf.nbytes + self.ids.nbytes + self.slot_of.nbytes + self.last_active.nbytes

    @staticmethod
    def bytes_for(n_neurons: int, d_model: int, capacity: int) -> int:
        return capacity * (4 * (2 * d_model + 1) + 8) + n_neurons * 16

    def live_ids(self) -> np.ndarray:
        return self.ids[:self.used].copy()

    def views(self):
        """(up (used,d), b_up (used,), down (used,d)) views of the live rows (no copy)."""
        d, live = self.d, self.buf[:self.used]
        return live[:, :d], live[:, 2 * d], live[:, d:2 * d]

    def pin(self, ids, fetch: Fetch) -> None:
        """Load `ids` once and keep them for good (the static "hybrid" half). Call before
        the first update."""
        if self.used:
            raise InputError("pin neurons before the first token")
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        self._check_ids(ids)
        if len(ids) > self.capacity:
            raise CacheCapacityError(f"cannot pin {len(ids)} neurons in a cache of "
                                     f"{self.capacity} rows; raise the DRAM budget")
        self._append(ids, fetch)
        self.last_active[ids] = PINNED
        self.n_pinned = len(ids)

    def update(self, active, fetch: Fetch) -> np.ndarray:
        """Advance one token with `active` neuron ids: evict those idle for `window` tokens,
        fetch the missing ones. Returns the rows (slots in buf) of `active`, in its order."""
        t0 = time.perf_counter()
        active = np.asarray(active, dtype=np.int64).reshape(-1)
        uniq = np.unique(active)
        self._check_ids(uniq)
        self.t += 1
        pinned = self.last_active[uniq] == PINNED
        self.last_active[uniq[~pinned]] = self.t
        live = self.ids[:self.used]
        stale = self.last_active[live] <= self.t - self.window
        missing = uniq[self.slot_of[uniq] < 0]
        over = self.used - int(stale.sum()) + len(missing) - self.capacity
        if over > 0:  # the window does not fit: drop the least recently active first
            if len(uniq) + self.n_pinned - int(pinned.sum()) > self.capacity:
                raise CacheCapacityError(
                    f"{len(uniq)} neurons active in one token but the layer cache holds "
                    f"{self.capacity} rows ({self.n_pinned} pinned); raise the DRAM budget")
            cand = np.flatnonzero(~stale & (self.last_active[live] < self.t))
            oldest = cand[np.argsort(self.last_active[live[cand]], kind="stable")[:over]]
            stale[oldest] = True
        self._delete(np.flatnonzero(stale))
        self.stats.hits += len(uniq) - len(missing)
        self.stats.mem_seconds += time.perf_counter() - t0
        self._append(missing, fetch)
        return self.slot_of[active]

    def _check_ids(self, ids: np.ndarray) -> None:
        if len(ids) and (ids[0] < 0 or ids[-1] >= self.n_neurons):
            raise InputError(f"neuron ids must be in [0, {self.n_neurons})")

    def _delete(self, slots: np.ndarray) -> None:
        """Remove rows at `slots` (sorted): the last live rows move into the holes."""
        if len(slots) == 0:
            return
        new_used = self.used - len(slots)
        gone = self.ids[slots]
        holes = slots[slots < new_used]
        tail = np.ones(self.used - new_used, dtype=bool)
        tail[slots[slots >= new_used] - new_used] = False
        fillers = new_used + np.flatnonzero(tail)
        self.slot_of[gone] = -1
        self.buf[holes] = self.buf[fillers]
        self.ids[holes] = self.ids[fillers]
        self.slot_of[self.ids[holes]] = holes
        self.ids[new_used:self.used] = -1
        self.used = new_used
        self.stats.evicted += len(slots)

    def _append(self, ids: np.ndarray, fetch: Fetch) -> None:
        n = len(ids)
        if n == 0:
            return
        end = self.used + n
        fetch(ids, self.buf[self.used:end])  # straight into the preallocated rows
        t0 = time.perf_counter()
        self.ids[self.used:end] = ids
        self.slot_of[ids] = np.arange(self.used, end)
        self.used = end
        self.stats.loaded += n
        self.stats.mem_seconds += time.perf_counter() - t0


PAGE = 4096
IO_BATCH_IDS = 256  # the reader's landing buffer holds this many neurons; more go in batches


def _io_buffer_bytes(ekf: EkfFile, reader, n_ids: int) -> int:
    if reader is None or not hasattr(reader, "buffer_bytes_for"):
        return 0
    n = max(reader.buffer_bytes_for(i, n_ids) for i in range(ekf.n_layers))
    return -(-n // PAGE) * PAGE  # reserve() allocates whole pages


def _layers_bytes(ekf: EkfFile, capacity: int) -> int:
    return sum(LayerCache.bytes_for(ekf.d_ff(i), ekf.d_model, min(capacity, ekf.d_ff(i)))
               for i in range(ekf.n_layers))


def min_budget_bytes(ekf: EkfFile, reader=None, extra: dict | None = None) -> int:
    """The smallest DRAM budget: resident part, `extra` (KV cache, predictor...), the
    reader's landing buffer and a one-row cache per layer."""
    return (ekf.resident_bytes + sum((extra or {}).values())
            + _io_buffer_bytes(ekf, reader, 1) + _layers_bytes(ekf, 1))


class NeuronCache:
    """Per-layer neuron caches sized from a DRAM budget that also pays for the resident
    part, `extra` bytes the caller holds (KV cache, predictor: name -> bytes) and the
    reader's landing buffer (reserved here, so reads never allocate).

    Capacity per layer: the largest that fits the budget (capped at d_ff), unless given.
    `reader` is a NeuronReader (read_bundles) on the same file.
    """

    def __init__(self, ekf: EkfFile, reader, budget_bytes: int, window: int = 5,
                 capacity: int | None = None, extra: dict | None = None,
                 io_buffer_bytes: int | None = None):
        """io_buffer_bytes: the reader's landing buffer (reads larger than it go in batches);
        default: what IO_BATCH_IDS scattered neurons can need, at most 1/16 of the budget."""
        self.ekf, self.reader, self.budget_bytes = ekf, reader, int(budget_bytes)
        self.extra = dict(extra or {})
        need = min_budget_bytes(ekf, reader, self.extra)
        if self.budget_bytes < need:
            parts = ", ".join(f"{k} {v}" for k, v in self.extra.items())
            raise DramBudgetError(
                f"DRAM budget {self.budget_bytes} bytes is below the minimum {need} bytes "
                f"(resident part {ekf.resident_bytes} bytes{', ' + parts if parts else ''}, "
                "I/O buffer and a one-neuron cache per layer); the whole model is "
                f"{ekf.resident_bytes + ekf.ffn_bytes} bytes. Raise the budget.")
        fixed = ekf.resident_bytes + sum(self.extra.values())
        one = _io_buffer_bytes(ekf, reader, 1)

        def io_buf(c: int) -> int:  # page multiples, as reserve() allocates
            if io_buffer_bytes is not None:
                n = max(int(io_buffer_bytes), one)
            else:
                n = max(one, min(_io_buffer_bytes(ekf, reader, min(c, IO_BATCH_IDS)),
                                 self.budget_bytes // 16))
            return -(-n // PAGE) * PAGE if one else 0  # one == 0: no reader to reserve

        def total(c: int) -> int:
            return fixed + io_buf(c) + _layers_bytes(ekf, c)

        if capacity is None:  # largest capacity that fits (total grows with it)
            lo, hi = 1, max(ekf.layout["d_ff"])
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if total(mid) <= self.budget_bytes else (lo, mid - 1)
            capacity = lo
        if total(capacity) > self.budget_bytes:
            raise DramBudgetError(
                f"capacity={capacity} rows per layer needs {total(capacity)} bytes, over the "
                f"DRAM budget of {self.budget_bytes} bytes; lower the capacity or raise the "
                "budget")
        if reader is not None and hasattr(reader, "reserve"):
            reader.reserve(io_buf(capacity))
        self.layers = [LayerCache(ekf.d_ff(i), ekf.d_model, min(capacity, ekf.d_ff(i)), window)
                       for i in range(ekf.n_layers)]

    def _fetch(self, layer: int) -> Fetch:
        return lambda ids, out: self.reader.read_bundles(layer, ids, out=out)

    def pin(self, layer: int, ids) -> None:
        self.layers[layer].pin(ids, self._fetch(layer))

    def update(self, layer: int, active) -> np.ndarray:
        """One token for one layer; returns the cache rows of `active` (see LayerCache)."""
        return self.layers[layer].update(active, self._fetch(layer))

    def views(self, layer: int):
        return self.layers[layer].views()

    @property
    def cache_bytes(self) -> int:
        return sum(c.nbytes for c in self.layers)

    @property
    def io_buffer_bytes(self) -> int:
        return getattr(self.reader, "buffer_bytes", 0)

    @property
    def total_bytes(self) -> int:
        return (self.ekf.resident_bytes + sum(self.extra.values()) + self.io_buffer_bytes
                + self.cache_bytes)

    def stats(self) -> dict:
        s = CacheStats()
        for c in self.layers:
            for k, v in c.stats.as_dict().items():
                setattr(s, k, getattr(s, k) + v)
        return s.as_dict()

    def reset_stats(self) -> None:
        for c in self.layers:
            c.stats.reset()

    def report(self) -> dict:
        """Memory in bytes: the budget, what is allocated against it, and what is live."""
        row = 4 * (2 * self.ekf.d_model + 1)
        return {
            "budget_bytes": self.budget_bytes,
            "resident_bytes": self.ekf.resident_bytes,
            "extra_bytes": dict(self.extra),
            "io_buffer_bytes": self.io_buffer_bytes,
            "cache_bytes": self.cache_bytes,
            "total_bytes": self.total_bytes,
            "within_budget": self.total_bytes <= self.budget_bytes,
            "model_bytes": self.ekf.resident_bytes + self.ekf.ffn_bytes,
            "capacity_per_layer": [c.capacity for c in self.layers],
            "used_per_layer": [c.used for c in self.layers],
            "live_bytes": sum(c.used for c in self.layers) * row,
        }
