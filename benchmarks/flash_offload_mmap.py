"""The mmap baseline of benchmarks/flash_offload.py: what users run today. One process maps the
.ekf file and computes the dense model straight from the mapping (every tensor a view of the
page cache, as llama.cpp's mmap loading does), inside a cgroup whose memory limit is the DRAM
budget, so the kernel keeps what fits in the page cache and reads the rest again on demand.

    python benchmarks/flash_offload_mmap.py MODEL.ekf WINDOWS.npy --limit-bytes N --json out.json

Needs root and a cgroup memory controller (v1 `memory`, or v2 with `memory` enabled); the
interpreter and numpy are loaded before the process joins the cgroup, so the limit covers what
the model run allocates and faults in: weights, KV cache, temporaries. Exits 2 with one line
on stderr when it cannot run; a limit below what the run itself allocates ends in the OOM
killer (the caller removes the cgroup, named edgekiln-mmap-<pid>, then).
"""
from __future__ import annotations

import argparse
import json
import mmap
import os
import sys
import time
from pathlib import Path

import numpy as np

from edgekiln.flash_offload.dense.ekf_format import EkfFile
from edgekiln.flash_offload.lm import model as lm

V1 = Path("/sys/fs/cgroup/memory")
V2 = Path("/sys/fs/cgroup/unified")


def fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def enter_cgroup(limit: int) -> tuple[Path, str]:
    """Make a cgroup with memory limit `limit`, move this process into it."""
    name = f"edgekiln-mmap-{os.getpid()}"
    if (V1 / "memory.limit_in_bytes").is_file():
        cg = V1 / name
        cg.mkdir()
        (cg / "memory.limit_in_bytes").write_text(str(limit))
        (cg / "cgroup.procs").write_text(str(os.getpid()))
        return cg, "v1"
    for root in (V2, Path("/sys/fs/cgroup")):
        if "memory" in (root / "cgroup.controllers").read_text().split() if (root / "cgroup.controllers").is_file() else []:
            cg = root / name
            cg.mkdir()
            (cg / "memory.max").write_text(str(limit))
            (cg / "cgroup.procs").write_text(str(os.getpid()))
            return cg, "v2"
    fail("no cgroup memory controller here (neither /sys/fs/cgroup/memory nor a v2 hierarchy with memory)")
    raise AssertionError


def leave_cgroup(cg: Path, kind: str) -> dict:
    stats = {}
    try:
        if kind == "v1":
            stats = {"max_usage_bytes": int((cg / "memory.max_usage_in_bytes").read_text()),
                     "failcnt": int((cg / "memory.failcnt").read_text())}
            (cg.parent / "cgroup.procs").write_text(str(os.getpid()))
        else:
            stats = {"peak_bytes": int((cg / "memory.peak").read_text()) if (cg / "memory.peak").is_file() else None}
            (cg.parent / "cgroup.procs").write_text(str(os.getpid()))
        cg.rmdir()
    except OSError as e:
        stats["cleanup_error"] = str(e)
    return stats


def read_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return 0


def mapped_model(path: Path):
    """config, resident views, per-layer (up, b_up, down) views of the file's mapping."""
    f = EkfFile(path)
    if f.storage != "float32" or "split" not in f.layouts or f.gated:
        fail(f"{path}: the mmap baseline maps float32 split-layout ReLU files (this one is {f.storage}, {f.layouts})")
    fd = os.open(path, os.O_RDONLY)
    mm = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    os.close(fd)

    def view(s):
        return np.frombuffer(mm, dtype="<f4", count=s.nbytes // 4, offset=s.offset).reshape(s.shape)

    r = {s.name: view(s) for s in f.sections.values() if s.kind == "resident"}
    ffn = []
    for i in range(f.n_layers):
        up, down, b = (view(s) for s in f.split_sections(i))
        ffn.append((up, b, down))
    return f, mm, r, ffn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ekf", type=Path)
    ap.add_argument("windows", type=Path, help=".npy (n, length) token ids, fed teacher-forced")
    ap.add_argument("--limit-bytes", type=int, required=True)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        fail("the mmap baseline needs root to make a cgroup with a memory limit")
    windows = np.load(args.windows)
    f, mm, r, ffn = mapped_model(args.ekf)
    cfg = f.config
    fd = os.open(args.ekf, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # cold: nothing of the file in the page cache
    os.close(fd)
    cg, kind = enter_cgroup(args.limit_bytes)
    try:
        b0, nll, n = read_bytes(), 0.0, 0
        t0 = time.perf_counter()
        for w in windows:
            kv = lm.KVCache.empty(cfg)
            for t in range(len(w) - 1):
                lg = lm.forward_token(cfg, r, int(w[t]), kv, lm.dense_ffn(ffn)).astype(np.float64)
                nll += np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[w[t + 1]]
                n += 1
        seconds = time.perf_counter() - t0
        got = read_bytes() - b0
    finally:
        stats = leave_cgroup(cg, kind)
    out = {"name": "mmap", "bytes_per_token": got / n, "io_ms_per_token": None,
           "total_ms_per_token": seconds * 1e3 / n, "wall_ms_per_token": seconds * 1e3 / n,
           "achieved_mb_s": got / seconds / 1e6, "dropped_neurons_per_token": 0.0,
           "perplexity": float(np.exp(nll / n)), "tokens": n, "cgroup": kind, "limit_bytes": args.limit_bytes,
           "cgroup_stats": stats,
           "note": "disk bytes from /proc/self/io read_bytes (page faults and readahead); I/O time is inside "
                   "the page faults, so only the total is measured"}
    args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # as the engines of benchmarks/flash_offload.py
        main()
