"""The offloaded token loop: attention and embeddings in DRAM, FFN neurons read from the .ekf.

Configs (the benchmark's rows), each adding one idea of LLM in a flash:
  naive      read every FFN neuron of each layer each token (split layout), in chunks
  hybrid     the most frequently active neurons stay in DRAM (static set); the rest is read
  predictor  + read only the non-static neurons the predictor marks active
  window     + keep neurons predicted in the last k tokens in a per-layer cache
  bundle     + bundled layout ([up | down | b_up] per neuron), one coalesced read per run
Every buffer is allocated up front from the DRAM budget and never grows during generation.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from edgekiln.errors import InputError, MemoryBudgetError

from edgekiln.flash_offload.dense.ekf_format import EkfFile
from edgekiln.flash_offload.lm.model import KVCache, forward_token
from edgekiln.flash_offload.dense.window_cache import WindowCache
from edgekiln.flash_offload.dense.neuron_io import NeuronReader

CONFIGS = ("naive", "hybrid", "predictor", "window", "bundle")
ARENA_MAX = 1 << 20  # reader landing buffer: larger requests are read in several batches
ARENA_MIN = 256 << 10


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
    cache_per_layer: int
    parts: dict  # the I/O buffers' split and the model's size, for reports

    @property
    def used_bytes(self) -> int:
        return (self.resident_bytes + self.kv_bytes + self.predictor_bytes + self.static_bytes
                + self.cache_bytes + self.staging_bytes)


class OffloadEngine:
    """Generate from an .ekf file within `budget_bytes` of DRAM for weights, caches and buffers.

    predictor: needed by predictor/window/bundle (which neurons to read) and used by
    hybrid for the static ranking (else neuron order). static_fraction / cache_fraction
    override the automatic split of the budget (static neurons get what the cache leaves).
    """

    def __init__(self, ekf: str | Path | EkfFile, config: str = "bundle", predictor: ActivityPredictor | None = None,
                 budget_bytes: int | None = None, window_k: int = 4, cache_fraction: float = 0.125,
                 static_fraction: float | None = None, direct: bool = True, threads: int = 4,
                 cold: bool = True, verify: bool = True, audit: bool = False):
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
        row_bytes = 4 * (2 * self.d + 1)
        self.chunk = chunk_neurons(self.f)
        # the storage module's reader: split or bundled layout, O_DIRECT, coalescing, thread pool
        # hybrid reads "the rest" whole: holes the cost model says are cheaper to read through are
        # read through; the predictor configs read only the rows they need (gap 0)
        self.reader = NeuronReader(self.ekf, threads=threads, direct=direct, mode=layout, cold=cold,
                                   gap_bytes=None if config == "hybrid" else 0)
        arena = min(self.reader.buffer_bytes_for(0, self.chunk), ARENA_MAX)
        if config in ("predictor", "window", "bundle"):  # a few scattered neurons per layer and token
            arena = min(arena, max(8 * self.reader.buffer_bytes_for(0, 1), ARENA_MIN))
        self.plan = self._plan(budget_bytes, row_bytes, cache_fraction, static_fraction, predictor, arena)
        self.reader.reserve(arena)  # fixed landing buffer: larger requests are read in batches
        self._load_static(predictor)
        uses_cache = config in ("predictor", "window", "bundle")
        self.caches = [WindowCache(self.f, self.plan.cache_per_layer, 2 * self.d + 1) for _ in range(self.L)] if uses_cache else []
        stage_rows = self.chunk if not uses_cache else 0
        self.staging = np.zeros((stage_rows, 2 * self.d + 1), np.float32)
        self.kv = KVCache.empty(self.cfg)
        self.token_index = 0
        # audit: count active neurons the engine did not compute (full FFN kept outside the budget)
        self.audit = [self.ekf.ffn(i) for i in range(self.L)] if audit else None

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
        cache_rows = int(cache_fraction * f) if self.name in ("predictor", "window", "bundle") else 0
        minimum = fixed + L * cache_rows * row_bytes
        if budget < minimum:
            raise MemoryBudgetError(
                f"DRAM budget {budget} bytes is too small for config {self.name!r}: resident weights {resident}, "
                f"KV cache {kv}, predictor {pred}, I/O buffers {arena + staging}, neuron cache {L * cache_rows * row_bytes} "
                f"need at least {minimum} bytes; raise --budget-bytes to {minimum} or more")
        if self.name == "naive":
            static = 0
        elif static_fraction is not None:
            static = int(static_fraction * f)
        else:
            static = (budget - minimum) // (L * row_bytes)
        static = int(min(static, f))
        if fixed + L * (static + cache_rows) * row_bytes > budget:
            raise MemoryBudgetError(f"static_fraction {static_fraction} does not fit the budget of {budget} bytes; "
                                    f"at most {(budget - minimum) // (L * row_bytes)} static neurons per layer fit")
        return MemoryPlan(budget, resident, kv, pred, L * static * row_bytes, L * cache_rows * row_bytes,
                          arena + staging, static, cache_rows, {"arena": arena, "staging": staging, "model_bytes": model})

    def _load_static(self, predictor) -> None:
        """Static DRAM neurons: per layer the most frequently active (neuron order without a ranking)."""
        s = self.plan.static_per_layer
        self.static_ids, self.static_rows, self.static_mask = [], [], []
        for i in range(self.L):
            order = predictor.ranking(i) if predictor is not None else np.arange(self.f)
            ids = np.sort(np.asarray(order[:s], dtype=np.int64))
            rows = np.zeros((len(ids), 2 * self.d + 1), np.float32)
            if len(ids):
                self.reader.read_rows(i, ids, rows)
            mask = np.zeros(self.f, bool)
            mask[ids] = True
            self.static_ids.append(ids)
            self.static_rows.append(rows)
            self.static_mask.append(mask)
        self.reader.stats.reset()

    def memory_report(self) -> dict:
        p = self.plan
        return {**{k: v for k, v in asdict(p).items() if k != "parts"}, "used_bytes": p.used_bytes,
                "model_bytes": p.parts["model_bytes"], "within_budget": p.used_bytes <= p.budget_bytes}

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
        return a @ rows[:, d:2 * d]

    def _ffn(self, i: int, h: np.ndarray, st: TokenStats) -> np.ndarray:
        t0 = time.perf_counter()
        y = self._rows_ffn(self.static_rows[i], h) if len(self.static_ids[i]) else np.zeros(self.d, np.float32)
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
            up, b_up, _ = self.audit[i]
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
