"""Pack a float MoE checkpoint into an EKM bit-plane file: calibrate, quantize, write.

Each expert is quantized by quantize.matryoshka (MWQ calibrates its base on the tokens the
router sends to that expert, collected by running the float model on training text); the
file records the source checkpoint's sha256 so a benchmark can tell a stale pack.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.moe_file import write_moe_file
from edgekiln.flash_offload.moe_lm import MoEModel, load_moe, nll
from edgekiln.quantize.matryoshka import MWQ_CONFIGS, quantize_expert

MODES = ("mwq", "slice")


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def parse_bits(text: str) -> tuple[int, int]:
    """'5-8' -> (5, 8); MWQ's named configurations are 2-4 and 5-8."""
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        raise InputError(f"bits {text!r}: write LOW-HIGH, e.g. 5-8 (MWQ configs: {sorted(MWQ_CONFIGS)})") from None
    if not 1 <= lo <= hi <= 8:
        raise InputError(f"bits {text!r}: need 1 <= low <= high <= 8")
    return lo, hi


def calibration_inputs(model: MoEModel, windows: Sequence[np.ndarray], max_rows: int = 512) -> dict:
    """(layer, expert) -> the FFN inputs (n, d) the float model routes to that expert."""
    got: dict[tuple[int, int], list[np.ndarray]] = {}

    def hook(layer, H, idx, w, probs):
        for e in range(model.E):
            rows = np.nonzero((idx == e).any(axis=1))[0]
            if rows.size:
                got.setdefault((layer, e), []).append(H[rows])

    for w in windows:
        nll(model, w, on_route=hook)
    return {k: np.concatenate(v)[:max_rows] for k, v in got.items()}


def quantize_model(model: MoEModel, mode: str, lo: int, hi: int, group: int, calib: dict | None,
                   log: Callable[[str], None] = lambda s: None):
    if mode not in MODES:
        raise InputError(f"matryoshka mode {mode!r}: use one of {MODES}")
    out = []
    for li, layer in enumerate(model.experts):
        row = []
        for e, (up, b_up, down, b_down) in enumerate(layer):
            X = None if calib is None or mode != "mwq" else calib.get((li, e))
            row.append(quantize_expert(up, b_up, down, b_down, X, mode, lo, hi, group))
        out.append(row)
        log(f"layer {li}: {len(row)} experts quantized ({mode} {lo}->{hi} bits, group {group})")
    return out


def pack_model(checkpoint, out, mode: str = "mwq", bits: str = "5-8", group: int = 64,
               calib_windows: Sequence[np.ndarray] = (), log: Callable[[str], None] = lambda s: None) -> Path:
    """Quantize the experts of a moe_lm checkpoint and write the EKM file `out`."""
    lo, hi = parse_bits(bits)
    model = load_moe(checkpoint)
    calib = calibration_inputs(model, calib_windows) if calib_windows else None
    experts = quantize_model(model, mode, lo, hi, group, calib, log)
    quant = {"source_sha256": file_sha256(checkpoint), "calibration_windows": len(calib_windows),
             "bits": [lo, hi]}
    return write_moe_file(out, model.config, model.resident, experts, group, mode, quant)
