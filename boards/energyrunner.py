"""Host side of the EnergyRunner / MLPerf Tiny text protocol (runtime_c/include/ek_energyrunner.h,
docs/board_protocol.md): the commands EEMBC's host tools send, spoken over the same
serial_for_url transport as the framed protocol.

The text protocol has no sequence numbers or CRC, so this driver checks what it can: every
command must end with `m-ready` within the timeout; `e-[...]` lines are refused requests; the
firmware's `m-edgekiln-crc-[..]` after `m-load-done` must be the CRC-32 of the bytes sent;
the decimal results must agree with their exact bits. A sample whose exchange fails a check
is loaded and run again (inference is a pure function), up to `retries` times."""
from __future__ import annotations

import re
import struct
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import serial

from .framing import crc32
from .link import LinkError, LinkTimeout, ModelMismatch

CHUNK = 32  # bytes per `db HH..%` command: 3 + 64 characters, inside the 80-character limit
_RESULTS = re.compile(r"^m-results-\[(.*)\]$")
_BITS = re.compile(r"^m-results-bits-\[(.*)\]$")
_LABEL = re.compile(r"^m-label-\[(-?\d+)\]$")
_LAP = re.compile(r"^m-lap-us-(\d+)$")
_CYCLES = re.compile(r"^m-edgekiln-cycles-\[(\d+)\]$")


class ExchangeError(LinkError):
    """One command's answer failed a check (retried by infer_many)."""


@dataclass
class TextStats:
    commands: int = 0
    lines: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    retries: int = 0
    timeouts: int = 0
    crc_errors: int = 0       # m-edgekiln-crc did not match the bytes sent
    malformed: int = 0        # answers that failed a check (missing or garbled lines)

    def to_dict(self) -> dict:
        return asdict(self)


