"""Batched MoE token loop with three expert systems in one harness, one memory meter each.

* ``int8_in_memory`` - every expert as int8 codes (per-group scale/zero-point) held in DRAM.
* ``lru_fixed_bits`` - EdgeMoE-like: experts read on demand at one fixed bit-width from the
  plane file (planes 1..k in one read), kept in an LRU cache within the budget.
* ``d2moe`` - per-token bit-widths from a bit router, plane loads scheduled by HEBF with I/O
  and compute overlapped, planes cached under the budget (hebf.PlaneCache eviction).

The loop teacher-forces B held-out sequences at once (one position of every request per
step, a KV cache per request), so tokens/s and perplexity come from the same run. Every
byte a system holds goes through its MemoryMeter (moe.memory), whose high-water mark is the
reported peak; compute scratch is measured once with tracemalloc and held for the run.
"""
from __future__ import annotations

import time
import tracemalloc
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from edgekiln.errors import InputError
from edgekiln.flash_offload.moe.hebf import HebfScheduler
from edgekiln.flash_offload.moe.file import MoeFile, PlaneReader
from edgekiln.flash_offload.moe.kernel import expert_from_blobs, expert_planes_forward
from edgekiln.flash_offload.lm.model import KVCache, attention, layer_norm
from edgekiln.flash_offload.moe.model import MoEModel, gate
from edgekiln.flash_offload.moe.memory import MemoryMeter, check_budget, hold_arrays
from edgekiln.quantize.matryoshka import MatryoshkaExpert, quantize_slice

SYSTEMS = ("int8_in_memory", "lru_fixed_bits", "d2moe")
# bits_fn(layer, expert, H (n,d), gate scores (n,)) -> bit-width per token (moe.model.BitsFn)
BitsFn = Callable[[int, int, np.ndarray, np.ndarray], np.ndarray]


def measure_scratch(compute: Callable[[], object]) -> int:
    """Peak bytes numpy/Python allocate inside compute() (tracemalloc), i.e. the working set
    one expert computation needs on top of what is already held."""
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    compute()
    peak = tracemalloc.get_traced_memory()[1] - base
    if not was:
        tracemalloc.stop()
    return max(int(peak), 0)


@dataclass
class RunResult:
    name: str
    tokens: int
    seconds: float
    nll: float
    predicted: int
    meter: dict
    stats: dict = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def perplexity(self) -> float:
        return float(np.exp(self.nll / self.predicted))

    def as_dict(self) -> dict:
        return {"name": self.name, "tokens_per_s": self.tokens_per_s, "peak_memory_bytes": self.meter["peak_bytes"],
                "perplexity": self.perplexity, "memory_budget_bytes": self.meter["budget_bytes"],
                "tokens": self.tokens, "seconds": self.seconds, "peak_by_kind": self.meter["peak_by_kind"],
                **self.stats}


