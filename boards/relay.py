"""A fault-injecting TCP relay for board links: a real socket between the host and an
emulated board (QEMU's TCP serial) that corrupts, drops and duplicates bytes and delays
chunks at set rates (seeded), in both directions, and can pace the bytes at a UART's baud
rate (10 bits a byte, each direction on its own, as a full-duplex serial line). Used by
the fault-injection tests and the board-link benchmark."""
from __future__ import annotations

import random
import socket
import threading
import time


class FaultRelay:
    def __init__(self, upstream_port: int, *, corrupt: float = 0.0, drop: float = 0.0, dup: float = 0.0,
                 delay: float = 0.0, delay_s: float = 0.05, baud: int | None = None, seed: int = 0) -> None:
        """corrupt/drop/dup: per byte; delay: per chunk received, held back delay_s seconds;
        baud: pace each direction at baud / 10 bytes per second (None: as fast as TCP)."""
        self.upstream_port, self.rates = upstream_port, (corrupt, drop, dup)
        self.delay, self.delay_s, self.baud = delay, delay_s, baud
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        self.faults = {"corrupt": 0, "drop": 0, "dup": 0, "delay": 0}
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _mangle(self, data: bytes) -> bytes:
        with self._lock:  # one seeded generator for both directions
            return self._mangle_locked(data)

    def _mangle_locked(self, data: bytes) -> bytes:
        corrupt, drop, dup = self.rates
        out = bytearray()
        for b in data:
            r = self.rng.random()
            if r < drop:
                self.faults["drop"] += 1
                continue
            if r < drop + corrupt:
                self.faults["corrupt"] += 1
                b ^= 1 << self.rng.randrange(8)
            out.append(b)
            if self.rng.random() < dup:
                self.faults["dup"] += 1
                out.append(b)
        return bytes(out)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        line_free = time.monotonic()  # when this direction's line has sent what it was given
        try:
            while data := src.recv(4096):
                data = self._mangle(data)
                with self._lock:
                    hold = self.delay and self.rng.random() < self.delay
                    if hold:
                        self.faults["delay"] += 1
                if hold:
                    time.sleep(self.delay_s)
                if self.baud:
                    for i in range(0, len(data), 16):  # 16 bytes at a time at the line's pace
                        piece = data[i:i + 16]
                        line_free = max(line_free, time.monotonic()) + len(piece) * 10 / self.baud
                        time.sleep(max(0.0, line_free - time.monotonic()))
                        dst.sendall(piece)
                else:
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self) -> None:
        client, _ = self.server.accept()
        for _ in range(200):  # QEMU listens a moment after it starts
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port))
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        else:
            client.close()
            return
        for s in (client, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for a, b in ((client, up), (up, client)):
            t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        self.server.close()
