"""RunResult: what one firmware run produced, the same for simulators and boards.

`parse_harness_output` is the one parser of the harness protocol (runtime_c ek_protocol.h).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import SimulatorError


@dataclass
class RunResult:
    target: str
    simulator: str
    labels: np.ndarray                   # int32 class/cluster index per sample (0 for regression)
    outputs: np.ndarray                  # float32 n_samples x n_outputs
    task: int                            # 0 classify, 1 regress, 2 cluster
    instructions: list[int] | None = None  # per inference on core 0 outside barrier waiting, when counted
    critical_path: list[int] | None = None  # per inference: max over cores of work outside waiting
    per_core: list[dict[int, int]] | None = None  # per inference: core -> work outside waiting
    cycles: list[int] | None = None      # per inference, only from cycle-accurate sources
    stack_bytes: int | None = None
    log: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.labels.shape[0])

    def instruction_summary(self) -> dict[str, int] | None:
        if not self.instructions:
            return None
        a = np.asarray(self.instructions)
        return {"per_inference_min": int(a.min()), "per_inference_median": int(np.median(a)),
                "per_inference_max": int(a.max()), "total": int(a.sum())}


def _bits_to_float(word: str) -> float:
    return struct.unpack("<f", struct.pack("<I", int(word, 16)))[0]


def batch_chunk(text: str) -> int:
    """Samples per timed run: 1, or the chunk a batch-mode harness announced (EKBATCH)."""
    for line in text.splitlines():
        if line.startswith("EKBATCH "):
            return int(line.split()[1])
    return 1


def parse_harness_output(text: str, n_samples: int) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    """-> (labels, outputs, task, stack_bytes). Raises SimulatorError on EKERR or truncation."""
    labels: dict[int, int] = {}
    outputs: dict[int, list[float]] = {}
    task, n_outputs, stack, done = None, 0, None, None
    for line in text.splitlines():
        parts = line.strip().split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "EKREADY" and len(parts) == 4:
            n_outputs, task = int(parts[2]), int(parts[3])
        elif tag == "EKOUT":
            i = int(parts[1])
            labels[i] = int(parts[2])
            outputs[i] = [_bits_to_float(w) for w in parts[3:]]
        elif tag == "EKSTACK":
            stack = int(parts[1])
        elif tag == "EKDONE":
            done = int(parts[1])
        elif tag == "EKERR":
            raise SimulatorError(f"the firmware reported an error: {' '.join(parts[1:])}")
    if task is None:
        raise SimulatorError("the firmware never printed EKREADY (did it boot?)" + _tail(text))
    if done != n_samples or len(labels) != n_samples:
        raise SimulatorError(f"the firmware stopped after {len(labels)} of {n_samples} samples" + _tail(text))
    width = max((len(v) for v in outputs.values()), default=0)
    out = np.array([outputs[i] + [np.nan] * (width - len(outputs[i])) for i in range(n_samples)],
                   dtype=np.float32).reshape(n_samples, width)
    return np.array([labels[i] for i in range(n_samples)], dtype=np.int32), out, task, (
        None if stack is None or stack < 0 else stack)


def _tail(text: str, n: int = 12) -> str:
    lines = text.strip().splitlines()[-n:]
    return "\n--- last output ---\n" + "\n".join(lines) if lines else " (no output at all)"


def encode_inputs(X: np.ndarray) -> bytes:
    """The host -> device half of the protocol: header then float32 bits as hex words."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    n, f = X.shape
    words = X.view(np.uint32).reshape(n, f)
    lines = [f"EKIN {n} {f}"]
    lines += [" ".join(f"{w:08x}" for w in row) for row in words]
    return ("\n".join(lines) + "\n").encode()


BULK_MAGIC = 0x4E49424B  # ek_port.h EK_BULK_MAGIC


def encode_bulk_inputs(X: np.ndarray) -> bytes:
    """The preloaded-memory form of the inputs (ek_bulk_input_t): header + float32 rows."""
    X = np.ascontiguousarray(X, dtype="<f4")
    header = struct.pack("<4I", BULK_MAGIC, X.shape[0], X.shape[1], 0)
    return header + X.tobytes()
