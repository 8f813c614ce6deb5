"""The protocol client over any pyserial port, with retries: requests one at a time, except
BATCH, which streams up to the board's window of requests in flight (credit-based flow
control, `_stream`).

`open_port` is the one transport: `serial.serial_for_url`, so a USB UART (/dev/ttyUSB0),
a pty (/dev/pts/N) and an emulated board's TCP socket (socket://127.0.0.1:PORT) behave
the same. A request is retried with exponential backoff when its reply does not come in
time or arrives corrupt, or when the board reports a frame it could not read; the board
answers a retried sequence number with the reply it already sent, so nothing runs twice.
A HELLO flagged `at_boot` in the middle of a session means the board reset: the model hash
is checked again and the request in flight is sent again.
"""
from __future__ import annotations

import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import serial

from edgekiln.errors import EdgekilnError

from . import messages as m
from .framing import SEQ_NONE, VERSION, Frame, FrameDecoder, FrameError, encode_frame


MAX_BACKOFF_S = 0.5


class LinkError(EdgekilnError):
    """The board link failed: no answer, a lost connection, or a refused request."""


class LinkTimeout(LinkError):
    """No valid reply after every retry (a hung or absent board)."""


class ModelMismatch(LinkError):
    """The board runs another model than the one the host expects."""


def open_port(url: str, baudrate: int = 115200, connect_timeout: float = 10.0) -> serial.SerialBase:
    """serial.serial_for_url, retried while an emulator's socket is not listening yet."""
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.01, write_timeout=10)
            sock = getattr(port, "_socket", None)  # socket://: a frame is one write, send it at once
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return port
        except (serial.SerialException, OSError, ValueError) as e:
            if time.monotonic() > deadline or not url.startswith(("socket://", "rfc2217://")):
                raise LinkError(f"cannot open serial port {url}: {e}") from None
            time.sleep(0.05)


@dataclass
class LinkStats:
    frames_sent: int = 0
    frames_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    retries: int = 0
    timeouts: int = 0
    board_frame_errors: int = 0   # ERRORs: the board received a frame it could not read
    host_frame_errors: dict[str, int] = field(default_factory=dict)  # corrupt frames the host received
    stale_replies: int = 0        # replies to an earlier try of a request
    resets: int = 0               # boot HELLOs seen after the session began

    def to_dict(self) -> dict:
        return asdict(self)


