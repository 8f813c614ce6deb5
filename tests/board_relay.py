"""A fault-injecting TCP relay for board tests: a real socket between the host and QEMU that
corrupts, drops and duplicates bytes at set rates (seeded), in both directions."""
from __future__ import annotations

import random
import socket
import threading
import time


class FaultRelay:
    def __init__(self, upstream_port: int, *, corrupt: float = 0.0, drop: float = 0.0, dup: float = 0.0,
                 seed: int = 0) -> None:
        self.upstream_port, self.rates = upstream_port, (corrupt, drop, dup)
        self.rng = random.Random(seed)
        self.faults = {"corrupt": 0, "drop": 0, "dup": 0}
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _mangle(self, data: bytes) -> bytes:
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
        try:
            while data := src.recv(4096):
                dst.sendall(self._mangle(data))
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
