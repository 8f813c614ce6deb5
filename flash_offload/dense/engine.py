"""The offloaded token loop: attention and embeddings in DRAM, FFN neurons read from the .ekf.

Configs (the benchmark's rows), each adding one idea of LLM in a flash:
  naive      the fair baseline: with the same DRAM budget, the first neurons of each layer
             that fit stay resident; the rest (one contiguous range) is read every token in
             the chunk size and with the threads the fitted cost model predicts fastest
  hybrid     the most frequently active neurons stay in DRAM (static set); the rest is read
             (split layout, holes the cost model calls cheap read through)
  predictor  + read only the non-static neurons the predictor marks active
  window     + keep neurons predicted in the last k tokens in a per-layer cache
  bundle     + bundled layout ([up | down | b_up (| lin)] per neuron), one coalesced read per run
Every budgeted buffer is reserved up front; the window caches start small and grow, within
the rows reserved for them, to what the window needs; neurons they cannot hold are dropped
and counted (TokenStats.dropped). Engines that plan reads from the cost model (naive,
hybrid) measure one on the file when none is given.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from edgekiln.errors import InputError, MemoryBudgetError

from edgekiln.flash_offload.dense.cost_model import CostModel
from edgekiln.flash_offload.dense.ekf_format import EkfFile
from edgekiln.flash_offload.lm.model import KVCache, forward_token
from edgekiln.flash_offload.lm.model import ffn_rows as lm_ffn_rows
from edgekiln.flash_offload.dense.window_cache import WindowCache
from edgekiln.flash_offload.dense.neuron_io import NeuronReader
from edgekiln.flash_offload.io.sections import ALIGN

CONFIGS = ("naive", "hybrid", "predictor", "window", "bundle")
ARENA_MAX = 1 << 20  # reader landing buffer: larger requests are read in several batches
ARENA_MIN = 256 << 10
MIN_CACHE_ROWS = 16  # per layer: below this a window cache is not worth having
CACHE_SLACK = 16     # rows added to each layer's estimated window need


def chunk_neurons(f: int) -> int:
    """naive/hybrid stream a layer through a staging buffer of this many rows (also the
    longest single read run), so no config needs a whole layer in DRAM."""
    return min(512, max(64, f // 8))


class ActivityPredictor(Protocol):
    model_hash: str
    nbytes: int

    def predict(self, layer: int, h: np.ndarray) -> np.ndarray: ...
    def ranking(self, layer: int) -> np.ndarray: ...


@dataclass
class TokenStats:
    io_ms: float = 0.0
    mem_mgmt_ms: float = 0.0
    compute_ms: float = 0.0
    bytes_read: int = 0
    neurons_loaded: int = 0
    neurons_computed: int = 0
    predicted: int = 0
    dropped: int = 0  # predicted but no cache room (treated like a miss)
    missed: int = -1  # active neurons not computed (audit mode only; -1 = not audited)

    @property
    def total_ms(self) -> float:
        return self.io_ms + self.mem_mgmt_ms + self.compute_ms


@dataclass
class MemoryPlan:
    budget_bytes: int
    resident_bytes: int
    kv_bytes: int
    predictor_bytes: int
    static_bytes: int
    cache_bytes: int
    staging_bytes: int
    static_per_layer: int
    cache_per_layer: int      # the largest layer's cache ceiling
    cache_rows: list          # each layer's cache ceiling (rows it may grow to)
    parts: dict  # the I/O buffers' split and the model's size, for reports

    @property
    def used_bytes(self) -> int:
        return (self.resident_bytes + self.kv_bytes + self.predictor_bytes + self.static_bytes
                + self.cache_bytes + self.staging_bytes)


class OffloadEngine:
    """Generate from an .ekf file within `budget_bytes` of DRAM for weights, caches and buffers.

    predictor: needed by predictor/window/bundle (which neurons to read) and used by
    hybrid for the static ranking (else neuron order). static_fraction / cache_fraction
    override the automatic split of the budget; by default each layer's window cache may grow
    to its estimated need ((k+1) x the predicted non-static neurons per token, from the
    predictor's training statistics) and the static set gets the rest. cost_model: the fitted
    I/O model (bench-io) that naive and hybrid plan their reads with; measured on the file
    when None.
    """

    def __init__(self, ekf: str | Path | EkfFile, config: str = "bundle", predictor: ActivityPredictor | None = None,
                 budget_bytes: int | None = None, window_k: int = 4, cache_fraction: float | None = None,
                 static_fraction: float | None = None, direct: bool = True, threads: int = 4,
                 cold: bool = True, verify: bool = True, audit: bool = False, cost_model: CostModel | None = None):
        if config not in CONFIGS:
            raise InputError(f"unknown config {config!r}; choose one of {', '.join(CONFIGS)}")
        self.ekf = ekf if isinstance(ekf, EkfFile) else EkfFile(ekf)
        if verify:
            self.ekf.verify()
        self.name = config
        self.cfg = dict(self.ekf.config)
        self.L, self.d, self.f = self.cfg["L"], self.cfg["d"], self.cfg["f"]
        layout = "bundled" if config == "bundle" else "split"
        if layout not in self.ekf.layouts:
            raise InputError(f"config {config!r} needs the {layout!r} layout; {self.ekf.path} has {self.ekf.layouts}: "
                             f"re-pack with both layouts")
        if config in ("predictor", "window", "bundle"):
            if predictor is None:
                raise InputError(f"config {config!r} needs a predictor (--predictor P.npz; `kiln flash-offload train-predictor`)")
        if predictor is not None:
            pred_hash = getattr(predictor, "model_hash", None)
            if pred_hash != self.ekf.model_hash:
                raise InputError(f"the predictor was trained for model {str(pred_hash)[:12]}…, not for {self.ekf.path} "
                                 f"({self.ekf.model_hash[:12]}…); train one with `kiln flash-offload train-predictor`")
        self.predictor = predictor
        self.window_k = window_k if config in ("window", "bundle") else 0
        self.resident = self.ekf.resident()
        self.width, self.gated = self.ekf.row_floats, self.ekf.gated
        row_bytes = 4 * self.width  # a neuron in DRAM: its canonical float32 row
        self.chunk = chunk_neurons(self.f)
        self.cost_model = cost_model
        if self.cost_model is None and config in ("naive", "hybrid"):
            from edgekiln.flash_offload.dense.bench_io import measure_file
            self.cost_model, _ = measure_file(self.ekf.path, direct=direct)
        self.read_plan: dict = {"threads": threads}
        if config == "naive":
            # the fair baseline reads its non-resident range as the disk streams fastest, with
            # at most a quarter of what the budget leaves for the landing buffer and staging rows
            layout = "bundled" if "bundled" in self.ekf.layouts else "split"
            stored = self.ekf.codec().row_bytes if layout == "bundled" else sum(
                s.stride for s in self.ekf.split_sections(0))
            free = (budget_bytes if budget_bytes is not None else (self.ekf.resident_bytes + self.ekf.ffn_bytes) // 2) \
                - sum(a.nbytes for a in self.resident.values()) - KVCache.bytes_for(self.cfg)
            chunk_bytes, read_threads, self.chunk, predicted = self._naive_plan(free, row_bytes, stored)
            self.reader = NeuronReader(self.ekf, threads=read_threads, direct=direct, mode=layout, cold=cold,
                                       gap_bytes=0, max_read_bytes=max(chunk_bytes, ALIGN))
            self.read_plan = {"chunk_bytes": chunk_bytes, "threads": read_threads, "layout": layout,
                              "rows_per_call": self.chunk, "predicted_io_ms_per_token": predicted * 1e3}
            # naive's ids are one contiguous range: a call reads rows x stored bytes, rounded out to
            # 4 KiB at both ends (per section); the reader's batches are exact, so this is enough
            parts = 1 if layout == "bundled" else len(self.ekf.split_sections(0))
            arena = self.chunk * stored + 2 * ALIGN * parts
        else:
            # hybrid reads "the rest" whole: holes the cost model says are cheaper to read through
            # are read through; the predictor configs read only the rows they need (gap 0)
            self.reader = NeuronReader(self.ekf, threads=threads, direct=direct, mode=layout, cold=cold,
                                       gap_bytes=None if config == "hybrid" else 0, cost_model=self.cost_model)
            arena = min(self.reader.buffer_bytes_for(0, self.chunk), ARENA_MAX)
            if config in ("predictor", "window", "bundle"):  # a few scattered neurons per layer and token
                arena = min(arena, max(8 * self.reader.buffer_bytes_for(0, 1), ARENA_MIN))
            if config == "hybrid":
                self.read_plan["gap_bytes"] = self.reader.gap_bytes
        self.plan = self._plan(budget_bytes, row_bytes, cache_fraction, static_fraction, predictor, arena)
        self.reader.reserve(arena)  # fixed landing buffer: larger requests are read in batches
        self._load_static(predictor)
        uses_cache = config in ("predictor", "window", "bundle")
        self.caches = [WindowCache(self.f, n, self.width) for n in self.plan.cache_rows] if uses_cache else []
        stage_rows = self.chunk if not uses_cache else 0
        self.staging = np.zeros((stage_rows, self.width), np.float32)
        self.kv = KVCache.empty(self.cfg)
        self.token_index = 0
        # audit: count active neurons the engine did not compute (full FFN kept outside the budget)
        self.audit = [self.ekf.ffn(i) for i in range(self.L)] if audit else None

    def _naive_plan(self, free: int, row_bytes: int, stored: int) -> tuple[int, int, int, float]:
        """(chunk bytes, threads, rows per read call, predicted seconds per token) of the fair
        naive: over the cost model's measured chunk sizes and thread counts, the landing buffer
        + staging rows one call needs (threads x chunk in flight) against the resident rows
        they cost; the plan with the least predicted read time for what is not resident."""
        best = None
        for c in self.cost_model.chunks or (256 << 10,):
            for n in sorted(self.cost_model.params):
                rows = int(min(self.f, max(1, -(-n * c // stored))))
                buf = rows * (row_bytes + stored) + 2 * ALIGN
                if buf > free // 2 and best is not None:
                    continue  # at most half of what the budget leaves goes to buffers
                static = min(self.f, max(0, (free - buf) // (self.L * row_bytes)))
                rest = self.L * (self.f - static) * stored
                lat, bw = self.cost_model.params[n]
                sec = (rest / c) * (lat + c / bw) if rest else 0.0
                if best is None or sec < best[3]:
                    best = (c, n, rows, sec)
        return best

    # --- memory ---
    def _plan(self, budget, row_bytes, cache_fraction, static_fraction, predictor, arena) -> MemoryPlan:
        L, f = self.L, self.f
        resident = sum(a.nbytes for a in self.resident.values())
        kv = KVCache.bytes_for(self.cfg)
        pred = int(predictor.nbytes) if predictor is not None and self.name != "naive" else 0
        staging = self.chunk * row_bytes if self.name in ("naive", "hybrid") else 0
        fixed = resident + kv + pred + arena + staging
        model = self.ekf.resident_bytes + self.ekf.ffn_bytes
        if budget is None:
            budget = model // 2
        uses_cache = self.name in ("predictor", "window", "bundle")
        least = (int(cache_fraction * f) if cache_fraction is not None else min(f, MIN_CACHE_ROWS)) if uses_cache else 0
        minimum = fixed + L * least * row_bytes
        if budget < minimum:
            raise MemoryBudgetError(
                f"DRAM budget {budget} bytes is too small for config {self.name!r}: resident weights {resident}, "
                f"KV cache {kv}, predictor {pred}, I/O buffers {arena + staging}, neuron cache {L * least * row_bytes} "
                f"need at least {minimum} bytes; raise --budget-bytes to {minimum} or more")
        rows = (budget - fixed) // row_bytes  # DRAM rows for static neurons and window caches
        caps = [0] * L
        if not uses_cache:
            static = int(static_fraction * f) if static_fraction is not None else rows // L
            static = min(static, f)
        elif cache_fraction is not None:
            caps = [int(cache_fraction * f)] * L
            static = int(static_fraction * f) if static_fraction is not None else (rows - sum(caps)) // L
            static = min(static, f)
        else:
            static, caps = self._split_rows(rows, static_fraction, predictor)
        if fixed + (L * static + sum(caps)) * row_bytes > budget:
            raise MemoryBudgetError(f"static_fraction {static_fraction} does not fit the budget of {budget} bytes; "
                                    f"at most {max(0, (rows - sum(caps)) // L)} static neurons per layer fit")
        return MemoryPlan(budget, resident, kv, pred, L * static * row_bytes, sum(caps) * row_bytes,
                          arena + staging, static, max(caps), caps,
                          {"arena": arena, "staging": staging, "model_bytes": model})

    def _split_rows(self, rows: int, static_fraction, predictor) -> tuple[int, list[int]]:
        """Static neurons per layer and each layer's window-cache ceiling, from `rows` DRAM
        rows: the cache may grow to (k+1) x the predicted non-static neurons per token (the
        predictor's training statistics) + slack; the static set takes the rest."""
        L, f, k = self.L, self.f, self.window_k
        need = np.zeros((L, f + 1))
        info = getattr(predictor, "info", {}) or {}
        freq = getattr(predictor, "freq", None)
        for i in range(L):
            if freq is not None and len(freq) > i:
                fq = np.asarray(freq[i], np.float64)[np.asarray(predictor.ranking(i))]
                total = max(fq.sum(), 1e-9)
                per_token = (info.get("predicted_per_token") or [1.5 * total] * L)[i]
                tail = total - np.concatenate([[0.0], np.cumsum(fq)])  # activity left outside s static
                need[i] = np.ceil((k + 1) * per_token * tail / total) + CACHE_SLACK
            else:  # no statistics: the old fixed eighth of the layer
                need[i] = max(MIN_CACHE_ROWS, f // 8)
            need[i] = np.minimum(need[i], f - np.arange(f + 1))
            need[i] = np.maximum(need[i], np.minimum(MIN_CACHE_ROWS, f - np.arange(f + 1)))
        total_rows = L * np.arange(f + 1) + need.sum(axis=0)
        if static_fraction is not None:
            s = min(int(static_fraction * f), f)
            left = rows - L * s
            caps = [int(min(need[i, s], max(left, 0) // L)) for i in range(L)]
            return s, caps
        ok = np.flatnonzero(total_rows <= rows)
        if len(ok):
            s = int(ok.max())
            if s < f:  # leftover rows (rounding): give them to the caches, up to f - s each
                spare = rows - int(total_rows[s])
                caps = [int(min(f - s, need[i, s] + spare // L)) for i in range(L)]
            else:
                caps = [0] * L
            return s, caps
        return 0, [int(min(f, rows // L))] * L  # not even the need fits: caches get it all, drops reported

    def _load_static(self, predictor) -> None:
        """Static DRAM neurons: per layer the most frequently active (neuron order without a ranking)."""
        s = self.plan.static_per_layer
        self.static_ids, self.static_rows, self.static_mask = [], [], []
        for i in range(self.L):
            # naive keeps the first neurons (its rest is one contiguous range to stream)
            order = predictor.ranking(i) if predictor is not None and self.name != "naive" else np.arange(self.f)
            ids = np.sort(np.asarray(order[:s], dtype=np.int64))
            rows = np.zeros((len(ids), self.width), np.float32)
            if len(ids):
                self.reader.read_rows(i, ids, rows)
            mask = np.zeros(self.f, bool)
            mask[ids] = True
            self.static_ids.append(ids)
            # kept as contiguous up / b_up / down (/ lin) blocks: slicing one wide matrix per token
            # would copy the whole static set every call
            d = self.d
            self.static_rows.append((np.ascontiguousarray(rows[:, :d]), rows[:, 2 * d].copy(),
                                     np.ascontiguousarray(rows[:, d:2 * d]),
                                     np.ascontiguousarray(rows[:, 2 * d + 1:]) if self.gated else None))
            self.static_mask.append(mask)
        self.reader.stats.reset()

    def memory_report(self) -> dict:
        p = self.plan
        return {**{k: v for k, v in asdict(p).items() if k != "parts"}, "used_bytes": p.used_bytes,
                "model_bytes": p.parts["model_bytes"], "within_budget": p.used_bytes <= p.budget_bytes,
                "cache_peak_rows": [c.peak for c in self.caches], "read_plan": self.read_plan,
                "cost_model": self.cost_model.to_json() if self.cost_model is not None else None,
                "storage": self.ekf.storage}

    # --- token loop ---
    def reset(self) -> None:
        self.kv = KVCache.empty(self.cfg)
        self.token_index = 0
        for c in self.caches:
            c.clear()

    def _rows_ffn(self, rows: np.ndarray, h: np.ndarray) -> np.ndarray:
        d = self.d
        a = rows[:, :d] @ h + rows[:, 2 * d]
        np.maximum(a, 0, out=a)
        if self.gated:
            a *= rows[:, 2 * d + 1:] @ h
        return a @ rows[:, d:2 * d]

    def _ffn(self, i: int, h: np.ndarray, st: TokenStats) -> np.ndarray:
        t0 = time.perf_counter()
        y = lm_ffn_rows(h, *self.static_rows[i]) if len(self.static_ids[i]) else np.zeros(len(h), np.float32)
        st.neurons_computed += len(self.static_ids[i])
        st.compute_ms += (time.perf_counter() - t0) * 1e3
        if self.name in ("naive", "hybrid"):
            rest = np.flatnonzero(~self.static_mask[i])
            for s in range(0, len(rest), self.chunk):
                ids = rest[s:s + self.chunk]
                rows = self.staging[:len(ids)]
                t0 = time.perf_counter()
                st.bytes_read += self.reader.read_rows(i, ids, rows)
                t1 = time.perf_counter()
                y = y + self._rows_ffn(rows, h)
                st.io_ms += (t1 - t0) * 1e3
                st.compute_ms += (time.perf_counter() - t1) * 1e3
                st.neurons_loaded += len(ids)
                st.neurons_computed += len(ids)
            return y
        t0 = time.perf_counter()
        pred = self.predictor.predict(i, h)
        want = np.flatnonzero(pred & ~self.static_mask[i])
        st.predicted += int(pred.sum())
        t1 = time.perf_counter()
        cache = self.caches[i]
        need, dropped = cache.admit(want, self.token_index, self.window_k)
        st.dropped += dropped
        t2 = time.perf_counter()
        if len(need):
            dst = cache.append_slots(need)
            st.bytes_read += self.reader.read_rows(i, need, dst)
        t3 = time.perf_counter()
        rows = cache.live_rows()
        if self.audit is not None:
            up, b_up = self.audit[i][0], self.audit[i][1]
            computed = self.static_mask[i].copy()
            computed[cache.ids[:cache.n]] = True
            st.missed = max(st.missed, 0) + int(((up @ h + b_up > 0) & ~computed).sum())
        if len(rows):
            y = y + self._rows_ffn(rows, h)
        t4 = time.perf_counter()
        st.neurons_loaded += len(need)
        st.neurons_computed += len(rows)
        st.compute_ms += ((t1 - t0) + (t4 - t3)) * 1e3
        st.mem_mgmt_ms += (t2 - t1) * 1e3
        st.io_ms += (t3 - t2) * 1e3
        return y

    def step(self, token: int) -> tuple[np.ndarray, TokenStats]:
        """Logits after `token`; the stats of this token's work."""
        if not 0 <= int(token) < self.cfg["V"]:
            raise InputError(f"token {token} outside the vocabulary 0..{self.cfg['V'] - 1}")
        st = TokenStats()
        t0 = time.perf_counter()
        logits = forward_token(self.cfg, self.resident, int(token), self.kv, lambda i, h: self._ffn(i, h, st))
        wall = (time.perf_counter() - t0) * 1e3
        # attention, norms and logits count as compute: the rest of the wall time
        st.compute_ms += max(0.0, wall - st.total_ms)
        self.token_index += 1
        return logits, st

    def generate(self, prompt: Sequence[int], n: int) -> tuple[list[int], list[TokenStats]]:
        """Greedy continuation of prompt; stats for every processed token (prompt included)."""
        if not prompt:
            raise InputError("the prompt needs at least one token")
        if len(prompt) + n > self.cfg["T"]:
            raise InputError(f"prompt ({len(prompt)} tokens) + {n} new tokens exceed the context of {self.cfg['T']}")
        self.reset()
        stats, out, logits = [], [], None
        for t in prompt:
            logits, st = self.step(int(t))
            stats.append(st)
        for _ in range(n):
            out.append(int(np.argmax(logits)))
            if len(out) == n:
                break
            logits, st = self.step(out[-1])
            stats.append(st)
        return out, stats


def summarize(stats: Sequence[TokenStats]) -> dict:
    n = max(len(stats), 1)
    keys = ("io_ms", "mem_mgmt_ms", "compute_ms", "total_ms", "bytes_read", "neurons_loaded", "neurons_computed",
            "predicted", "dropped")
    return {f"{k}_per_token": sum(getattr(s, k) for s in stats) / n for k in keys} | {"tokens": len(stats)}
