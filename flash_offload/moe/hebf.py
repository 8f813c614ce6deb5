"""HEBF (hottest-expert-bit-first) scheduling of bit-plane loads under a memory budget.

Per layer, every expert the batch routes to gets one ascending queue of the planes it still
lacks (plane j serves every token that needs bit-width bits[j-1] or more). The scheduler
repeatedly issues the load of the queue head wanted by the most tokens, on I/O threads,
while a compute thread runs each (expert, bit-width) group as soon as its planes 1..k are
resident: I/O and compute overlap. Loaded planes stay cached across layers and steps; when
a load does not fit the budget, PlaneCache frees the previous layer's high-bit planes first,
then its low-bit ones, then the layers before it (the next layer's last).
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edgekiln.errors import MemoryBudgetError
from edgekiln.flash_offload.moe.file import LoadedPlanes, MoeFile, PlaneReader
from edgekiln.flash_offload.moe.memory import MemoryMeter, PlaneBuffer


class PlaneCache:
    """Resident planes: (layer, expert) -> [plane 1, plane 2, ...] (always a prefix), with pin
    counts so planes in use (being computed on, or the prefix of a queued expert) stay."""

    def __init__(self, mf: MoeFile, meter: MemoryMeter):
        self.file, self.meter = mf, meter
        self.planes: dict[tuple[int, int], list[LoadedPlanes]] = {}
        self.pins: dict[tuple[int, int], int] = {}  # pinned prefix length per expert
        self.evicted: list[tuple[int, int, int]] = []  # (layer, expert, plane) in eviction order

    def have(self, layer: int, expert: int) -> int:
        return len(self.planes.get((layer, expert), ()))

    def add(self, layer: int, expert: int, k: int, lp: LoadedPlanes) -> None:
        lst = self.planes.setdefault((layer, expert), [])
        assert len(lst) == k - 1, f"plane {k} of {layer}.{expert} loaded out of order"
        lst.append(lp)

    def blobs(self, layer: int, expert: int, k: int) -> list[memoryview]:
        lst = self.planes[(layer, expert)]
        return [lst[j].blob(j + 1) for j in range(k)]

    def pin(self, layer: int, expert: int, k: int) -> None:
        self.pins[(layer, expert)] = max(self.pins.get((layer, expert), 0), k)

    def unpin_layer(self, layer: int) -> None:
        for key in [key for key in self.pins if key[0] == layer]:
            del self.pins[key]

    def victim(self, layer: int) -> tuple[int, int] | None:
        """The next plane to free: the top plane of an expert of the previous layer, highest
        bit first; then the layers before it; the current layer's unpinned planes last."""
        L = self.file.n_layers
        order = [(layer - d) % L for d in range(1, L)] + [layer]
        for li in order:
            best = None
            for (lj, e), lst in self.planes.items():
                if lj != li or len(lst) <= self.pins.get((lj, e), 0):
                    continue
                if best is None or len(lst) > best[0] or (len(lst) == best[0] and e < best[1]):
                    best = (len(lst), e)
            if best is not None:
                return li, best[1]
        return None

    def make_room(self, nbytes: int, layer: int) -> bool:
        """Evict until nbytes fit the budget; False if pinned planes leave too little."""
        while self.meter.room() is not None and self.meter.room() < nbytes:
            v = self.victim(layer)
            if v is None:
                return False
            lp = self.planes[v].pop()
            self.evicted.append((v[0], v[1], len(self.planes[v]) + 1))
            if not self.planes[v]:
                del self.planes[v]
            lp.release()
        return True

    def clear(self) -> None:
        for lst in self.planes.values():
            for lp in lst:
                lp.release()
        self.planes.clear()
        self.pins.clear()


@dataclass
class LayerStats:
    loads: list[tuple[int, int]] = field(default_factory=list)  # (expert, plane) in issue order
    computes: list[tuple[int, int, int]] = field(default_factory=list)  # (expert, planes, tokens)
    bytes_read: int = 0
    clamped_tokens: int = 0  # tokens served below their bit-width: the budget held too little
    wait_s: float = 0.0


# compute(layer, expert, [(k planes, rows of H), ...] ascending k, blobs of planes 1..max k)
#   -> one (len(rows), d) output per group; one call decodes the planes once for all groups
ComputeFn = Callable[[int, int, list, list], list]


