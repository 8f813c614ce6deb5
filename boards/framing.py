"""Host side of the board protocol's framing (docs/board_protocol.md): COBS, CRC-32, frames.

The same rules as runtime_c/protocol/ek_link.c: raw = version type seq(LE16) payload
crc32(LE32 over version..payload); on the wire COBS(raw) + b"\\x00". The decoder keeps at
most `max_encoded` bytes of a frame, so garbage or a missing delimiter cannot grow memory;
anything wrong becomes a FrameError event and decoding resumes at the next delimiter.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 1
HEADER = struct.Struct("<BBH")
OVERHEAD = HEADER.size + 4
SEQ_NONE = 0xFFFF  # seq of an ERROR about a frame whose own seq was unreadable


def crc32(data: bytes) -> int:
    """CRC-32/IEEE 802.3, as zlib computes it (and ek_crc32 in C)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """COBS without the delimiter; the output holds no zero byte."""
    out = bytearray()
    start, n = 0, len(data)
    while True:
        end = start
        while end < n and data[end] != 0 and end - start < 254:
            end += 1
        out.append(end - start + 1)
        out += data[start:end]
        if end >= n:
            break
        if data[end] == 0:
            start = end + 1
            if start == n:
                out.append(1)
                break
        else:
            start = end
    return bytes(out)


class FrameError(ValueError):
    """A received frame that is malformed; `kind` names the check that failed."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    r, n = 0, len(data)
    while r < n:
        code = data[r]
        r += 1
        if code == 0 or code - 1 > n - r:
            raise FrameError("cobs", f"block code {code} at byte {r - 1} of {n}")
        out += data[r:r + code - 1]
        r += code - 1
        if code != 0xFF and r < n:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""
    version: int = VERSION


def raw_frame(type_: int, seq: int, payload: bytes = b"", version: int = VERSION) -> bytes:
    body = HEADER.pack(version, type_, seq) + payload
    return body + struct.pack("<I", crc32(body))


def encode_frame(type_: int, seq: int, payload: bytes = b"", version: int = VERSION) -> bytes:
    """The bytes to write for one frame, delimiter included."""
    return cobs_encode(raw_frame(type_, seq, payload, version)) + b"\x00"


def parse_raw(raw: bytes) -> Frame:
    """A decoded (un-COBSed) frame, checked: length, CRC, version."""
    if len(raw) < OVERHEAD:
        raise FrameError("short", f"{len(raw)} bytes, need at least {OVERHEAD}")
    (want,) = struct.unpack_from("<I", raw, len(raw) - 4)
    if crc32(raw[:-4]) != want:
        raise FrameError("crc", f"CRC mismatch over {len(raw)} bytes")
    version, type_, seq = HEADER.unpack_from(raw)
    if version != VERSION:
        raise FrameError("version", f"protocol version {version}, this host speaks {VERSION}")
    return Frame(type_, seq, bytes(raw[HEADER.size:-4]), version)


@dataclass
class DecoderStats:
    frames: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0

    def count(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class FrameDecoder:
    """Streaming decoder: feed() any bytes, get back frames and FrameErrors in order."""

    def __init__(self, max_encoded: int = 8192) -> None:
        self.max_encoded = max_encoded
        self._buf = bytearray()
        self._overflow = False
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        events: list[Frame | FrameError] = []
        self.stats.bytes_in += len(data)
        pos = 0
        while pos < len(data):
            end = data.find(b"\x00", pos)
            chunk = data[pos:] if end < 0 else data[pos:end]
            room = self.max_encoded - len(self._buf)
            if len(chunk) > room:
                self._overflow = True
                chunk = chunk[:max(room, 0)]
            self._buf += chunk
            if end < 0:
                break
            pos = end + 1
            events += self._finish()
        return events

    def _finish(self) -> list[Frame | FrameError]:
        buf, overflow = bytes(self._buf), self._overflow
        self._buf.clear()
        self._overflow = False
        if overflow:
            err = FrameError("oversize", f"frame longer than {self.max_encoded} bytes")
        elif not buf:
            return []
        else:
            try:
                frame = parse_raw(cobs_decode(buf))
                self.stats.frames += 1
                return [frame]
            except FrameError as e:
                err = e
        self.stats.count(err.kind)
        return [err]
