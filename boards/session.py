"""Run a board-mode project on a board: open the link (starting the emulator for emulated
boards), check the model, stream the samples, collect a RunResult plus link statistics.

`run_on_board` keeps a checkpoint (<project>/board_run.partial.npz) of the results that
arrived, so a run cut short (board gone, link down) continues with resume=True from the
sample after the last acknowledged one, for the same data."""
from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edgekiln.errors import InputError
from edgekiln.fingerprint import graph_fingerprint
from edgekiln.ir import Graph
from edgekiln.results import RunResult
from edgekiln.targets.build import load_project

from .emulated import EmulatedBoard
from .link import BoardLink, LinkError, open_port
from .registry import Board

CHECKPOINT = "board_run.partial.npz"


BOARD_MAINS = ("board", "energyrunner")  # codegen/mains.py: the framed protocol, EnergyRunner's text one


def protocol(meta: dict) -> str:
    """The protocol a project's firmware serves: "board" (framed) or "energyrunner"."""
    return meta.get("options", {}).get("main", "harness")


def board_project(path: Path, board: Board) -> tuple[dict, Graph, str]:
    """(project.json, graph, expected model hash) of a project exported for board mode."""
    meta = load_project(path)
    if protocol(meta) not in BOARD_MAINS:
        raise InputError(f"{path} was exported with the test-harness main; export it for boards with "
                         f"`kiln export ... --main board` (or --main energyrunner)")
    if meta["target"] != board.target:
        raise InputError(f"{path} is for target {meta['target']} but board {board.name} is a {board.target}")
    sim = meta.get("options", {}).get("sim")
    if board.variant != sim and not board.emulated:
        raise InputError(f"{path} was built for {meta['target']}{' --sim ' + sim if sim else ''}, but board "
                         f"{board.name} needs its own port: export with `-t {board.target} --sim {board.variant}`")
    if board.emulated and sim is not None and board.variant != sim:
        raise InputError(f"{path} was built for the {sim} variant, which does not run on {board.name}")
    graph = Graph.from_json((path / "graph.json").read_text())
    return meta, graph, graph_fingerprint(graph)


@contextmanager
def open_board(board: Board, elf: Path, *, port: str | None = None,
               count_instructions: bool = True) -> Iterator[tuple[object, str, EmulatedBoard | None]]:
    """(open serial port, its URL, the emulator or None); emulated boards start with ELF."""
    emu = None
    if board.emulated and port is None:
        emu = EmulatedBoard(board, elf, count_instructions=count_instructions)
        url = emu.start()
    else:
        url = port or board.port
        if url is None:
            raise InputError(f"board {board.name}: give the serial port with --port (see `kiln boards`)")
    try:
        ser = open_port(url, board.baudrate)
        try:
            yield ser, url, emu
        finally:
            ser.close()
    finally:
        if emu is not None:
            emu.close()


@contextmanager
def connected(link, emu: EmulatedBoard | None) -> Iterator[None]:
    """link.connect(), naming the emulator's last words when it died first. A board just
    started is first given the time to boot (its boot message)."""
    try:
        if emu is not None:
            link.wait_boot()
        link.connect()
    except LinkError as e:
        if emu is not None and not emu.alive:
            raise LinkError(f"{e}; the emulator exited: {emu.stderr_tail()}") from None
        raise
    yield


@contextmanager
def board_link(board: Board, elf: Path, expected_hash: str | None, *, port: str | None = None,
               timeout: float = 2.0, retries: int = 4, count_instructions: bool = True,
               window: int | None = None) -> Iterator[tuple[BoardLink, EmulatedBoard | None]]:
    """A connected BoardLink (HELLO checked); emulated boards are started with ELF first."""
    with open_board(board, elf, port=port, count_instructions=count_instructions) as (ser, url, emu):
        link = BoardLink(ser, timeout=timeout, retries=retries, expected_hash=expected_hash,
                         label=f"board {board.name} on {url}", window=window)
        with connected(link, emu):
            yield link, emu


