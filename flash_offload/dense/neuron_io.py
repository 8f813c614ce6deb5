"""Read FFN neurons of one layer from an EKF file: parallel positional reads, O_DIRECT,
coalescing of nearby neurons into larger reads.

Modes: "bundled" (one read per run of bundles [up|down|b_up(|lin)]), "split" (the
no-bundling baseline: up rows and down rows from separate sections, plus b_up) and "layer"
(the whole layer every time). Rows are decoded from the file's storage (float32, float16,
int8 with per-row scales; storage.py) into canonical float32 rows. Cold reads: O_DIRECT where the filesystem allows it;
otherwise (tmpfs, some network filesystems) buffered reads with a warning, and with
`cold=True` the page cache of the file is dropped (posix_fadvise DONTNEED) before every
read call, outside the timed region.
"""
from __future__ import annotations

import mmap
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.dense.ekf_format import SPLIT_PARTS, EkfFile
from edgekiln.flash_offload.io.direct import open_direct, pread_exact
from edgekiln.flash_offload.io.sections import ALIGN

MODES = ("bundled", "split", "layer")


@dataclass
class IoStats:
    """Counters since the last reset(). bytes_read counts what the device transferred
    (alignment padding and coalescing gaps included); useful_bytes what was asked for."""
    bytes_read: int = 0
    useful_bytes: int = 0
    n_reads: int = 0
    io_seconds: float = 0.0
    neurons: int = 0

    def reset(self) -> None:
        self.bytes_read = self.useful_bytes = self.n_reads = self.neurons = 0
        self.io_seconds = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def plan_runs(starts: np.ndarray, row_bytes: int, gap_bytes: int, align: int) -> np.ndarray:
    """Merge byte ranges [s, s+row_bytes) (s sorted) into runs: ranges rounded out to `align`,
    then joined when the hole between them is <= gap_bytes. Returns (n_runs, 2) [start, end)."""
    if len(starts) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    s = starts.astype(np.int64) // align * align
    e = -(-(starts.astype(np.int64) + row_bytes) // align) * align
    # a new run starts where the hole to the previous range's end exceeds the gap
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] - reach[:-1] > gap_bytes
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(s)) - 1
    return np.stack([s[first], reach[last]], axis=1)


