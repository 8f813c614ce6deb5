"""Message payloads of the board protocol (docs/board_protocol.md), packed and parsed.

Types are those of runtime_c/include/ek_link.h: a reply is its request's type | 0x80."""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

HELLO, PING, INFER, BATCH, PROFILE, EXIT = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
REPLY, ERROR = 0x80, 0x7F
NAMES = {HELLO: "HELLO", PING: "PING", INFER: "INFER", BATCH: "BATCH", PROFILE: "PROFILE", EXIT: "EXIT",
         ERROR: "ERROR"}
ERROR_CODES = {1: "oversize", 2: "cobs", 3: "short", 4: "crc", 5: "version", 6: "unknown_type", 7: "length",
               8: "batch_too_big"}
# ERRORs about a frame the board could not read: the request is sent again
TRANSIENT_ERRORS = {"oversize", "cobs", "short", "crc"}
PROFILE_FIELDS = ("inferences", "cycles_total", "stack_bytes", "frames", "crc_errors", "cobs_errors",
                  "oversize_frames", "short_frames", "version_errors", "bad_requests", "duplicates")
DTYPES = {1: "float32"}
COUNTERS = {0: None, 1: "cycles"}


def name(type_: int) -> str:
    base = NAMES.get(type_ & 0x7F, f"0x{type_:02x}")
    return base if type_ == ERROR or not type_ & REPLY else f"{base} reply"


@dataclass(frozen=True)
class Hello:
    protocol: int
    at_boot: bool
    max_payload: int
    max_batch: int
    window: int
    counter: str | None  # "cycles" when the port has a counter that moves, else None
    task: int
    input_dtype: str
    output_dtype: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    model_hash: str
    target: str
    model: str
    sdk_version: str

    def to_dict(self) -> dict:
        d = dict(vars(self))
        d["input_shape"], d["output_shape"] = list(self.input_shape), list(self.output_shape)
        return d


class PayloadError(ValueError):
    """A reply whose payload does not have the layout of its type."""


def parse_hello(p: bytes) -> Hello:
    if len(p) < 51:
        raise PayloadError(f"HELLO payload of {len(p)} bytes is too short")
    proto, flags, max_payload, max_batch, window, counter, task, din, dout, _ = struct.unpack_from("<BBHHBBBBBB", p)
    n_in, n_out = struct.unpack_from("<HH", p, 12)
    digest = p[16:48].hex()
    strings, pos = [], 48
    for _ in range(3):
        if pos >= len(p) or pos + 1 + p[pos] > len(p):
            raise PayloadError("HELLO payload ends inside its names")
        strings.append(p[pos + 1:pos + 1 + p[pos]].decode("utf-8", "replace"))
        pos += 1 + p[pos]
    return Hello(proto, bool(flags & 1), max_payload, max_batch, window, COUNTERS.get(counter, f"kind {counter}"),
                 task, DTYPES.get(din, f"dtype {din}"), DTYPES.get(dout, f"dtype {dout}"), (n_in,), (n_out,), digest,
                 *strings)


def pack_infer(x: np.ndarray) -> bytes:
    return np.ascontiguousarray(x, dtype="<f4").tobytes()


def pack_batch(first: int, X: np.ndarray) -> bytes:
    X = np.ascontiguousarray(X, dtype="<f4")
    return struct.pack("<IHH", first, X.shape[0], 0) + X.tobytes()


def parse_results(p: bytes, count: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels int32, cycles uint32, outputs float32[count, n_out]) of RESULT records."""
    size = 8 + 4 * n_out
    if len(p) != count * size:
        raise PayloadError(f"{len(p)} bytes of results, expected {count} x {size}")
    rec = np.frombuffer(p, dtype=np.dtype([("label", "<i4"), ("cycles", "<u4"), ("out", "<f4", (n_out,))]))
    return rec["label"].astype(np.int32), rec["cycles"].astype(np.uint32), rec["out"].astype(np.float32).reshape(
        count, n_out)


def parse_batch_reply(p: bytes, n_out: int) -> tuple[int, int, bytes]:
    if len(p) < 8:
        raise PayloadError("BATCH reply shorter than its header")
    first, count, _ = struct.unpack_from("<IHH", p)
    return first, count, p[8:]


def parse_profile(p: bytes) -> dict[str, int]:
    if len(p) != 4 * len(PROFILE_FIELDS):
        raise PayloadError(f"PROFILE payload of {len(p)} bytes, expected {4 * len(PROFILE_FIELDS)}")
    values = dict(zip(PROFILE_FIELDS, struct.unpack(f"<{len(PROFILE_FIELDS)}I", p)))
    stack = struct.unpack("<i", struct.pack("<I", values["stack_bytes"]))[0]
    values["stack_bytes"] = None if stack < 0 else stack
    return values


def parse_error(p: bytes) -> tuple[str, int, str]:
    """(code name, request type, text) of an ERROR payload."""
    if len(p) < 4:
        return "malformed", 0, p.hex()
    return ERROR_CODES.get(p[0], f"code {p[0]}"), p[1], p[4:].decode("utf-8", "replace")