class EnergyRunnerLink:
    """Drives an EnergyRunner-mode firmware over `port` (pyserial-like: read/write)."""

    def __init__(self, port: Any, *, timeout: float = 5.0, retries: int = 3, expected_hash: str | None = None,
                 label: str = "the board") -> None:
        self.port, self.timeout, self.retries = port, timeout, retries
        self.expected_hash, self.label = expected_hash, label
        self.stats = TextStats()
        self.info: dict[str, str] = {}
        self.last_acked: int | None = None
        self._buf = bytearray()

    # -- lines ----------------------------------------------------------------------------
    def _readline(self, deadline: float) -> str | None:
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[:i]).decode("ascii", "replace").strip("\r\n ")
                del self._buf[:i + 1]
                self.stats.lines += 1
                return line
            if time.monotonic() > deadline:
                return None
            try:
                data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 0))
            except (serial.SerialException, OSError) as e:
                raise LinkError(f"connection to {self.label} lost: {e}{self._acked()}") from None
            self.stats.bytes_received += len(data)
            self._buf += data
            if len(self._buf) > 65536:  # a line that never ends
                raise ExchangeError(f"{self.label} sent 64 KiB without a line end")

    def _acked(self) -> str:
        return "" if self.last_acked is None else f"; last acknowledged sample: {self.last_acked}"

    def _lines_until_ready(self, deadline: float, text: str) -> list[str]:
        lines: list[str] = []
        while True:
            line = self._readline(deadline)
            if line is None:
                self.stats.timeouts += 1
                raise LinkTimeout(f"{self.label} did not answer {text[:40]!r} with m-ready within {self.timeout:.1f} s "
                                  f"(got {lines[-3:]}); is it hung, reset or on another port?{self._acked()}")
            if line == "m-ready":
                return lines
            if line:
                lines.append(line)

    def command(self, text: str, *, check: bool = True) -> list[str]:
        """Send `text%`, return the lines before `m-ready`. e-[...] lines raise LinkError."""
        data = (text + "%").encode("ascii")
        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"connection to {self.label} lost while sending {text!r}: {e}{self._acked()}") from None
        self.stats.commands += 1
        self.stats.bytes_sent += len(data)
        lines = self._lines_until_ready(time.monotonic() + self.timeout, text)
        errors = [ln for ln in lines if ln.startswith("e-[")]
        if errors and check:
            raise LinkError(f"{self.label} refused {text[:40]!r}: {errors[0][3:].rstrip(']')}")
        return lines

    def sync(self) -> None:
        """Drop what is in flight (a boot banner, a half command): send an empty command and
        read up to its own answer (e-[Empty command], m-ready), not an earlier m-ready."""
        self._buf.clear()
        for attempt in range(self.retries + 1):
            try:
                lines = self.command("", check=False)
                while "e-[Empty command]" not in lines:
                    lines = self._lines_until_ready(time.monotonic() + self.timeout, "")
                return
            except LinkTimeout:
                if attempt == self.retries:
                    raise

    def wait_boot(self, timeout: float | None = None) -> bool:
        """Wait for the boot banner (m-init-done) of a board just started (an emulator)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while (line := self._readline(deadline)) is not None:
            if line == "m-init-done":
                return True
        return False

    # -- requests ---------------------------------------------------------------------------
    def connect(self) -> dict[str, str]:
        """name%, profile%: what the firmware serves; a model hash other than expected is refused."""
        self.sync()
        name = self.command("name")
        prof = self.command("profile")
        info = next((ln[len("m-edgekiln-["):-1] for ln in prof if ln.startswith("m-edgekiln-[")), None)
        if info is None:
            raise LinkError(f"{self.label} answers the EnergyRunner protocol but is not an edgekiln firmware "
                            f"(no m-edgekiln line in {prof})")
        self.info = dict(kv.split("=", 1) for kv in info.split(",") if "=" in kv)
        self.info["name"] = name[0] if name else ""
        self.info.update({ln.split("-[", 1)[0][2:]: ln.split("-[", 1)[1].rstrip("]") for ln in prof
                          if ln.startswith(("m-profile-[", "m-model-["))})
        if self.expected_hash and self.info.get("hash") != self.expected_hash:
            raise ModelMismatch(f"{self.label} runs model {self.info.get('model')!r} with hash "
                                f"{self.info.get('hash', '?')[:16]}, but the project's model has hash "
                                f"{self.expected_hash[:16]}: flash this project first (`kiln flash PROJECT --board ...`)")
        return self.info

    @property
    def n_outputs(self) -> int:
        return int(self.info["n_out"])

    def load(self, x: np.ndarray) -> None:
        data = np.ascontiguousarray(x, dtype="<f4").tobytes()
        lines = self.command(f"db load {len(data)}")
        if f"m-[Expecting {len(data)} bytes]" not in lines:
            raise ExchangeError(f"db load {len(data)}: unexpected answer {lines}")
        for i in range(0, len(data), CHUNK):
            lines = self.command("db " + data[i:i + CHUNK].hex())
        crc = next((ln for ln in lines if ln.startswith("m-edgekiln-crc-[")), None)
        if "m-load-done" not in lines or crc is None:
            raise ExchangeError(f"the input upload did not end with m-load-done and its CRC: {lines}")
        if int(crc[len("m-edgekiln-crc-["):-1], 16) != crc32(data):
            self.stats.crc_errors += 1
            raise ExchangeError("the board received other input bytes than were sent (CRC mismatch)")

    def parse_results(self, lines: list[str]) -> tuple[int, np.ndarray]:
        """(label, outputs) of m-results / m-results-bits / m-label lines, cross-checked."""
        got = {}
        for ln in lines:
            for key, rx in (("dec", _RESULTS), ("bits", _BITS), ("label", _LABEL)):
                if mt := rx.match(ln):
                    got[key] = mt.group(1)
        if set(got) != {"dec", "bits", "label"}:
            raise ExchangeError(f"results incomplete: {lines[-4:]}")
        try:
            bits = [int(b, 16) for b in got["bits"].split(",")]
            outs = np.array(struct.unpack(f"<{len(bits)}f", struct.pack(f"<{len(bits)}I", *bits)), np.float32)
            dec = np.array([float(v) for v in got["dec"].split(",")])
        except (ValueError, struct.error) as e:
            raise ExchangeError(f"results malformed: {e}") from None
        if len(outs) != self.n_outputs or len(dec) != len(outs) or not np.allclose(
                dec, outs, rtol=1e-5, atol=1e-6, equal_nan=True):
            raise ExchangeError(f"decimal and exact results disagree: {got}")
        return int(got["label"]), outs

    def infer(self, n: int = 1, warmup: int = 0) -> dict:
        """infer N W%: label, outputs, the two m-lap-us stamps and cycles (None without a counter)."""
        lines = self.command(f"infer {n} {warmup}")
        laps = [int(mt.group(1)) for ln in lines if (mt := _LAP.match(ln))]
        if "m-infer-done" not in lines or len(laps) != 2:
            raise ExchangeError(f"infer {n} {warmup}: unexpected answer {lines[:6]}")
        label, outs = self.parse_results(lines)
        cyc = next((int(mt.group(1)) for ln in lines if (mt := _CYCLES.match(ln))), None)
        return {"label": label, "outputs": outs, "lap_us": (laps[0], laps[1]), "cycles": cyc}

    def infer_many(self, X: np.ndarray, *, start: int = 0, progress: Callable[[int], None] | None = None,
                   on_result: Callable[[int, dict], None] | None = None) -> None:
        """Each row of X[start:]: db load, db hex, infer 1 0; on_result(i, infer()) per sample."""
        for i in range(start, len(X)):
            for attempt in range(self.retries + 1):
                try:
                    self.load(X[i])
                    r = self.infer(1, 0)
                    break
                except ExchangeError as e:
                    self.stats.malformed += 1
                    if attempt == self.retries:
                        raise LinkError(f"{self.label}: sample {i} failed {attempt + 1} times ({e}){self._acked()}") \
                            from None
                    self.stats.retries += 1
                    self.sync()
            if on_result:
                on_result(i, r)
            self.last_acked = i
            if progress:
                progress(1)

    def exit(self) -> None:
        try:
            self.port.write(b"edgekiln-exit%")
            self.port.flush()
        except (serial.SerialException, OSError):
            pass
