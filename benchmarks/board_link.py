"""Board-link benchmark: the framed protocol over emulated boards' serial links.

    python benchmarks/board_link.py --json build/bench/board_link.json [--boards emulated-cortex-m4,...]

Per board: PING round trips per second (frames/s, 16-byte payload), bytes/s of BATCH
traffic (both directions), inferences per second one by one (INFER), batched stop-and-wait
(BATCH of max_batch, one in flight) and batched streamed (up to HELLO's window in flight),
and protocol bytes per inference (everything on the wire minus the 4-byte
float32 inputs and the label + outputs). --baud: the TCP boards again through boards/relay.py
pacing each direction at a UART's rate (10 bits a byte), where streaming's overlap of
requests and replies shows without the emulator's own pace. Model: a 6-tree random forest on iris (4 features,
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
from contextlib import contextmanager

from edgekiln.boards.emulated import EmulatedBoard
from edgekiln.boards.link import BoardLink, open_port
from edgekiln.boards.registry import get_board
from edgekiln.boards.relay import FaultRelay
from edgekiln.boards.session import board_link, board_project
from edgekiln.targets.build import build_project


@contextmanager
def paced_link(board, elf: Path, expected: str, baud: int | None):
    """The board's link, or (baud) the same through a relay pacing both directions at a UART's rate."""
    if not baud:
        with board_link(board, elf, expected, count_instructions=False) as (link, _):
            yield link
        return
    with EmulatedBoard(board, elf, count_instructions=False) as emu:
        relay = FaultRelay(int(emu.url.rsplit(":", 1)[1]), baud=baud)
        port = open_port(relay.url)
        try:
            link = BoardLink(port, expected_hash=expected, timeout=5.0)
            link.wait_boot()
            link.connect()
            yield link
        finally:
            port.close()
            relay.close()


def measure(board_name: str, est, X: np.ndarray, workdir: Path, repeat: int = 3, baud: int | None = None) -> dict:
    board = get_board(board_name)
    proj = workdir / board_name
    if not proj.exists():
        edgekiln.export(est, board.target, proj, name="iris", options={"main": "board"}, sim=board.variant)
        build_project(proj)
    expected = board_project(proj, board)[2]
    if baud:
        X = X[:300]
    with paced_link(board, proj / "fw.elf", expected, baud) as link:
        h = link.hello
        t = time.perf_counter()
        pings = 20 if baud else 200
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

        n_one = 60 if baud else 200
        one_s, one_bytes = timed(False, X[:n_one])
        # stop-and-wait and streamed interleaved, `repeat` rounds, medians (a shared machine's noise)
        saw, streamed = [], []
        for _ in range(repeat):
            saw.append(timed(True, X, window=1)[0])
            streamed.append(timed(True, X))
        saw_s = float(np.median(saw))
        batch_s = float(np.median([t for t, _ in streamed]))
        batch_bytes = streamed[0][1]
        payload = 4 * X.shape[1] + 4 + 4 * h.output_shape[0]  # inputs + label + outputs
        retries = link.stats.retries
        link.exit()
    return {"board": board_name + (f" @{baud} baud" if baud else ""), "baud": baud, "max_batch": h.max_batch, "window": h.window, "frames_per_s": pings / ping_s,
            "round_trip_ms": 1000 * ping_s / pings,
            "one_by_one": {"inferences_per_s": n_one / one_s, "bytes_per_inference": one_bytes / n_one,
                           "overhead_bytes_per_inference": one_bytes / n_one - payload},
            "batched_stop_and_wait": {"inferences_per_s": len(X) / saw_s,
                                      "rounds_inferences_per_s": [len(X) / t for t in saw]},
            "batched": {"inferences_per_s": len(X) / batch_s, "bytes_per_s": batch_bytes / batch_s,
                        "bytes_per_inference": batch_bytes / len(X),
                        "rounds_inferences_per_s": [len(X) / t for t, _ in streamed],
                        "overhead_bytes_per_inference": batch_bytes / len(X) - payload},
            "retries": retries}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--baud", type=int, default=115200,
                    help="also measure each TCP board through a relay paced at this UART rate (0: no)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of stop-and-wait vs streamed BATCH (medians)")
    ap.add_argument("--boards", default="emulated-cortex-m4,emulated-gap8,emulated-arm,emulated-stm32f4")
    args = ap.parse_args()
    X, y = load_iris(return_X_y=True)
    X = np.tile(X.astype(np.float32), (4, 1))
    est = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, np.tile(y, 4))
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(b, est, X, Path(tmp), args.repeat) for b in args.boards.split(",")]
        if args.baud:
            rows += [measure(b, est, X, Path(tmp), 1, args.baud) for b in args.boards.split(",")
                     if get_board(b).emulator.get("link", "tcp") == "tcp"]
    print(f"{'board':28} {'frames/s':>9} {'rtt ms':>7} {'1-by-1 inf/s':>12} {'batch w=1 inf/s':>15} "
          f"{'batch inf/s':>11} {'batch B/s':>10} {'ovh B/inf 1x1':>13} {'ovh B/inf batch':>15}")
    for r in rows:
        print(f"{r['board']:28} {r['frames_per_s']:9.0f} {r['round_trip_ms']:7.2f} "
              f"{r['one_by_one']['inferences_per_s']:12.0f} "
              f"{r['batched_stop_and_wait']['inferences_per_s']:15.0f} {r['batched']['inferences_per_s']:11.0f} "
              f"{r['batched']['bytes_per_s']:10.0f} {r['one_by_one']['overhead_bytes_per_inference']:13.1f} "
              f"{r['batched']['overhead_bytes_per_inference']:15.1f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
