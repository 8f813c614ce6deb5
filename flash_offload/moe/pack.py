"""Pack a float MoE checkpoint into an EKM bit-plane file: calibrate, quantize, write.

Calibration and quantization are moe.quant's (MWQ calibrates each expert's base on the
tokens the router sends to it, from training text); the file records the source
checkpoint's sha256 so a benchmark can tell a stale pack.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.moe.file import write_moe_file
from edgekiln.flash_offload.moe.model import load_moe
from edgekiln.flash_offload.moe.quant import calibration_inputs, quantize_model
from edgekiln.quantize.matryoshka import MWQ_CONFIGS

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


def pack_model(checkpoint, out, mode: str = "mwq", bits: str = "5-8", group: int = 64,
               calib_windows: Sequence[np.ndarray] = (), log: Callable[[str], None] = lambda s: None) -> Path:
    """Quantize the experts of a moe_lm checkpoint and write the EKM file `out`."""
    lo, hi = parse_bits(bits)
    if mode not in MODES:
        raise InputError(f"matryoshka mode {mode!r}: use one of {MODES}")
    model = load_moe(checkpoint)
    calib = calibration_inputs(model, calib_windows) if len(calib_windows) else None
    log(f"quantizing {model.L} x {model.E} experts ({mode} {lo}->{hi} bits, group {group}, "
        f"{len(calib_windows)} calibration windows)")
    experts = quantize_model(model, calib, mode, lo, hi, group)
    quant = {"source_sha256": file_sha256(checkpoint), "calibration_windows": len(calib_windows),
             "bits": [lo, hi]}
    return write_moe_file(out, model.config, model.resident, experts, group, mode, quant)
