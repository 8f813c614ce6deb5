"""The engine's neuron reads and per-layer window cache (stand-ins until the storage modules'
neuron_io / neuron_cache take over; same ideas: O_DIRECT preads, coalescing, no reallocation).

NeuronReader.read_rows(layer, ids, dst) fills dst[k] = [up | down | b_up] of neuron ids[k]
from the split or the bundled layout, reading each run of consecutive ids with one pread
(4 KiB-aligned under O_DIRECT) on a thread pool.
WindowCache keeps a preallocated (capacity, 2d+1) matrix per layer: insert appends, delete
moves the last live rows into the holes, neurons leave once unused for k tokens.
"""
from __future__ import annotations

import mmap
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .ekf_format import ALIGN, EkfFile

PIECE = 256 << 10      # big requests are split into pieces this size for the thread pool


class NeuronReader:
    def __init__(self, ekf: EkfFile, layout: str, direct: bool = True, threads: int = 4, cold: bool = True,
                 max_run: int = 256):
        self.ekf, self.layout, self.cold = ekf, layout, cold
        self.d = ekf.d_model
        self.direct = False
        self.fd = -1
        if direct and hasattr(os, "O_DIRECT"):
            try:
                fd = os.open(ekf.path, os.O_RDONLY | os.O_DIRECT)
                probe = mmap.mmap(-1, ALIGN)
                os.preadv(fd, [probe], 0)
                self.fd, self.direct = fd, True
            except OSError as e:
                warnings.warn(f"O_DIRECT not available on {ekf.path} ({e}); reading through the page cache"
                              + (" and dropping it before each read (cold reads)" if cold else ""), stacklevel=2)
        if self.fd < 0:
            self.fd = os.open(ekf.path, os.O_RDONLY)
        self.max_run = max_run
        self.arena_bytes = self.arena_size(ekf, max_run)
        self.arena = mmap.mmap(-1, self.arena_bytes)  # page aligned, as O_DIRECT needs
        self.view = memoryview(self.arena)
        self.pool = ThreadPoolExecutor(max(1, threads))
        self.reset_counters()

    @staticmethod
    def arena_size(ekf: EkfFile, max_run: int) -> int:
        """Landing buffer for one run of max_run neurons plus its 4 KiB alignment slack."""
        return -(-(max_run * max(ekf.bundle_stride, 4 * ekf.d_model) + 2 * ALIGN) // ALIGN) * ALIGN

    def reset_counters(self) -> None:
        self.bytes_read = 0
        self.reads = 0

    def close(self) -> None:
        self.pool.shutdown()
        os.close(self.fd)

    def _pieces(self, layer: int):
        """(file offset of neuron 0, bytes per neuron, first column in dst, columns) per section."""
        d = self.d
        if self.layout == "bundled":
            s = self.ekf.bundled_section(layer)
            return [(s.offset, s.stride, 0, 2 * d + 1)]
        up, down, b = self.ekf.split_sections(layer)
        return [(up.offset, up.stride, 0, d), (down.offset, down.stride, d, d), (b.offset, b.stride, 2 * d, 1)]

    def read_rows(self, layer: int, ids: np.ndarray, dst: np.ndarray) -> int:
        """Fill dst[:len(ids)] with the neurons' rows; returns the bytes read from the file."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return 0
        if np.any(np.diff(ids) <= 0):
            raise ValueError("neuron ids must be sorted and unique")
        if self.cold and not self.direct:
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        # runs of consecutive ids, at most max_run long
        brk = np.flatnonzero(np.diff(ids) != 1) + 1
        starts = np.concatenate(([0], brk))
        ends = np.concatenate((brk, [len(ids)]))
        runs = []
        for a, b in zip(starts.tolist(), ends.tolist()):
            for s in range(a, b, self.max_run):
                runs.append((s, min(b, s + self.max_run)))
        total = 0
        for base, stride, col, width in self._pieces(layer):
            reqs = []  # (aligned offset, length, [(dst row0, n, offset within request)])
            for a, b in runs:
                off = base + int(ids[a]) * stride
                end = base + int(ids[b - 1]) * stride + stride
                lo, hi = (off // ALIGN * ALIGN, -(-end // ALIGN) * ALIGN) if self.direct else (off, end)
                if reqs and lo <= reqs[-1][0] + reqs[-1][1] and hi - reqs[-1][0] <= self.arena_bytes:
                    r0, rl, parts = reqs[-1]
                    reqs[-1] = (r0, max(rl, hi - r0), parts + [(a, b - a, off - r0)])  # coalesce shared blocks
                else:
                    reqs.append((lo, hi - lo, [(a, b - a, off - lo)]))
            total += self._run_batches(reqs, stride, col, width, dst)
        self.bytes_read += total
        return total

    def _run_batches(self, reqs, stride, col, width, dst) -> int:
        total, i = 0, 0
        while i < len(reqs):
            batch, used = [], 0
            while i < len(reqs) and (not batch or used + reqs[i][1] <= self.arena_bytes):
                batch.append((reqs[i], used))
                used += -(-reqs[i][1] // ALIGN) * ALIGN
                i += 1
            jobs = []
            for (off, length, _), at in batch:
                for p in range(0, length, PIECE):
                    n = min(PIECE, length - p)
                    jobs.append((off + p, at + p, n))
            got = list(self.pool.map(lambda j: os.preadv(self.fd, [self.view[j[1]:j[1] + j[2]]], j[0]), jobs))
            if any(g < j[2] for g, j in zip(got, jobs)):
                raise OSError(f"short read from {self.ekf.path}: the file is truncated; re-pack the model")
            self.reads += len(jobs)
            for (_, length, parts), at in batch:
                total += length
                for row0, n, rel in parts:
                    start = at + rel
                    m = np.frombuffer(self.arena, dtype="<f4", count=n * stride // 4, offset=start).reshape(n, stride // 4)
                    dst[row0:row0 + n, col:col + width] = m[:, :width]
        return total


class WindowCache:
    """Per-layer neuron cache: rows[:n] live, ids/last per slot, slot per neuron (-1 = absent)."""

    def __init__(self, f: int, capacity: int, width: int):
        self.capacity = capacity
        self.rows = np.zeros((capacity, width), np.float32)
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