class BoardLink:
    """Talks to one board over `port` (anything with read/write/in_waiting, as pyserial)."""

    def __init__(self, port: Any, *, timeout: float = 2.0, retries: int = 4, backoff: float = 0.05,
                 expected_hash: str | None = None, label: str = "the board", window: int | None = None) -> None:
        self.port, self.timeout, self.retries, self.backoff = port, timeout, retries, backoff
        self.expected_hash, self.label = expected_hash, label
        self.window_limit = window  # at most this many BATCH requests in flight (None: the board's window)
        self.decoder = FrameDecoder()
        self.stats = LinkStats()
        self.hello: m.Hello | None = None
        self.last_acked: int | None = None  # index of the last sample whose result arrived
        self._seq = 0
        self._pending: list[Frame | FrameError] = []

    # -- requests ---------------------------------------------------------------------------
    def connect(self) -> m.Hello:
        """HELLO: learn what the board serves, and refuse a board running another model."""
        hello = m.parse_hello(self.request(m.HELLO).payload)
        self._check_hello(hello)
        self.hello = hello
        return hello

    def wait_boot(self, timeout: float | None = None) -> bool:
        """Wait for the boot HELLO of a board just started (an emulator): a request sent before
        its UART is set up may be dropped. True when it came (the hash is checked)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            events = self._read_events()
            for k, ev in enumerate(events):
                if isinstance(ev, Frame) and ev.type == m.HELLO | m.REPLY:
                    hello = m.parse_hello(ev.payload)
                    if hello.at_boot:
                        self._check_hello(hello)
                        self._pending = events[k + 1:]
                        return True
        return False

    def ping(self, data: bytes = b"") -> bytes:
        return self.request(m.PING, data).payload

    def profile(self) -> dict[str, Any]:
        return m.parse_profile(self.request(m.PROFILE).payload)

    def exit(self) -> None:
        """Ask the board to stop (emulated boards exit, so their counters are written)."""
        self._send(m.EXIT, self._next_seq(), b"")

    def infer(self, x: np.ndarray) -> tuple[int, np.ndarray, int]:
        """(label, outputs, cycles) of one sample."""
        h = self._need_hello()
        labels, cycles, outs = m.parse_results(self.request(m.INFER, m.pack_infer(x)).payload, 1, h.output_shape[0])
        return int(labels[0]), outs[0], int(cycles[0])

    def infer_many(self, X: np.ndarray, *, batch: bool = True, start: int = 0,
                   progress: Callable[[int], None] | None = None,
                   out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows X[start:] in BATCH frames of up to max_batch samples (or INFER one by one);
        returns labels, outputs, cycles of those rows. BATCH requests are streamed: up to the
        board's window (HELLO) of them in flight at once, each retried on its own. `out`
        (arrays of len(X) rows) receives results as they arrive, so a failed run keeps them;
        last_acked is then the end of the unbroken prefix of answered samples."""
        h = self._need_hello()
        n_out, n = h.output_shape[0], len(X)
        labels, outs, cycles = out if out is not None else (
            np.zeros(n, np.int32), np.zeros((n, n_out), np.float32), np.zeros(n, np.uint32))
        window = max(1, min(h.window, self.window_limit or h.window))
        if batch and window > 1:
            self._stream(X, start, labels, outs, cycles, window, progress)
            return labels[start:], outs[start:], cycles[start:]
        step = h.max_batch if batch else 1
        for i in range(start, n, step):
            chunk = X[i:i + step]
            if batch:
                reply = self.request(m.BATCH, m.pack_batch(i, chunk)).payload
                lab, cyc, o = self._batch_results(reply, i, len(chunk), n_out)
            else:
                lab, cyc, o = m.parse_results(self.request(m.INFER, m.pack_infer(chunk[0])).payload, 1, n_out)
            labels[i:i + len(chunk)], outs[i:i + len(chunk)], cycles[i:i + len(chunk)] = lab, o, cyc
            self.last_acked = i + len(chunk) - 1
            if progress:
                progress(len(chunk))
        return labels[start:], outs[start:], cycles[start:]

    def _batch_results(self, reply: bytes, first: int, count: int, n_out: int):
        got_first, got_count, body = m.parse_batch_reply(reply, n_out)
        if (got_first, got_count) != (first, count):
            raise LinkError(f"{self.label} answered samples {got_first}..{got_first + got_count - 1}, "
                            f"expected {first}..{first + count - 1}")
        return m.parse_results(body, count, n_out)

    def _stream(self, X: np.ndarray, start: int, labels: np.ndarray, outs: np.ndarray, cycles: np.ndarray,
                window: int, progress: Callable[[int], None] | None) -> None:
        """Credit-based streaming: `window` BATCH requests in flight (the board buffers that
        many frames). The board answers in arrival order, so a reply to a later request
        means an earlier unanswered one (or its reply) was lost: that one is sent again at
        once. With no reply for `timeout`, everything in flight is sent again (backoff); a
        request that used up its retries ends the run with LinkTimeout."""
        h = self.hello
        n_out, step = h.output_shape[0], h.max_batch
        chunks = [(i, min(len(X), i + step)) for i in range(start, len(X), step)]
        answered = [False] * len(chunks)
        flight: dict[int, list] = {}  # seq -> [chunk index, payload, tries, send order]
        order, nxt, began = 0, 0, time.monotonic()
        last_reply = began

        def send(seq: int, entry: list) -> None:
            nonlocal order
            order += 1
            entry[3] = order
            self._send(m.BATCH, seq, entry[1])

        while nxt < len(chunks) or flight:
            while len(flight) < window and nxt < len(chunks):
                a, b = chunks[nxt]
                entry = [nxt, m.pack_batch(a, X[a:b]), 0, 0]
                seq = self._next_seq()
                flight[seq] = entry
                send(seq, entry)
                nxt += 1
            events = self._read_events()
            for ev in events:
                if isinstance(ev, FrameError):
                    self.stats.host_frame_errors[ev.kind] = self.stats.host_frame_errors.get(ev.kind, 0) + 1
                    continue
                self.stats.frames_received += 1
                if ev.type == m.HELLO | m.REPLY:
                    hello = m.parse_hello(ev.payload)
                    if hello.at_boot:  # a reset: requests the board had buffered are lost and are
                        self._check_hello(hello)  # sent again when a later reply or the timeout shows it;
                        self.stats.resets += 1    # those sent after the reset are served as they are
                        self.hello = hello
                    continue
                if ev.type == m.ERROR:
                    code, req, text = m.parse_error(ev.payload)
                    if ev.seq == SEQ_NONE or code in m.TRANSIENT_ERRORS:
                        self.stats.board_frame_errors += 1
                    elif ev.seq in flight:
                        raise LinkError(f"{self.label} refused {m.name(req or m.BATCH)}: {text} ({code})")
                    else:
                        self.stats.stale_replies += 1
                    continue
                entry = flight.get(ev.seq)
                if entry is None or ev.type != (m.BATCH | m.REPLY):
                    self.stats.stale_replies += 1
                    continue
                k = entry[0]
                a, b = chunks[k]
                lab, cyc, o = self._batch_results(ev.payload, a, b - a, n_out)
                labels[a:b], outs[a:b], cycles[a:b] = lab, o, cyc
                answered[k] = True
                del flight[ev.seq]
                last_reply = time.monotonic()
                done = next((j for j, ok in enumerate(answered) if not ok), len(chunks))
                self.last_acked = (chunks[done - 1][1] - 1) if done else (start - 1 if start else None)
                if progress:
                    progress(b - a)
                for seq, other in sorted(flight.items(), key=lambda kv: kv[1][3]):
                    if other[3] < entry[3]:  # sent before the one just answered: lost
                        self._retry(seq, other, send)
            if not events and flight and time.monotonic() - last_reply > self.timeout:
                self.stats.timeouts += 1
                for seq, entry in sorted(flight.items(), key=lambda kv: kv[1][3]):
                    self._retry(seq, entry, send, stalled=True)
                last_reply = time.monotonic()

    def _retry(self, seq: int, entry: list, send: Callable, stalled: bool = False) -> None:
        entry[2] += 1
        if entry[2] > self.retries:
            raise LinkTimeout(f"{self.label} did not answer BATCH (seq {seq}) after {self.retries + 1} tries "
                              f"({'no reply within ' + format(self.timeout, '.1f') + ' s' if stalled else 'lost'}); "
                              f"is it hung, reset or on another port?{self._acked()}")
        self.stats.retries += 1
        if stalled:
            time.sleep(min(self.backoff * (2 ** (entry[2] - 1)), MAX_BACKOFF_S))
        send(seq, entry)

    def request(self, type_: int, payload: bytes = b"") -> Frame:
        """Send one request and return its reply, retrying as the module docstring says."""
        seq = self._next_seq()
        began, problem = time.monotonic(), "no reply"
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                time.sleep(min(self.backoff * (2 ** (attempt - 1)), MAX_BACKOFF_S))
            self._send(type_, seq, payload)
            got = self._await(type_, seq)
            if isinstance(got, Frame):
                return got
            problem = got
        acked = "" if self.last_acked is None else f"; last acknowledged sample: {self.last_acked}"
        raise LinkTimeout(f"{self.label} did not answer {m.name(type_)} (seq {seq}) after {self.retries + 1} tries "
                          f"in {time.monotonic() - began:.1f} s (last problem: {problem}); is it hung, reset "
                          f"or on another port?{acked}")

    # -- internals ------------------------------------------------------------------------------
    def _need_hello(self) -> m.Hello:
        if self.hello is None:
            self.connect()
        return self.hello

    def _next_seq(self) -> int:
        self._seq = self._seq % 0xFFFE + 1  # 1..0xFFFE: 0 is the boot HELLO's, 0xFFFF SEQ_NONE
        return self._seq

    def _send(self, type_: int, seq: int, payload: bytes) -> None:
        data = encode_frame(type_, seq, payload)
        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"connection to {self.label} lost while sending {m.name(type_)}: {e}"
                            + self._acked()) from None
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(data)

    def _acked(self) -> str:
        return "" if self.last_acked is None else f"; last acknowledged sample: {self.last_acked}"

    def _read_events(self) -> list[Frame | FrameError]:
        if self._pending:
            events, self._pending = self._pending, []
            return events
        try:
            data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 0))
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"connection to {self.label} lost: {e}{self._acked()}") from None
        self.stats.bytes_received += len(data)
        return self.decoder.feed(data) if data else []

    def _await(self, type_: int, seq: int) -> Frame | str:
        """The reply to (type_, seq), or why a retry is needed."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            events = self._read_events()
            for k, ev in enumerate(events):
                rest = events[k + 1:]
                if isinstance(ev, FrameError):
                    self.stats.host_frame_errors[ev.kind] = self.stats.host_frame_errors.get(ev.kind, 0) + 1
                    self._pending = rest
                    return f"corrupt reply ({ev.kind})"
                self.stats.frames_received += 1
                verdict = self._classify(ev, type_, seq)
                if verdict is None:
                    continue
                self._pending = rest
                return verdict
        self.stats.timeouts += 1
        return f"no reply within {self.timeout:.1f} s"

    def _classify(self, fr: Frame, type_: int, seq: int) -> Frame | str | None:
        """A frame for us (the reply), a reason to retry, or None to keep waiting."""
        if fr.type == m.HELLO | m.REPLY:
            hello = m.parse_hello(fr.payload)
            if hello.at_boot:
                self._check_hello(hello)
                if self.hello is not None:
                    self.stats.resets += 1
                    self.hello = hello
                    return "the board reset (HELLO at boot)"
                if type_ != m.HELLO:
                    return "the board booted"
                return None  # we asked HELLO ourselves: wait for that reply
        if fr.type == m.ERROR:
            code, req, text = m.parse_error(fr.payload)
            if fr.seq == SEQ_NONE or code in m.TRANSIENT_ERRORS:
                self.stats.board_frame_errors += 1
                return f"the board received a corrupt frame ({code})"
            if fr.seq == seq:
                raise LinkError(f"{self.label} refused {m.name(req or type_)}: {text} ({code})")
            self.stats.stale_replies += 1
            return None
        if fr.seq != seq or fr.type != (type_ | m.REPLY):
            self.stats.stale_replies += 1
            return None
        return fr

    def _check_hello(self, h: m.Hello) -> None:
        if h.protocol != VERSION:
            raise LinkError(f"{self.label} speaks board protocol {h.protocol}; this host speaks {VERSION}")
        if self.expected_hash and h.model_hash != self.expected_hash:
            raise ModelMismatch(
                f"{self.label} runs model {h.model!r} with hash {h.model_hash[:16]}, but the project's model has "
                f"hash {self.expected_hash[:16]}: flash this project first (`kiln board flash PROJECT --board ...`)")
