"""I/O cost model for planning neuron reads, fitted from `kiln flash-offload bench-io`.

For each thread count N the wall time of a batch of n reads of b bytes each is modelled as
    seconds = n * (latency_N + b / bandwidth_N)
i.e. latency_N is the effective per-read overhead (device latency divided by the overlap
N threads achieve, plus syscall and thread-pool cost) and bandwidth_N the streaming rate
with N reads in flight. Both are fitted by least squares on relative error over chunk
sizes. Planning uses
it to decide when reading through a hole is cheaper than issuing another read: holes up to
latency_N * bandwidth_N bytes are read through (the coalescing gap).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.io.sections import ALIGN


@dataclass
class CostModel:
    """threads -> (latency seconds per read, bandwidth bytes per second)."""
    params: dict[int, tuple[float, float]] = field(default_factory=dict)
    source: str = "fit"
    chunks: tuple[int, ...] = ()  # chunk sizes (bytes) the fit saw: plans stay inside them

    @classmethod
    def default(cls) -> "CostModel":
        """A typical NVMe SSD seen through Python preads, for when nothing was measured."""
        return cls({1: (90e-6, 1.5e9), 2: (50e-6, 2.2e9), 4: (30e-6, 2.8e9), 8: (22e-6, 3.0e9)},
                   source="default (not measured)")

    @classmethod
    def fit(cls, points: list[dict]) -> "CostModel":
        """points: {threads, chunk_bytes, n_reads, seconds} from bench_io.measure."""
        if not points:
            raise InputError("no I/O measurements to fit a cost model from; run bench-io")
        params = {}
        for n in sorted({int(p["threads"]) for p in points}):
            pts = [p for p in points if int(p["threads"]) == n]
            x = np.array([p["chunk_bytes"] for p in pts], dtype=float)
            y = np.array([p["seconds"] / p["n_reads"] for p in pts], dtype=float)
            if len(set(x.tolist())) < 2:
                lat, inv_bw = 0.0, y.mean() / x.mean()
            else:
                # relative residuals (weights 1/y): the latency, decided by the small chunks,
                # is not swamped by the large chunks' absolute times
                inv_bw, lat = np.polyfit(x, y, 1, w=1.0 / y)
            # noise can make either term negative on fast, cached storage: clamp to physical
            lat = max(float(lat), 1e-7)
            inv_bw = max(float(inv_bw), 1e-12)
            params[n] = (lat, 1.0 / inv_bw)
        return cls(params, chunks=tuple(sorted({int(p["chunk_bytes"]) for p in points})))

    def _at(self, threads: int) -> tuple[float, float]:
        """Parameters of the nearest measured thread count not above `threads` (else lowest)."""
        if not self.params:
            raise InputError("empty cost model; run `kiln flash-offload bench-io`")
        ks = sorted(self.params)
        below = [k for k in ks if k <= threads]
        return self.params[below[-1] if below else ks[0]]

    def latency(self, threads: int) -> float:
        return self._at(threads)[0]

    def bandwidth(self, threads: int) -> float:
        return self._at(threads)[1]

    def read_seconds(self, n_reads: int, nbytes: int, threads: int = 1) -> float:
        """Predicted wall time of n_reads reads totalling nbytes."""
        lat, bw = self._at(threads)
        return n_reads * lat + nbytes / bw

    def best_gap_bytes(self, threads: int = 1, align: int = ALIGN) -> int:
        """Largest hole worth reading through rather than starting a new read."""
        lat, bw = self._at(threads)
        return int(lat * bw) // align * align

    def best_threads(self, chunk_bytes: int) -> int:
        """Measured thread count with the highest predicted throughput at this chunk size."""
        return max(sorted(self.params),
                   key=lambda n: chunk_bytes / self.read_seconds(1, chunk_bytes, n))

    def best_read(self, max_inflight: int | None = None) -> tuple[int, int]:
        """(chunk bytes, threads) of the highest predicted streaming throughput, over the
        measured chunk sizes and thread counts with chunk x threads <= max_inflight (the
        landing buffer): how a reader that must read everything (the naive baseline) issues
        its reads."""
        chunks = self.chunks or (256 << 10,)
        pairs = [(c, n) for c in chunks for n in sorted(self.params) if max_inflight is None or c * n <= max_inflight]
        if not pairs:
            pairs = [(min(chunks), min(self.params))]
        return max(pairs, key=lambda cn: (cn[0] / self.read_seconds(1, cn[0], cn[1]), -cn[1]))

    def throughput(self, chunk_bytes: int, threads: int) -> float:
        """Predicted bytes per second of chunk_bytes reads with `threads` threads."""
        return chunk_bytes / self.read_seconds(1, chunk_bytes, threads)

    def plan_cost(self, runs: np.ndarray, threads: int = 1) -> float:
        """Predicted seconds to read runs (n, 2) [start, end) byte ranges."""
        runs = np.asarray(runs)
        return self.read_seconds(len(runs), int((runs[:, 1] - runs[:, 0]).sum()), threads)

    def to_json(self) -> dict:
        return {"source": self.source, "chunk_bytes": list(self.chunks), "per_threads": [
            {"threads": n, "latency_us": lat * 1e6, "bandwidth_mb_s": bw / 1e6}
            for n, (lat, bw) in sorted(self.params.items())]}

    @classmethod
    def from_json(cls, doc: dict) -> "CostModel":
        doc = doc.get("cost_model", doc)  # a bench-io result or the model alone
        try:
            return cls({int(p["threads"]): (p["latency_us"] * 1e-6, p["bandwidth_mb_s"] * 1e6)
                        for p in doc["per_threads"]}, doc.get("source", "fit"),
                       tuple(int(c) for c in doc.get("chunk_bytes", ())))
        except (KeyError, TypeError) as e:
            raise InputError(f"not a cost model ({e}); write one with "
                             "`kiln flash-offload bench-io --json out.json`") from None

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path) -> "CostModel":
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"cannot read cost model {path}: {e}") from None
