"""The flash-offload C runtime against the Python engine, config by config, on one model.

    python benchmarks/flash_offload_c.py MODEL.ekf PREDICTOR.npz --json r.json [--tokens 40]
        [--targets host,arm] [--budget BYTES] [--window 4] [--threads 4] [--markdown]

MODEL.ekf / PREDICTOR.npz: `kiln flash-offload train --preset large`, `pack`, `train-predictor`.
Each config gets the DRAM plan OffloadEngine makes for the budget (default: half the model);
the C runtime runs with the same static and cache rows, then again with --direct (O_DIRECT,
cold reads) on the host. Writes per config: tokens equal to Python's, neurons
loaded/computed/dropped equal at every position, bytes per token, ms per token (C host page
cache, C host O_DIRECT with its I/O part, C arm under qemu-aarch64, Python page cache).
"""
from __future__ import annotations

import argparse
import json
import time
import warnings

from rich.console import Console
from rich.table import Table

from edgekiln.flash_offload.dense.c_runner import run_c
from edgekiln.flash_offload.dense.engine import OffloadEngine
from edgekiln.flash_offload.dense.predictor import Predictor

warnings.filterwarnings("ignore")
CONFIGS = [("naive", "naive"), ("hybrid", "hybrid"), ("predictor", "predictor"), ("window", "window"),
           ("bundle", "window")]
PROMPT = b"def __init__(self, "


def ms_per_token(r, key: str = "total_ns") -> float:
    return r.total(key) / len(r.records) / 1e6


def run_config(ekf: str, pred_path: str, pred: Predictor, config: str, mode: str, args) -> dict:
    eng = OffloadEngine(ekf, config, predictor=None if config == "naive" else pred, budget_bytes=args.budget,
                        window_k=args.window, direct=False, cold=False)
    t0 = time.perf_counter()
    toks, stats = eng.generate(list(PROMPT), args.tokens)
    py_ms = (time.perf_counter() - t0) * 1e3 / len(stats)
    kw = dict(mode=mode, predictor=None if mode == "naive" else pred_path, window=args.window,
              static_rows=eng.plan.static_per_layer, cache_rows=eng.plan.cache_per_layer, threads=args.threads)
    row = {"name": config, "c_mode": mode, "static_per_layer": eng.plan.static_per_layer,
           "cache_per_layer": eng.plan.cache_per_layer, "python_ms_per_token": py_ms,
           "python_bytes_per_token": sum(s.bytes_read for s in stats) / len(stats)}
    for target in args.targets:
        r = run_c(ekf, PROMPT, args.tokens, target=target, **kw)
        same_counts = all((x.counters["loaded"], x.counters["used"], x.counters["dropped"])
                          == (s.neurons_loaded, s.neurons_computed, s.dropped) for x, s in zip(r.records, stats))
        row[target] = {"same_tokens": r.tokens == toks, "same_neurons_every_position": same_counts,
                       "bytes_per_token": r.total("bytes") / len(r.records), "ms_per_token": ms_per_token(r)}
    d = run_c(ekf, PROMPT, args.tokens, target="host", direct=True, **kw)
    row["host_direct"] = {"o_direct": d.begin["direct"] == "1", "ms_per_token": ms_per_token(d),
                          "io_ms_per_token": ms_per_token(d, "io_ns"),
                          "io_bytes_per_token": d.total("io_bytes") / len(d.records),
                          "reads_per_token": d.total("reads") / len(d.records)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("predictor")
    ap.add_argument("--json", required=True)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--targets", default="host,arm")
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4, help="C read threads (the Python engine's default is 4)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    args.targets = args.targets.split(",")
    pred = Predictor.load(args.predictor)
    rows = [run_config(args.model, args.predictor, pred, c, m, args) for c, m in CONFIGS]
    out = {"model": args.model, "prompt": PROMPT.decode(), "tokens": args.tokens, "threads": args.threads,
           "configs": rows}
    with open(args.json, "w") as fh:
        json.dump(out, fh, indent=1)
    t = Table(title="flash-offload C runtime vs Python engine (ms per token)")
    for col in ("config", "same tokens", "bytes/token", "C host", "C host O_DIRECT (I/O)",
                *[f"C {x}" for x in args.targets if x != "host"], "Python"):
        t.add_column(col)
    for r in rows:
        same = all(r[x]["same_tokens"] and r[x]["same_neurons_every_position"] for x in args.targets)
        d = r["host_direct"]
        t.add_row(r["name"], "yes" if same else "NO", f"{r['host']['bytes_per_token']:,.0f}",
                  f"{r['host']['ms_per_token']:.1f}", f"{d['ms_per_token']:.1f} ({d['io_ms_per_token']:.1f})",
                  *[f"{r[x]['ms_per_token']:.1f}" for x in args.targets if x != "host"], f"{r['python_ms_per_token']:.1f}")
    Console().print(t)
    if args.markdown:
        print("| config | same tokens | bytes/token | C host | C host O_DIRECT (I/O) | C arm | Python |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            d = r["host_direct"]
            print(f"| {r['name']} | {'yes' if all(r[x]['same_tokens'] for x in args.targets) else 'no'} | "
                  f"{r['host']['bytes_per_token']:,.0f} | {r['host']['ms_per_token']:.1f} | "
                  f"{d['ms_per_token']:.1f} ({d['io_ms_per_token']:.1f}) | "
                  f"{r.get('arm', {}).get('ms_per_token', float('nan')):.1f} | {r['python_ms_per_token']:.1f} |")


if __name__ == "__main__":
    main()
