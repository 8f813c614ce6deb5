"""Run an EnergyRunner-mode project (`kiln export ... --main energyrunner`) on a board: the
same RunResult and checkpoint (--resume) as the framed protocol's run_on_board, driven by
the text commands EEMBC's host tools use (boards/energyrunner.py)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgekiln.results import RunResult

from .energyrunner import EnergyRunnerLink
from .link import LinkError
from .registry import Board
from .session import CHECKPOINT, _data_key, _load_checkpoint, connected, open_board

def run_energyrunner(path: Path, board: Board, X32: np.ndarray, expected: str, *, port: str | None = None,
                     timeout: float = 5.0, retries: int = 3, resume: bool = False,
                     progress: Callable[[int], None] | None = None, kill_after: int | None = None) -> RunResult:
    n = len(X32)
    ckpt, key = path / CHECKPOINT, _data_key(X32)
    saved = _load_checkpoint(ckpt, key) if resume else None
    done = saved[0] if saved else 0
    with open_board(board, path / "fw.elf", port=port) as (ser, url, emu):
        link = EnergyRunnerLink(ser, timeout=timeout, retries=retries, expected_hash=expected,
                                label=f"board {board.name} on {url}")
        with connected(link, emu):
            pass
        n_out = link.n_outputs
        labels, outputs = np.zeros(n, np.int32), np.zeros((n, n_out), np.float32)
        cycles, micros = np.zeros(n, np.uint32), np.zeros(n, np.float64)
        has_cycles = False
        if saved:
            labels[:done], outputs[:done], cycles[:done] = saved[1][:done], saved[2][:done], saved[3][:done]
            link.last_acked = done - 1 if done else None
        if progress and done:
            progress(done)

        def keep(i: int, r: dict) -> None:
            nonlocal has_cycles
            labels[i], outputs[i] = r["label"], r["outputs"]
            micros[i] = r["lap_us"][1] - r["lap_us"][0]
            if r["cycles"] is not None:
                cycles[i], has_cycles = r["cycles"], True
            if kill_after is not None and emu is not None and i + 1 >= kill_after:
                emu.kill()

        began = time.monotonic()
        try:
            link.infer_many(X32, start=done, progress=progress, on_result=keep)
        except LinkError as e:
            upto = 0 if link.last_acked is None else link.last_acked + 1
            np.savez(ckpt, key=key, done=upto, labels=labels, outputs=outputs, cycles=cycles)
            raise LinkError(f"{e} (results 0..{upto - 1} kept in {ckpt}; continue with --resume)") from None
        elapsed = time.monotonic() - began
        prof = profile_counters(link.command("profile"))
        link.exit()
        instructions = emu.stop() if emu is not None else None
    if ckpt.exists():
        ckpt.unlink()
    if instructions is not None and len(instructions) != n - done:
        instructions = None  # a retried sample ran twice: no per-sample figure
    elif instructions is not None and done:
        instructions = None  # only the resumed part was counted
    stats = link.stats.to_dict()
    stats.update(protocol="energyrunner", elapsed_s=elapsed,
                 samples_per_s=(n - done) / elapsed if elapsed > 0 else None,
                 bytes_per_s=(stats["bytes_sent"] + stats["bytes_received"]) / elapsed if elapsed > 0 else None,
                 resumed_from=done if resume and saved else None, lap_us_median=float(np.median(micros[done:]))
                 if n > done else None)
    return RunResult(target=board.target, simulator=f"board:{board.name}", labels=labels, outputs=outputs,
                     task=int(link.info.get("task", 0)), instructions=instructions,
                     cycles=cycles.tolist() if has_cycles else None,
                     extra={"board": board.name, "link": stats, "profile": prof,
                            "hello": {**link.info, "counter": "cycles" if has_cycles else None}})


def profile_counters(lines: list[str]) -> dict:
    """The m-edgekiln-[k=v,...] line of profile% as a dict (numbers as ints)."""
    line = next((ln for ln in lines if ln.startswith("m-edgekiln-[")), "m-edgekiln-[]")
    out: dict = {}
    for kv in line[len("m-edgekiln-["):-1].split(","):
        if "=" in kv:
            k, v = kv.split("=", 1)
            out[k] = int(v) if v.isdigit() else v
    return out
