"""Which `main.c` a project gets: the test harness (simulators), or a board-mode main that
serves a protocol over the console UART (docs/board_protocol.md, docs/boards.md): `board`
(edgekiln's framed binary protocol) or `energyrunner` (the EEMBC EnergyRunner / MLPerf Tiny
text protocol, so the benchmark's own host tools can drive the firmware).

The board main's buffers are sized here, at generation time, from the model's shapes:
requests up to about 1 KiB, so a frame fits small UART receive budgets."""
from __future__ import annotations

from typing import Any

from edgekiln.errors import InputError
from edgekiln.fingerprint import graph_fingerprint
from edgekiln.ir import Graph

TEMPLATES = {"harness": "main.c.j2", "board": "main_board.c.j2", "energyrunner": "main_energyrunner.c.j2"}
BOARD_MAINS = ("board", "energyrunner")  # the mains a board serves (boards/session.py)
FRAME_BUDGET = 1024  # bytes of request / reply payload a batch is sized to
MAX_BATCH = 32
WINDOW_BUDGET = 4096  # bytes of receive slots (one frame each) the board main may use
MAX_WINDOW = 4


def main_template(options: dict) -> str:
    kind = options.setdefault("main", "harness")
    if kind not in TEMPLATES:
        raise InputError(f"--main must be one of {', '.join(TEMPLATES)}, not {kind!r}")
    return TEMPLATES[kind]


def board_sizes(n_features: int, n_outputs: int) -> dict[str, int]:
    """max_batch, rx_payload, tx_payload (bytes) and window (receive slots) of the board main."""
    per_in, per_out = 4 * n_features, 8 + 4 * n_outputs
    batch = max(1, min(MAX_BATCH, (FRAME_BUDGET - 8) // per_in, (FRAME_BUDGET - 8) // per_out))
    rx = max(8 + batch * per_in, per_in, 64)
    tx = max(rx, 8 + batch * per_out, 48 + 3 * 64, 4 * 11)
    slot = rx + 8 + (rx + 8) // 254 + 2  # EK_LINK_ENCODED_CAP(rx + overhead)
    window = max(1, min(MAX_WINDOW, WINDOW_BUDGET // slot))
    return {"max_batch": batch, "rx_payload": rx, "tx_payload": tx, "window": window}


def main_context(graph: Graph, target: Any, options: dict, n_outputs: int) -> dict:
    """Template variables a board-mode main needs beyond the harness's (model hash, sizes)."""
    digest = bytes.fromhex(graph_fingerprint(graph))
    sizes = board_sizes(graph.n_features, n_outputs)
    hash_bytes = "{" + ", ".join(f"0x{b:02x}" for b in digest) + "}"
    board = {**sizes, "hash_bytes": hash_bytes, "hash": digest.hex(), "target": target.name}
    if options["main"] != "harness":  # project.json tells the host what the board serves
        options["board"] = {**sizes, "model_hash": digest.hex(), "protocol": options["main"]}
    return {"board": board}
