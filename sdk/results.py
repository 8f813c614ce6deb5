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
    # networks (harness protocol 2): each sample's output tensor as stored (n x bytes, uint8),
    # per-layer instructions (n x layers) when the harness marks layers, traced layer outputs
    tensors: np.ndarray | None = None
    layer_instructions: list[list[int]] | None = None
    traces: dict[int, dict[int, bytes]] | None = None
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


def _words_to_bytes(words: list[str], n: int) -> bytes:
    return b"".join(struct.pack("<I", int(w, 16)) for w in words)[:n]


def parse_network_output(text: str, n_samples: int) -> dict:
    """Protocol 2 (networks): -> {"tensors": uint8 (n, out_bytes), "traces": {sample: {layer:
    bytes}}, "stack": bytes or None, "n_layers", "layer_marks"}. Raises SimulatorError on EKERR
    or truncation, like parse_harness_output."""
    tensors: dict[int, bytes] = {}
    traces: dict[int, dict[int, bytes]] = {}
    header, stack, done = None, None, None
    for line in text.splitlines():
        parts = line.strip().split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "EKNET" and len(parts) == 6:
            if int(parts[1]) != 2:
                raise SimulatorError(f"the firmware speaks harness protocol {parts[1]}, this edgekiln reads 2: "
                                     "export the project again")
            header = {"in_bytes": int(parts[2]), "out_bytes": int(parts[3]), "n_layers": int(parts[4]),
                      "layer_marks": bool(int(parts[5]))}
        elif tag == "EKTENSOR" and header is not None:
            tensors[int(parts[1])] = _words_to_bytes(parts[2:], header["out_bytes"])
        elif tag == "EKTRACE":
            traces.setdefault(int(parts[1]), {})[int(parts[2])] = _words_to_bytes(parts[3:], 4 * len(parts[3:]))
        elif tag == "EKSTACK":
            stack = int(parts[1])
        elif tag == "EKDONE":
            done = int(parts[1])
        elif tag == "EKERR":
            raise SimulatorError(f"the firmware reported an error: {' '.join(parts[1:])}")
    if header is None:
        raise SimulatorError("the firmware never printed EKNET (did it boot? is it a network harness?)" + _tail(text))
    if done != n_samples or len(tensors) != n_samples:
        raise SimulatorError(f"the firmware stopped after {len(tensors)} of {n_samples} samples" + _tail(text))
    arr = np.frombuffer(b"".join(tensors[i] for i in range(n_samples)), dtype=np.uint8).reshape(n_samples, -1)
    return {"tensors": arr.copy(), "traces": traces, "stack": None if stack is None or stack < 0 else stack, **header}


def network_words(raw: np.ndarray) -> np.ndarray:
    """Input tensors (n, bytes) as protocol-2 words: little-endian uint32, zero-padded, viewed
    as float32 so the classic encoders carry their bits unchanged."""
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    pad = (-raw.shape[1]) % 4
    if pad:
        raw = np.concatenate([raw, np.zeros((raw.shape[0], pad), np.uint8)], axis=1)
    return raw.view("<u4").view(np.float32)


def encode_network_inputs(raw: np.ndarray, flags: int = 0) -> bytes:
    """Protocol 2, host -> device over the console: EKIN n words flags, then the words."""
    words = network_words(raw).view(np.uint32)
    lines = [f"EKIN {words.shape[0]} {words.shape[1]} {flags}"]
    lines += [" ".join(f"{w:08x}" for w in row) for row in words]
    return ("\n".join(lines) + "\n").encode()


def encode_inputs(X: np.ndarray) -> bytes:
    """The host -> device half of the protocol: header then float32 bits as hex words."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    n, f = X.shape
    words = X.view(np.uint32).reshape(n, f)
    lines = [f"EKIN {n} {f}"]
    lines += [" ".join(f"{w:08x}" for w in row) for row in words]
    return ("\n".join(lines) + "\n").encode()


BULK_MAGIC = 0x4E49424B  # ek_port.h EK_BULK_MAGIC


def encode_bulk_inputs(X: np.ndarray, flags: int = 0) -> bytes:
    """The preloaded-memory form of the inputs (ek_bulk_input_t): header + float32 rows
    (protocol 2: the words of network_words, and its flags in `reserved`)."""
    X = np.ascontiguousarray(X, dtype="<f4")
    header = struct.pack("<4I", BULK_MAGIC, X.shape[0], X.shape[1], flags)
    return header + X.tobytes()
