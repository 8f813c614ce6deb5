"""Board-link benchmark: the framed protocol over emulated boards' serial links.

    python benchmarks/board_link.py --json build/bench/board_link.json [--boards emulated-cortex-m4,...]

Per board: PING round trips per second (frames/s, 16-byte payload), bytes/s of BATCH
traffic (both directions), inferences per second one by one (INFER), batched stop-and-wait
(BATCH of max_batch, one in flight) and batched streamed (up to HELLO's window in flight),
and protocol bytes per inference (everything on the wire minus the 4-byte
float32 inputs and the label + outputs). Model: a 6-tree random forest on iris (4 features,
3 outputs), 600 samples. Host-side wall-clock times on a shared machine: compare rows of
one run, not across machines."""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import edgekiln
from edgekiln.boards.registry import get_board
from edgekiln.boards.session import board_link, board_project
from edgekiln.targets.build import build_project


def measure(board_name: str, est, X: np.ndarray, workdir: Path) -> dict:
    board = get_board(board_name)
    proj = workdir / board_name
    edgekiln.export(est, board.target, proj, name="iris", options={"main": "board"}, sim=board.variant)
    build_project(proj)
    expected = board_project(proj, board)[2]
    with board_link(board, proj / "fw.elf", expected, count_instructions=False) as (link, _):
        h = link.hello
        t = time.perf_counter()
        pings = 200
        for _ in range(pings):
            link.ping(b"0123456789abcdef")
        ping_s = time.perf_counter() - t

        def timed(batch: bool, rows: np.ndarray, window: int | None = None) -> tuple[float, int]:
            link.window_limit = window
            s0 = link.stats.bytes_sent + link.stats.bytes_received
            t0 = time.perf_counter()
            labels, _, _ = link.infer_many(rows, batch=batch)
            dt = time.perf_counter() - t0
            assert np.array_equal(est.classes_[labels], est.predict(rows))
            return dt, link.stats.bytes_sent + link.stats.bytes_received - s0

        one_s, one_bytes = timed(False, X[:200])
        saw_s, _ = timed(True, X, window=1)
        batch_s, batch_bytes = timed(True, X)
        payload = 4 * X.shape[1] + 4 + 4 * h.output_shape[0]  # inputs + label + outputs
        retries = link.stats.retries
        link.exit()
    return {"board": board_name, "max_batch": h.max_batch, "window": h.window, "frames_per_s": pings / ping_s,
            "round_trip_ms": 1000 * ping_s / pings,
            "one_by_one": {"inferences_per_s": 200 / one_s, "bytes_per_inference": one_bytes / 200,
                           "overhead_bytes_per_inference": one_bytes / 200 - payload},
            "batched_stop_and_wait": {"inferences_per_s": len(X) / saw_s},
            "batched": {"inferences_per_s": len(X) / batch_s, "bytes_per_s": batch_bytes / batch_s,
                        "bytes_per_inference": batch_bytes / len(X),
                        "overhead_bytes_per_inference": batch_bytes / len(X) - payload},
            "retries": retries}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--boards", default="emulated-cortex-m4,emulated-gap8,emulated-arm,emulated-stm32f4")
    args = ap.parse_args()
    X, y = load_iris(return_X_y=True)
    X = np.tile(X.astype(np.float32), (4, 1))
    est = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, np.tile(y, 4))
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(b, est, X, Path(tmp)) for b in args.boards.split(",")]
    print(f"{'board':20} {'frames/s':>9} {'rtt ms':>7} {'1-by-1 inf/s':>12} {'batch w=1 inf/s':>15} "
          f"{'batch inf/s':>11} {'batch B/s':>10} {'ovh B/inf 1x1':>13} {'ovh B/inf batch':>15}")
    for r in rows:
        print(f"{r['board']:20} {r['frames_per_s']:9.0f} {r['round_trip_ms']:7.2f} "
              f"{r['one_by_one']['inferences_per_s']:12.0f} "
              f"{r['batched_stop_and_wait']['inferences_per_s']:15.0f} {r['batched']['inferences_per_s']:11.0f} "
              f"{r['batched']['bytes_per_s']:10.0f} {r['one_by_one']['overhead_bytes_per_inference']:13.1f} "
              f"{r['batched']['overhead_bytes_per_inference']:15.1f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