@contextmanager
def connect_any(board: Board, project: Path, elf: Path, expected: str | None, *, port: str | None = None,
                timeout: float = 5.0) -> Iterator[dict]:
    """Boot (emulated) or open a board, speak the project's protocol, check the model; yields
    {model, hash, protocol}; the emulator is told to exit afterwards."""
    if protocol(load_project(project)) == "energyrunner":
        from .energyrunner import EnergyRunnerLink

        with open_board(board, elf, port=port, count_instructions=False) as (ser, url, emu):
            link = EnergyRunnerLink(ser, timeout=timeout, expected_hash=expected, label=f"board {board.name} on {url}")
            with connected(link, emu):
                yield {"model": link.info.get("model"), "hash": link.info.get("hash", ""), "protocol": "energyrunner"}
            link.exit()
        return
    with board_link(board, elf, expected, port=port, timeout=timeout, count_instructions=False) as (link, _emu):
        yield {"model": link.hello.model, "hash": link.hello.model_hash, "protocol": "board"}
        link.exit()


def _data_key(X32: np.ndarray) -> str:
    return hashlib.sha256(X32.tobytes() + str(X32.shape).encode()).hexdigest()


def _load_checkpoint(path: Path, key: str) -> tuple[int, np.ndarray, np.ndarray, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as z:
        if str(z["key"]) != key:
            raise InputError(f"{path} holds a run over other data; delete it or run without --resume")
        return int(z["done"]), z["labels"], z["outputs"], z["cycles"]


def run_on_board(project: str | Path, board: Board, X32: np.ndarray, *, port: str | None = None, batch: bool = True,
                 timeout: float = 2.0, retries: int = 4, resume: bool = False,
                 progress: Callable[[int], None] | None = None,
                 kill_after: int | None = None, window: int | None = None) -> RunResult:
    """All rows of X32 through the board. kill_after (tests): power an emulated board off
    once that many samples are acknowledged."""
    path = Path(project)
    meta, graph, expected = board_project(path, board)
    if protocol(meta) == "energyrunner":
        from .energyrunner_session import run_energyrunner

        return run_energyrunner(path, board, X32, expected, port=port, timeout=max(timeout, 5.0), resume=resume,
                                progress=progress, kill_after=kill_after)
    n = len(X32)
    ckpt, key = path / CHECKPOINT, _data_key(X32)
    saved = _load_checkpoint(ckpt, key) if resume else None
    done = saved[0] if saved else 0
    with board_link(board, path / "fw.elf", expected, port=port, timeout=timeout, retries=retries,
                    window=window) as (link, emu):
        h = link.hello
        labels = np.zeros(n, np.int32)
        outputs = np.zeros((n, h.output_shape[0]), np.float32)
        cycles = np.zeros(n, np.uint32)
        if saved:
            labels[:done], outputs[:done], cycles[:done] = saved[1][:done], saved[2][:done], saved[3][:done]
        if progress and done:
            progress(done)
        began = time.monotonic()
        link.last_acked = done - 1 if done else None
        acked = done

        def advance(k: int) -> None:  # progress; tests power the board off part-way
            nonlocal acked, kill_after
            acked += k
            if progress:
                progress(k)
            if kill_after is not None and emu is not None and acked >= kill_after:
                emu.kill()
                kill_after = None

        try:
            link.infer_many(X32, batch=batch, start=done, progress=advance, out=(labels, outputs, cycles))
        except LinkError as e:
            i = 0 if link.last_acked is None else link.last_acked + 1
            np.savez(ckpt, key=key, done=i, labels=labels, outputs=outputs, cycles=cycles)
            raise LinkError(f"{e} (results 0..{i - 1} kept in {ckpt}; continue with --resume)") from None
        elapsed = time.monotonic() - began
        prof = link.profile()
        link.exit()
        instructions = emu.stop() if emu is not None else None
    if ckpt.exists():
        ckpt.unlink()
    if instructions is not None and len(instructions) != prof["inferences"]:
        instructions = None  # e.g. a reset ran some inferences twice: no per-sample figure
    if instructions is not None and len(instructions) != n:
        instructions = None if len(instructions) < n else instructions[-n:]
    stats = link.stats.to_dict()
    stats.update(elapsed_s=elapsed, samples_per_s=(n - done) / elapsed if elapsed > 0 else None,
                 bytes_per_s=(stats["bytes_sent"] + stats["bytes_received"]) / elapsed if elapsed > 0 else None,
                 resumed_from=done if resume and saved else None, batch=batch,
                 window=min(h.window, window or h.window) if batch else 1)
    return RunResult(target=board.target, simulator=f"board:{board.name}", labels=labels, outputs=outputs,
                     task=h.task, instructions=instructions, cycles=cycles.tolist() if h.counter else None,
                     stack_bytes=prof["stack_bytes"],
                     extra={"board": board.name, "link": stats, "hello": h.to_dict(), "profile": prof})