class HebfScheduler:
    """Runs one layer's expert work for a batch: loads by HEBF, computes as planes land."""

    def __init__(self, reader: PlaneReader, meter: MemoryMeter, compute: ComputeFn,
                 io_threads: int = 2, compute_threads: int = 1, overlap: bool = True):
        self.reader, self.meter, self.compute = reader, meter, compute
        self.cache = PlaneCache(reader.file, meter)
        self.overlap = overlap
        self.load_cost: list[float] | None = None  # measured load time per plane (ties: cheaper first)
        self.io_threads = max(1, io_threads)
        self._io = ThreadPoolExecutor(self.io_threads) if overlap else None
        self._cpu = ThreadPoolExecutor(compute_threads) if overlap else None

    def close(self) -> None:
        if self._io:
            self._io.shutdown()
            self._cpu.shutdown()
        self.cache.clear()

    def run_layer(self, layer: int, tokens: np.ndarray, experts: np.ndarray, planes: np.ndarray,
                  out: np.ndarray, weights: np.ndarray) -> LayerStats:
        """Add weights[i] * expert(experts[i]) at planes[i] planes to out[tokens[i]] for every
        assignment i (a token routed to top-k experts has k assignments)."""
        st = LayerStats()
        cache = self.cache
        # groups: (expert, k) -> assignment indices; need[e] = most planes any token wants
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (e, k) in enumerate(zip(experts.tolist(), planes.tolist())):
            groups.setdefault((e, k), []).append(i)
        need: dict[int, int] = {}
        for (e, k) in groups:
            need[e] = max(need.get(e, 0), k)
        issued = {e: cache.have(layer, e) for e in need}  # planes loaded or on their way
        running = {e: 0 for e in need}  # computes in flight per expert
        early: dict[tuple[int, int], LoadedPlanes] = {}  # landed before a lower plane
        for e, k in need.items():  # what is already loaded for this layer's experts stays
            cache.pin(layer, e, min(k, issued[e]))
        pending: dict[Future, tuple] = {}

        def launch(e: int, batch: list[tuple[int, np.ndarray]]) -> None:
            blobs = cache.blobs(layer, e, batch[-1][0])
            for k, idx in batch:
                st.computes.append((e, k, len(idx)))
            work = [(k, tokens[idx]) for k, idx in batch]
            if self._cpu is None:
                finish(e, batch, self.compute(layer, e, work, blobs))
            else:
                running[e] += 1
                pending[self._cpu.submit(self.compute, layer, e, work, blobs)] = ("c", e, batch)

        def finish(e: int, batch, ys: list) -> None:
            for (_, idx), y in zip(batch, ys):
                np.add.at(out, tokens[idx], y * weights[idx, None])
            if running[e] == 0 and not any(ee == e for (ee, _) in groups):
                cache.pins.pop((layer, e), None)  # done with this layer: evictable again

        deferred: set[int] = set()

        def ready(e: int, force: bool = False) -> None:
            """Compute the groups of e its landed planes serve, in one pass over the planes. If
            e still waits for higher planes and the compute thread is busy anyway, wait and
            decode once for more groups; an idle compute thread starts at once (overlap)."""
            have = cache.have(layer, e)
            ks = sorted(k for (ee, k) in groups if ee == e and k <= have)
            if not ks:
                return
            more = any(ee == e and k > have for (ee, k) in groups)
            if more and not force and sum(running.values()):
                deferred.add(e)
                return
            deferred.discard(e)
            launch(e, [(k, np.asarray(groups.pop((e, k)))) for k in ks])

        def idle() -> None:
            """The compute thread ran dry: start the deferred expert with most waiting tokens."""
            if sum(running.values()) or not deferred:
                return
            def waiting(e):
                have = cache.have(layer, e)
                return sum(len(r) for (ee, k), r in groups.items() if ee == e and k <= have)
            e = max(sorted(deferred), key=waiting)
            deferred.discard(e)
            ready(e, force=True)  # deferred experts always have groups their planes serve

        def landed(e: int, p: int, lp: LoadedPlanes) -> None:
            st.bytes_read += lp.nbytes
            early[(e, p)] = lp
            while (e, cache.have(layer, e) + 1) in early:  # add in plane order
                cache.add(layer, e, cache.have(layer, e) + 1, early.pop((e, cache.have(layer, e) + 1)))
            ready(e)

        def clamp_one() -> None:
            """Memory is full of this layer's pinned planes and nothing is in flight: serve the
            expert holding most planes at what it has (the budget cannot hold more)."""
            held = [(cache.have(layer, e), e) for e in need
                    if cache.have(layer, e) and any(ee == e for (ee, _) in groups)]
            if not held:
                raise MemoryBudgetError(
                    f"layer {layer}: the budget of {self.meter.budget} bytes cannot hold one expert "
                    f"base plane next to the rest; raise it")
            have, e = max(held)
            for kk in [kk for (ee, kk) in groups if ee == e]:
                rows = groups.pop((e, kk))
                st.clamped_tokens += len(rows)
                groups.setdefault((e, have), []).extend(rows)
            need[e] = issued[e] = have
            ready(e, force=True)

        for e in need:
            ready(e)
        loads = 0
        while groups or pending:
            heads = []  # hottest head first; ties: the cheaper (measured) load, lower plane, expert
            for e, k in need.items():
                nxt = issued[e] + 1
                if nxt <= k:
                    hot = sum(len(r) for (ee, kk), r in groups.items() if ee == e and kk >= nxt)
                    cost = self.load_cost[nxt - 1] if self.load_cost else 0.0
                    heads.append((-hot, cost, nxt, e))
            if heads and loads < self.io_threads:
                _, _, p, e = min(heads)
                nbytes = self.reader.file.plane_bytes(layer, e, p)
                if cache.make_room(nbytes, layer):
                    buf = PlaneBuffer(nbytes, self.meter)
                    st.loads.append((e, p))
                    issued[e] = p
                    cache.pin(layer, e, p)
                    if self._io is None:
                        landed(e, p, self.reader.read_into(buf, layer, e, p))
                    else:
                        pending[self._io.submit(self.reader.read_into, buf, layer, e, p)] = ("l", e, p)
                        loads += 1
                    continue  # keep the I/O queue full before waiting
                if not pending:
                    clamp_one()
                    continue
            if not pending:
                idle()
                assert pending or not groups, "HEBF stalled: token groups left but nothing to wait for"
                continue
            t0 = time.perf_counter()
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            st.wait_s += time.perf_counter() - t0
            for fut in done:
                tag = pending.pop(fut)
                if tag[0] == "l":
                    loads -= 1
                    landed(tag[1], tag[2], fut.result())
                else:
                    running[tag[1]] -= 1
                    finish(tag[1], tag[2], fut.result())
            idle()
        cache.unpin_layer(layer)
        return st
