"""Measure read throughput vs chunk size x threads on the user's storage, cold, and fit the
cost model (cost_model.py) used to plan neuron reads.

Each point reads random, distinct, 4 KiB-aligned chunks of a scratch file (or a file the
user names) with os.preadv from a thread pool, one task per read as NeuronReader does.
Cold reads: O_DIRECT when the filesystem allows it, else the file's page cache is dropped
(posix_fadvise DONTNEED) before each point and the result says so.
"""
from __future__ import annotations

import mmap
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.dense.cost_model import CostModel
from edgekiln.flash_offload.io.direct import open_direct
from edgekiln.flash_offload.io.sections import ALIGN


def make_scratch(folder, size_bytes: int, seed: int = 0) -> Path:
    """A file of random bytes (incompressible, so no filesystem shortcut), fsynced."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass --dir on the storage to measure")
    path = folder / f".kiln-bench-io-{os.getpid()}.bin"
    rng = np.random.default_rng(seed)
    step = 8 << 20
    with open(path, "wb") as fh:
        for at in range(0, size_bytes, step):
            fh.write(rng.integers(0, 256, min(step, size_bytes - at), dtype=np.uint8).tobytes())
        fh.flush()
        os.fsync(fh.fileno())
    return path


def _open(path: Path, direct: bool) -> tuple[int, bool]:
    fd = open_direct(path) if direct else None
    return (fd, True) if fd is not None else (os.open(path, os.O_RDONLY), False)


def measure(fd: int, size: int, threads: int, chunk_bytes: int, n_reads: int, direct: bool,
            rng: np.random.Generator) -> dict:
    """One point: n_reads random distinct aligned chunks with `threads` threads."""
    slots = size // chunk_bytes
    if slots < 1:
        raise InputError(f"the file ({size} bytes) is smaller than a {chunk_bytes}-byte chunk")
    offs = rng.choice(slots, size=min(n_reads, slots), replace=False) * chunk_bytes
    buf = mmap.mmap(-1, threads * chunk_bytes)  # one aligned landing slot per thread
    view = memoryview(buf)
    if not direct and hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def one(k: int) -> int:
        slot = (k % threads) * chunk_bytes
        return os.preadv(fd, [view[slot:slot + chunk_bytes]], int(offs[k]))

    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        got = sum(pool.map(one, range(len(offs))))
        seconds = time.perf_counter() - t0
    view.release()
    buf.close()
    return {"threads": threads, "chunk_bytes": chunk_bytes, "n_reads": len(offs),
            "bytes": got, "seconds": seconds, "mb_s": got / seconds / 1e6,
            "us_per_read": seconds / len(offs) * 1e6}


def run_bench(file=None, folder=None, threads=(1, 2, 4, 8), chunk_kib=(4, 16, 64, 256),
              size_mib: int = 256, read_mib: int = 16, max_reads: int = 2048,
              direct: bool = True, seed: int = 0) -> dict:
    """Measure every (threads, chunk) point and fit the cost model. Either `file` (read only)
    or `folder` (a scratch file of size_mib is created there and removed)."""
    if (file is None) == (folder is None):
        raise InputError("give exactly one of --file (an existing file) or --dir (scratch folder)")
    for c in chunk_kib:
        if c < 4 or c % 4:
            raise InputError(f"chunk size {c} KiB: use multiples of 4 KiB (O_DIRECT alignment)")
    if min(threads) < 1:
        raise InputError("thread counts must be >= 1")
    scratch = None
    if folder is not None:
        path = scratch = make_scratch(folder, size_mib << 20, seed)
    else:
        path = Path(file)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    try:
        size = path.stat().st_size // ALIGN * ALIGN
        fd, is_direct = _open(path, direct)
        rng = np.random.default_rng(seed)
        points = []
        try:
            for n in threads:
                for c in chunk_kib:
                    chunk = c << 10
                    reads = max(8, min(max_reads, (read_mib << 20) // chunk))
                    points.append(measure(fd, size, n, chunk, reads, is_direct, rng))
        finally:
            os.close(fd)
    finally:
        if scratch is not None:
            scratch.unlink(missing_ok=True)
    model = CostModel.fit(points)
    return {"file": str(path), "scratch": scratch is not None, "size_bytes": size,
            "direct": is_direct,
            "cold": "O_DIRECT" if is_direct else "posix_fadvise(DONTNEED) before each point",
            "points": points, "cost_model": model.to_json(),
            "best_gap_bytes": {n: model.best_gap_bytes(n) for n in sorted(set(threads))}}


def measure_file(path, direct: bool = True, threads=(1, 2, 4), chunk_kib=(4, 16, 64, 256, 1024),
                 read_mib: int = 8, max_reads: int = 512) -> tuple[CostModel, dict]:
    """A cost model measured on an existing file (the .ekf itself), for engines given none;
    chunk sizes larger than an eighth of the file are left out. Returns (model, bench result)."""
    size = Path(path).stat().st_size
    chunks = tuple(c for c in chunk_kib if (c << 10) * 8 <= size) or (4,)
    r = run_bench(file=path, threads=threads, chunk_kib=chunks, read_mib=read_mib, max_reads=max_reads, direct=direct)
    model = CostModel.from_json(r["cost_model"])
    model.source = f"measured on {Path(path).name} ({r['cold']})"
    return model, r


def peak_mb_s(result: dict) -> float:
    """The best measured throughput of a bench result (MB/s)."""
    return max(p["mb_s"] for p in result["points"])


def format_table(result: dict) -> str:
    """Throughput (MB/s) table: rows thread counts, columns chunk sizes; then the fit."""
    pts = result["points"]
    chunks = sorted({p["chunk_bytes"] for p in pts})
    threads = sorted({p["threads"] for p in pts})
    by = {(p["threads"], p["chunk_bytes"]): p for p in pts}
    lines = [f"read throughput MB/s ({result['cold']}; {result['file']})",
             "threads " + "".join(f"{c >> 10:>9d}K" for c in chunks)]
    for n in threads:
        lines.append(f"{n:>7d} " + "".join(
            f"{by[(n, c)]['mb_s']:>10.1f}" if (n, c) in by else " " * 10 for c in chunks))
    lines.append("cost model: seconds = reads * latency + bytes / bandwidth")
    for p in result["cost_model"]["per_threads"]:
        gap = result["best_gap_bytes"].get(p["threads"], 0)
        lines.append(f"  {p['threads']} threads: latency {p['latency_us']:.1f} us, bandwidth "
                     f"{p['bandwidth_mb_s']:.0f} MB/s, read through holes up to {gap} bytes")
    return "\n".join(lines)