class ExpertSystem:
    """Base: how one layer's routed tokens get their expert outputs."""
    name = ""

    def __init__(self, budget: int | None):
        self.meter = MemoryMeter(budget)
        self.stats: dict = {}
        self.scratch: dict[int, int] = {}  # tokens per probe -> measured scratch bytes

    dynamic = "nothing"

    def min_dynamic_bytes(self) -> int:
        return 0

    def probe(self, d: int, n_tokens: int) -> Callable[[], object]:
        raise NotImplementedError

    def run_layer(self, layer: int, H: np.ndarray, idx: np.ndarray, w: np.ndarray, probs: np.ndarray,
                  out: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Int8InMemory(ExpertSystem):
    name = "int8_in_memory"

    def __init__(self, model: MoEModel, group: int, budget: int | None = None):
        super().__init__(None)  # holds everything: the unconstrained reference
        self.report_budget = budget
        self.experts = []
        for layer in model.experts:
            row = []
            for up, b_up, down, b_down in layer:
                row.append(MatryoshkaExpert(quantize_slice(up, 8, 8, group), quantize_slice(down.T, 8, 8, group),
                                            b_up, b_down))
            self.experts.append(row)
        self.expert_bytes = sum(ex.nbytes() for row in self.experts for ex in row)
        self.meter.alloc(self.expert_bytes, "experts")
        self.stats = {"expert_bytes": self.expert_bytes}

    def probe(self, d, n_tokens):
        H = np.ones((n_tokens, d), np.float32)
        return lambda: expert_planes_forward(self.experts[0][0], [(1, H)])

    def run_layer(self, layer, H, idx, w, probs, out):
        for e in np.unique(idx):
            rows, slot = np.nonzero(idx == e)
            y = expert_planes_forward(self.experts[layer][e], [(1, H[rows])])[0]
            out[rows] += w[rows, slot, None] * y


class LruFixedBits(ExpertSystem):
    name = "lru_fixed_bits"

    def __init__(self, mf: MoeFile, budget: int, bits: int | None = None, direct: bool = True):
        super().__init__(budget)
        self.file = mf
        self.bits = mf.bits[-1] if bits is None else bits
        self.k = mf.planes_for_bits(self.bits)
        self.reader = PlaneReader(mf, direct=direct)
        self.cache: OrderedDict = OrderedDict()
        self.stats = {"bits": self.bits, "loads": 0, "hits": 0, "evictions": 0}

    @property
    def dynamic(self):
        return f"one expert at {self.bits} bits"

    def min_dynamic_bytes(self):
        return self.file.max_expert_bytes(self.k)

    def probe(self, d, n_tokens):
        lp = self.reader.read_planes(0, 0, 1, self.k)
        H = np.ones((n_tokens, d), np.float32)
        return lambda: (expert_planes_forward(expert_from_blobs([lp.blob(j) for j in range(1, self.k + 1)]),
                                              [(self.k, H)]), lp.release())

    def run_layer(self, layer, H, idx, w, probs, out):
        need = [int(e) for e in np.unique(idx)]
        for e in need:  # hits first become most recent, so misses evict older experts
            if (layer, e) in self.cache:
                self.cache.move_to_end((layer, e))
        for e in need:
            key = (layer, e)
            if key in self.cache:
                self.stats["hits"] += 1
                lp = self.cache[key]
            else:
                nbytes = self.file.expert_bytes(layer, e, self.k)
                while self.meter.budget is not None and self.meter.room() < nbytes:
                    self.cache.popitem(last=False)[1].release()
                    self.stats["evictions"] += 1
                lp = self.reader.read_planes(layer, e, 1, self.k, self.meter)
                self.cache[key] = lp
                self.stats["loads"] += 1
            rows, slot = np.nonzero(idx == e)
            ex = expert_from_blobs([lp.blob(j) for j in range(1, self.k + 1)])
            out[rows] += w[rows, slot, None] * expert_planes_forward(ex, [(self.k, H[rows])])[0]

    def close(self):
        for lp in self.cache.values():
            lp.release()
        self.cache.clear()
        self.stats["bytes_read"] = self.reader.bytes_read
        self.reader.close()


class D2Moe(ExpertSystem):
    name = "d2moe"

    def __init__(self, mf: MoeFile, budget: int, bits_fn: BitsFn, direct: bool = True,
                 io_threads: int = 2, overlap: bool = True):
        super().__init__(budget)
        self.file, self.bits_fn = mf, bits_fn
        self.reader = PlaneReader(mf, direct=direct)
        self.sched = HebfScheduler(self.reader, self.meter, self._compute, io_threads=io_threads,
                                   overlap=overlap)
        self._H = None
        self.stats = {"loads": 0, "bytes_read": 0, "clamped_tokens": 0, "evictions": 0,
                      "bits_hist": {str(b): 0 for b in mf.bits}, "wait_s": 0.0}

    dynamic = "one expert base plane"

    def min_dynamic_bytes(self):
        return self.file.max_plane_bytes(1)

    def profile(self, d: int, n_tokens: int) -> dict:
        """Cold load time of each plane and compute time at each bit-width (expert 0.0)."""
        H = np.ones((n_tokens, d), np.float32)
        out = {"load_ms": {}, "compute_ms": {}, "plane_bytes": {}}
        lps = []
        for k in range(1, self.file.n_planes + 1):
            t0 = time.perf_counter()
            lps.append(self.reader.read_planes(0, 0, k, k))
            out["load_ms"][self.file.bits[k - 1]] = 1e3 * (time.perf_counter() - t0)
            out["plane_bytes"][self.file.bits[k - 1]] = lps[-1].nbytes
            ex = expert_from_blobs([lp.blob(j + 1) for j, lp in enumerate(lps)])
            t0 = time.perf_counter()
            expert_planes_forward(ex, [(k, H)])
            out["compute_ms"][self.file.bits[k - 1]] = 1e3 * (time.perf_counter() - t0)
        for lp in lps:
            lp.release()
        self.sched.load_cost = [out["load_ms"][b] for b in self.file.bits]
        return out

    def probe(self, d, n_tokens):
        lp = self.reader.read_planes(0, 0, 1, self.file.n_planes)
        H = np.ones((n_tokens, d), np.float32)
        k = self.file.n_planes
        return lambda: (expert_planes_forward(expert_from_blobs([lp.blob(j) for j in range(1, k + 1)]), [(k, H)]),
                        lp.release())

    def _compute(self, layer, e, work, blobs):
        ex = expert_from_blobs(blobs)
        return expert_planes_forward(ex, [(k, self._H[rows]) for k, rows in work])

    def run_layer(self, layer, H, idx, w, probs, out):
        n, top = idx.shape
        planes = np.empty((n, top), np.int64)
        for e in np.unique(idx):
            rows, slot = np.nonzero(idx == e)
            bits = np.asarray(self.bits_fn(layer, int(e), H[rows], probs[rows, e]), np.int64)
            for b in np.unique(bits):
                self.stats["bits_hist"][str(int(b))] = self.stats["bits_hist"].get(str(int(b)), 0) + int((bits == b).sum())
            planes[rows, slot] = [self.file.planes_for_bits(int(b)) for b in bits]
        self._H = H
        st = self.sched.run_layer(layer, np.repeat(np.arange(n), top), idx.ravel(), planes.ravel(), out, w.ravel())
        self.stats["loads"] += len(st.loads)
        self.stats["bytes_read"] += st.bytes_read
        self.stats["clamped_tokens"] += st.clamped_tokens
        self.stats["wait_s"] += st.wait_s

    def close(self):
        self.stats["evictions"] = len(self.sched.cache.evicted)
        self.sched.close()
        self.reader.close()


def kv_caches(cfg: dict, n_requests: int, positions: int) -> list[KVCache]:
    """One KV cache per request, sized to the positions the requests use (not the model's T)."""
    return [KVCache.empty(cfg, positions) for _ in range(n_requests)]


def fixed_bytes(system: ExpertSystem, model: MoEModel, n_requests: int, positions: int) -> tuple[int, int]:
    """(bytes held for the whole run besides plane buffers, the measured compute scratch):
    what the system holds already, resident weights, one KV cache per request, scratch."""
    cfg = model.config
    kv = n_requests * KVCache.bytes_for(cfg, positions)
    key = n_requests * cfg["top_k"]
    if system.scratch.get(key) is None:  # measured once per system, so checks agree
        with threadpool_limits(1):
            probe = max(measure_scratch(system.probe(cfg["d"], key)) for _ in range(2))
        system.scratch[key] = -(-probe // 4096) * 4096
    scratch = system.scratch[key]
    return system.meter.used + sum(a.nbytes for a in model.resident.values()) + kv + scratch, scratch


def min_budget(system: ExpertSystem, model: MoEModel, n_requests: int, positions: int) -> int:
    """The smallest budget `system` runs n_requests of `positions` tokens with (the error
    for less names it)."""
    return fixed_bytes(system, model, n_requests, positions)[0] + system.min_dynamic_bytes()


def run_requests(system: ExpertSystem, model: MoEModel, windows: Sequence[np.ndarray],
                 blas_threads: int = 1) -> RunResult:
    """Teacher-force the windows as one batch of requests through `system`."""
    cfg, r = model.config, model.resident
    seqs = np.stack([np.asarray(x, np.int64) for x in windows])
    B, n = seqs.shape
    if n > cfg["T"] or n < 2:
        raise InputError(f"requests of {n} tokens: need 2..T={cfg['T']}")
    meter = system.meter
    try:
        with threadpool_limits(blas_threads):
            caches = kv_caches(cfg, B, n)
            fixed, scratch = fixed_bytes(system, model, B, n)
            if meter.budget is not None:
                check_budget(meter.budget, fixed, system.min_dynamic_bytes(), system.name, system.dynamic)
            if isinstance(system, D2Moe):  # HEBF's per-bit-width load/compute times (setup, not timed)
                system.stats["profile"] = system.profile(cfg["d"], B)
            hold_arrays(meter, r.values(), "resident")
            hold_arrays(meter, [a for c in caches for a in c.k + c.v], "kv")
            meter.alloc(scratch, "scratch")  # held: one expert computation's measured working set
            total = 0.0
            t0 = time.perf_counter()
            for t in range(n):
                x = (r["tok_emb"][seqs[:, t]] + r["pos_emb"][t]).astype(np.float32)
                for i in range(cfg["L"]):
                    p = f"l{i}."
                    hx = layer_norm(x, r[p + "ln1_g"], r[p + "ln1_b"])
                    x = x + np.stack([attention(cfg, r, i, hx[b], caches[b]) for b in range(B)])
                    H = layer_norm(x, r[p + "ln2_g"], r[p + "ln2_b"])
                    idx, w, probs = gate(model, i, H)
                    out = np.zeros_like(H)
                    system.run_layer(i, H, idx, w, probs, out)
                    x = (x + out).astype(np.float32)
                for c in caches:
                    c.n += 1
                if t + 1 < n:
                    logits = (layer_norm(x, r["lnf_g"], r["lnf_b"]) @ r["tok_emb"].T).astype(np.float64)
                    m = logits.max(axis=1)
                    lse = m + np.log(np.exp(logits - m[:, None]).sum(axis=1))
                    total += float((lse - logits[np.arange(B), seqs[:, t + 1]]).sum())
            seconds = time.perf_counter() - t0
    finally:  # threads, plane buffers and descriptors go even when a request fails
        system.close()
    return RunResult(system.name, B * n, seconds, total, B * (n - 1), meter.report(),
                     dict(system.stats, scratch_bytes=scratch))
