"""The engine's per-layer window cache (the semantics the C runtime mirrors).

A (rows, width) matrix of canonical neuron rows per layer that grows (doubling) up to its
`capacity`, the rows the engine's budget reserved for it: insert appends after the live
rows, delete moves the last live rows into the holes, a neuron leaves once it was not
predicted for k tokens; at capacity, the least recently predicted rows not needed now go
first and what still does not fit is dropped (counted and reported, like a predictor miss).
"""
from __future__ import annotations

import numpy as np


class WindowCache:
    """Per-layer neuron cache: rows[:n] live, ids/last per slot, slot per neuron (-1 = absent)."""

    def __init__(self, f: int, capacity: int, width: int, initial: int = 64):
        self.capacity = capacity
        self.rows = np.zeros((min(capacity, initial), width), np.float32)
        self.peak = 0  # most live rows so far
        self.ids = np.full(capacity, -1, np.int64)
        self.last = np.zeros(capacity, np.int64)
        self.slot = np.full(f, -1, np.int64)
        self.n = 0
        self.pending_t = 0

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.ids.nbytes + self.last.nbytes + self.slot.nbytes

    def clear(self) -> None:
        self.slot[self.ids[:self.n]] = -1
        self.n = 0

    def _delete(self, holes: np.ndarray) -> None:
        """Remove the rows in `holes`: the last live rows move into the holes below the new end."""
        if len(holes) == 0:
            return
        self.slot[self.ids[holes]] = -1
        new_n = self.n - len(holes)
        gone = np.zeros(self.n, bool)
        gone[holes] = True
        low = np.flatnonzero(gone[:new_n])
        movers = new_n + np.flatnonzero(~gone[new_n:self.n])
        if len(low):
            self.rows[low] = self.rows[movers]
            self.ids[low] = self.ids[movers]
            self.last[low] = self.last[movers]
            self.slot[self.ids[low]] = low
        self.n = new_n

    def admit(self, want: np.ndarray, t: int, k: int) -> tuple[np.ndarray, int]:
        """Mark `want` (sorted ids) used at token t, evict what left the window of k tokens,
        make room; returns (ids to read, sorted; how many did not fit)."""
        slots = self.slot[want]
        hit = slots >= 0
        self.last[slots[hit]] = t
        live = self.last[:self.n]
        self._delete(np.flatnonzero(live < t - k))
        need = want[~hit]
        room = self.capacity - self.n
        if len(need) > room:  # evict the least recently used that this token does not need
            old = np.flatnonzero(self.last[:self.n] < t)
            old = old[np.argsort(self.last[old], kind="stable")][: len(need) - room]
            self._delete(old)
            room = self.capacity - self.n
        dropped = max(0, len(need) - room)
        if dropped:
            need = need[:room]
        self.pending_t = t
        return need, dropped

    def append_slots(self, need: np.ndarray) -> np.ndarray:
        """Slots for `need` at the end of the live rows; the caller reads the rows into them."""
        a, b = self.n, self.n + len(need)
        if b > len(self.rows):  # grow within the reserved capacity
            grown = np.zeros((min(self.capacity, max(b, 2 * len(self.rows))), self.rows.shape[1]), np.float32)
            grown[:self.n] = self.rows[:self.n]
            self.rows = grown
        self.peak = max(self.peak, b)
        self.ids[a:b] = need
        self.last[a:b] = self.pending_t
        self.slot[need] = np.arange(a, b)
        self.n = b
        return self.rows[a:b]

    def live_rows(self) -> np.ndarray:
        return self.rows[:self.n]

    def check(self) -> None:
        """Invariants (tests): slots and ids agree, no duplicates, n within capacity."""
        assert 0 <= self.n <= self.capacity
        live = self.ids[:self.n]
        assert len(np.unique(live)) == self.n
        assert np.all(self.slot[live] == np.arange(self.n))
        assert (self.slot >= 0).sum() == self.n