class NeuronReader:
    """Fetch neuron rows of one layer. Not thread-safe: one read call at a time."""

    def __init__(self, ekf: EkfFile | str | os.PathLike, threads: int = 4, direct: bool = True,
                 gap_bytes: int | None = 0, max_read_bytes: int = 256 << 10,
                 mode: str = "bundled", cold: bool = True, cost_model=None):
        """gap_bytes: holes between wanted rows up to this size are read through (one read
        instead of two); None takes it from `cost_model` (a CostModel, default if None)."""
        self.ekf = ekf if isinstance(ekf, EkfFile) else EkfFile(ekf)
        if gap_bytes is None:
            from edgekiln.flash_offload.dense.cost_model import CostModel
            gap_bytes = (cost_model or CostModel.default()).best_gap_bytes(threads)
        if mode not in MODES:
            raise InputError(f"unknown read mode {mode!r}: use one of {MODES}")
        if threads < 1 or max_read_bytes < ALIGN or gap_bytes < 0:
            raise InputError("threads must be >= 1, max_read_bytes >= 4096, gap_bytes >= 0")
        self.mode, self.threads, self.gap_bytes, self.cold = mode, threads, gap_bytes, cold
        self.max_read_bytes = max_read_bytes // ALIGN * ALIGN
        self.stats = IoStats()
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self._buf = mmap.mmap(-1, ALIGN)  # page aligned, as O_DIRECT needs; grows on demand
        self.buffer_limit: int | None = None  # set by reserve(): fixed size from then on
        self._fd_buffered = os.open(self.ekf.path, os.O_RDONLY)
        self._fd = self._fd_buffered
        self.direct = False
        self._lock = threading.Lock()
        fd = open_direct(self.ekf.path) if direct else None
        if fd is not None:
            self._fd, self.direct = fd, True

    @property
    def align(self) -> int:
        return ALIGN if self.direct else 4

    # --- public API ---
    def read(self, layer: int, ids, mode: str | None = None):
        """(up (n,d), b_up (n,), down (n,d)[, lin (n,d)]) for `ids` in the given order."""
        rows = self.read_bundles(layer, ids, mode)
        d = self.ekf.d_model
        out = (rows[:, :d], rows[:, 2 * d], rows[:, d:2 * d])
        return out + ((rows[:, 2 * d + 1:],) if self.ekf.gated else ())

    def read_bundles(self, layer: int, ids, mode: str | None = None,
                     out: np.ndarray | None = None) -> np.ndarray:
        """Canonical rows [up j | down j | b_up j (| lin j)] float32 for `ids` in the given order
        (duplicates allowed; each neuron is read once). `out`, if given, receives them."""
        mode = mode or self.mode
        if mode not in MODES:
            raise InputError(f"unknown read mode {mode!r}: use one of {MODES}")
        d, f = self.ekf.d_model, self.ekf.d_ff(layer)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) and (ids.min() < 0 or ids.max() >= f):
            raise InputError(f"neuron ids must be in [0, {f}) for layer {layer}")
        uniq, inv = np.unique(ids, return_inverse=True)
        width = self.ekf.row_floats
        if out is None:
            out = np.empty((len(ids), width), dtype=np.float32)
        if len(ids) == 0:
            return out
        if self.cold and not self.direct:
            self.drop_cache()
        in_order = len(uniq) == len(ids) and bool((uniq == ids).all())
        tmp = out if in_order else np.empty((len(uniq), width), dtype=np.float32)
        parts = self._parts(layer, mode)
        # "layer" reads every neuron (naive) and keeps the wanted ones
        read_ids = np.arange(f) if mode == "layer" else uniq
        for a, b in self._batches(parts, read_ids):
            chunk = read_ids[a:b]
            if mode == "layer":
                lo, hi = np.searchsorted(uniq, [chunk[0], chunk[-1] + 1])
                self._read_chunk(parts, chunk, uniq[lo:hi] - chunk[0], tmp[lo:hi])
            else:
                self._read_chunk(parts, chunk, np.arange(len(chunk)), tmp[a:b])
        if not in_order:
            np.take(tmp, inv, axis=0, out=out)
        self.stats.useful_bytes += sum(c.row_bytes for _, _, c in parts) * len(uniq)
        self.stats.neurons += len(uniq)
        return out

    def _read_chunk(self, parts, ids: np.ndarray, sel: np.ndarray, dst: np.ndarray) -> None:
        """Read neurons `ids` (sorted) of every part; dst[k] gets the row of ids[sel[k]]."""
        plans, total = [], 0
        for sec, row_bytes, _ in parts:
            starts = sec.offset + ids * sec.stride
            runs = plan_runs(starts, row_bytes, self.gap_bytes, self.align)
            plans.append((runs, total, starts))
            total += int((runs[:, 1] - runs[:, 0]).sum())
        buf = self._buffer(total)
        self._read_runs([p[0] for p in plans], [p[1] for p in plans], buf)
        if len(sel) == 0:
            return
        raw8 = np.frombuffer(buf, dtype=np.uint8, count=total)
        for (runs, base, starts), (_, row_bytes, codec) in zip(plans, parts):
            lens = runs[:, 1] - runs[:, 0]
            buf_off = base + np.concatenate([[0], np.cumsum(lens)[:-1]])
            st = starts[sel]
            r = np.searchsorted(runs[:, 0], st, side="right") - 1
            pos = buf_off[r] + st - runs[r, 0]
            # every byte offset as the start of a stored row: one row gather, no 2-D index array
            rows_at = np.lib.stride_tricks.as_strided(
                raw8, shape=(len(raw8) - row_bytes + 1, row_bytes), strides=(1, 1), writeable=False)
            codec.decode(rows_at[pos], dst)

    def _per_id_bound(self, parts, mode: str) -> int:
        """Most landing-buffer bytes one more neuron can add to a read plan."""
        if mode == "layer":  # contiguous: rows only (alignment counted once per batch)
            return sum(sec.stride for sec, _, _ in parts)
        return sum(row + 2 * self.align + self.gap_bytes for _, row, _ in parts)

    def _batches(self, parts, ids: np.ndarray) -> list[tuple[int, int]]:
        """Split sorted ids into [a, b) batches whose read plans fit buffer_limit, using
        each neuron's actual cost: the bytes it adds to the plan after the previous one."""
        n = len(ids)
        if self.buffer_limit is None or n == 0:
            return [(0, n)]
        first = np.zeros(n, dtype=np.int64)  # cost when it opens a batch
        inc = np.zeros(n, dtype=np.int64)    # cost after the previous id
        for sec, row, _ in parts:
            st = sec.offset + ids * sec.stride
            s = st // self.align * self.align
            e = -(-(st + row) // self.align) * self.align
            first += e - s
            inc[0] += e[0] - s[0]
            merged = s[1:] - e[:-1] <= self.gap_bytes  # as plan_runs joins them
            inc[1:] += np.where(merged, e[1:] - e[:-1], e[1:] - s[1:])
        if first.max() > self.buffer_limit:
            raise InputError(f"I/O buffer of {self.buffer_limit} bytes cannot hold one neuron "
                             f"({first.max()} bytes); reserve more")
        cum = np.cumsum(inc)
        out, a = [], 0
        while a < n:
            # batch [a, b): first[a] + cum[b-1] - cum[a] <= limit
            b = int(np.searchsorted(cum, self.buffer_limit - first[a] + cum[a], side="right"))
            b = max(b, a + 1)
            out.append((a, b))
            a = b
        return out

    def buffer_bytes_for(self, layer: int, n_ids: int, mode: str | None = None) -> int:
        """Landing buffer that reads of up to n_ids neurons in one batch never exceed."""
        mode = mode or self.mode
        parts = self._parts(layer, mode)
        if mode == "layer":
            n_ids = self.ekf.d_ff(layer)
            return n_ids * self._per_id_bound(parts, mode) + 2 * ALIGN * len(parts)
        whole = sum(-(-sec.nbytes // ALIGN) * ALIGN for sec, _, _ in parts)
        return min(whole, n_ids * self._per_id_bound(parts, mode))

    def reserve(self, nbytes: int) -> None:
        """Allocate the landing buffer now and never grow it: larger requests are read in
        batches that fit (no allocation during generation; the bytes count in budgets)."""
        nbytes = -(-max(nbytes, ALIGN) // ALIGN) * ALIGN
        if len(self._buf) != nbytes:
            self._buf = mmap.mmap(-1, nbytes)
        self.buffer_limit = nbytes

    @property
    def buffer_bytes(self) -> int:
        """DRAM held by the landing buffer."""
        return len(self._buf)

    def read_rows(self, layer: int, ids, dst: np.ndarray) -> int:
        """Fill dst[:len(ids)] with bundles of `ids`; returns the bytes read from the file."""
        before = self.stats.bytes_read
        self.read_bundles(layer, ids, out=dst[:len(ids)])
        return self.stats.bytes_read - before

    def read_layer(self, layer: int) -> np.ndarray:
        """All canonical rows of a layer, read whole."""
        return self.read_bundles(layer, np.arange(self.ekf.d_ff(layer)), mode="layer")

    def drop_cache(self) -> None:
        """Evict this file's clean pages from the OS page cache (next buffered reads are cold)."""
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd_buffered, 0, 0, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        if self._pool:
            self._pool.shutdown()
        if self._fd != self._fd_buffered:
            os.close(self._fd)
        os.close(self._fd_buffered)
        self._buf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- internals ---
    def _parts(self, layer: int, mode: str):
        """(section, stored bytes per row, codec decoding them into canonical columns)."""
        if mode == "bundled" or (mode == "layer" and "bundled" in self.ekf.layouts):
            s = self.ekf.bundled_section(layer)
            c = self.ekf.codec()
            return [(s, c.row_bytes, c)]
        out = []
        for s in self.ekf.split_sections(layer):
            c = self.ekf.codec(SPLIT_PARTS[s.kind])
            out.append((s, c.row_bytes, c))
        return out

    def _buffer(self, nbytes: int) -> memoryview:
        if len(self._buf) < nbytes:
            assert self.buffer_limit is None, "batches are sized to the reserved buffer"
            # the old map is freed when no view of it is left (closing it could fail)
            self._buf = mmap.mmap(-1, max(nbytes, 2 * len(self._buf)))
        return memoryview(self._buf)[:nbytes]

    def _read_runs(self, run_lists, bases, buf: memoryview) -> None:
        """Read every run into buf (laid out back to back), runs cut into max_read pieces."""
        tasks = []
        for runs, base in zip(run_lists, bases):
            at = base
            for start, end in runs.tolist():
                for s in range(start, end, self.max_read_bytes):
                    n = min(self.max_read_bytes, end - s)
                    tasks.append((s, at + s - start, n))
                at += end - start
        t0 = time.perf_counter()
        if self._pool is None:
            for t in tasks:
                self._pread(buf, *t)
        else:
            # one pool task per thread (reads dealt round-robin): pool overhead per call,
            # not per read
            def run(group):
                for t in group:
                    self._pread(buf, *t)
            list(self._pool.map(run, [tasks[k::self.threads] for k in range(self.threads)]))
        self.stats.io_seconds += time.perf_counter() - t0
        self.stats.n_reads += len(tasks)
        self.stats.bytes_read += sum(t[2] for t in tasks)

    def _pread(self, buf: memoryview, offset: int, at: int, n: int) -> None:
        pread_exact(self._fd, buf[at:at + n], offset, self.ekf.path)
