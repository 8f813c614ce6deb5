"""Emulated boards: the target's QEMU with its console UART on a serial link the host opens
with serial_for_url, exactly as it would a USB UART.

- bare metal (cortex-m4 on mps2-an386, gap8/pulp-open on RISC-V virt): `-serial
  tcp:127.0.0.1:PORT,server=on,wait=on`; QEMU waits for the client, so nothing is lost.
- Linux user mode (arm on qemu-aarch64): the program's stdin/stdout are a pty's master;
  the host opens the slave (/dev/pts/N), set raw before the program starts.
The instruction-count plugin runs as in the simulator path; its counts (one per inference,
in order) are read when the emulator exits."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import tty
from pathlib import Path

from edgekiln.errors import SimulatorError, ToolchainError
from edgekiln.targets import get_target
from edgekiln.targets.simulators.plugin import parse_counts, per_inference, plugin_arguments
from edgekiln.targets.simulators.qmp import qmp_args
from edgekiln.targets.simulators.runner import simulator_command

from .registry import Board


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmulatedBoard:
    """One emulator process serving a board-mode firmware; `url` is its serial port."""

    def __init__(self, board: Board, elf: Path, *, count_instructions: bool = True) -> None:
        self.board, self.elf = board, Path(elf).resolve()
        self.target = get_target(board.target, board.variant)
        # A board may bring its own emulator (an STM32 variant on QEMU's netduinoplus2)
        self.own = board.emulator.get("binary")
        self.count = count_instructions and (self.target.simulator.get("name") == "qemu" or
                                             str(self.own or "").startswith("qemu"))
        self._tmp = tempfile.TemporaryDirectory(prefix="edgekiln-board-")
        self.counts_file = Path(self._tmp.name) / "counts.txt"
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.qmp: Path | None = None
        self._pty: tuple[int, int] | None = None

    def start(self) -> str:
        extra = ["-plugin", plugin_arguments(self.elf, self.counts_file)] if self.count else []
        if self.own:
            binary = shutil.which(self.own)
            if binary is None:
                raise ToolchainError(f"{self.own} not found (emulator of board {self.board.name}): "
                                     f"sudo apt-get install -y {' '.join(self.board.emulator.get('apt_packages', []))}")
            cmd = [binary, *extra, *(a.replace("{elf}", str(self.elf)) for a in self.board.emulator.get("args", []))]
        else:
            cmd = simulator_command(self.target, self.elf, extra)
        env = {**os.environ, "QEMU_AUDIO_DRV": "none"}
        stderr = open(Path(self._tmp.name) / "stderr.txt", "wb")
        if self.board.emulator.get("link", "tcp") == "pty":
            master, slave = os.openpty()
            tty.setraw(slave)
            self._pty = (master, slave)
            self.url = os.ttyname(slave)
            self.proc = subprocess.Popen(cmd, stdin=master, stdout=master, stderr=stderr, cwd=self._tmp.name,
                                         env=env, pass_fds=())
        else:
            if "-serial" not in cmd:
                raise SimulatorError(f"target {self.target.name}'s simulator has no -serial option to redirect")
            port = free_tcp_port()
            self.qmp = Path(self._tmp.name) / "qmp.sock"
            cmd[1:1] = qmp_args(self.qmp)  # to press the reset button (reset())
            # the console is the `-serial stdio` one (other UARTs may come first: -serial null)
            i = next((k for k in range(len(cmd) - 1) if cmd[k] == "-serial" and cmd[k + 1] == "stdio"),
                     cmd.index("-serial"))
            cmd[i + 1] = f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"
            self.url = f"socket://127.0.0.1:{port}"
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                         cwd=self._tmp.name, env=env)
        stderr.close()
        self.command = cmd
        return self.url

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reset(self, timeout: float = 5.0) -> None:
        """Press the reset button (QMP system_reset): the firmware boots again and says HELLO."""
        if getattr(self, "qmp", None) is None:
            raise SimulatorError(f"{self.board.name} has no reset line (user-mode emulator)")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.qmp))
            f = s.makefile("rwb")
            f.readline()  # greeting
            for cmd in ({"execute": "qmp_capabilities"}, {"execute": "system_reset"}):
                f.write((json.dumps(cmd) + "\n").encode())
                f.flush()
                while "return" not in (msg := json.loads(f.readline())) and "error" not in msg:
                    pass

    def kill(self) -> None:
        """Power the board off (tests: a board that dies mid-run)."""
        if self.alive:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> list[int] | None:
        """Wait for the emulator to exit (after EXIT), else stop it; per-inference instructions
        from the plugin when it ran and QEMU exited normally."""
        if self.proc is None:
            return None
        if self.board.emulator.get("exits", True) is False:
            timeout = 0.5  # its firmware cannot end the emulator (no semihosting on a real chip's port)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()  # QEMU ends cleanly on SIGTERM: the plugin still writes its counts
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_pty()
        if self.count and self.counts_file.exists():
            return per_inference(parse_counts(self.counts_file))[0]
        return None

    def stderr_tail(self) -> str:
        p = Path(self._tmp.name) / "stderr.txt"
        return " | ".join(p.read_text(errors="replace").strip().splitlines()[-5:]) if p.exists() else ""

    def _close_pty(self) -> None:
        if self._pty:
            for fd in self._pty:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._pty = None

    def close(self) -> None:
        self.kill()
        self._close_pty()
        self._tmp.cleanup()

    def __enter__(self) -> "EmulatedBoard":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
