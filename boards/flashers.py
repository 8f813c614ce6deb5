"""Getting firmware onto a board: pyocd and openocd command lines, run as subprocesses.

The command lines are built from the board file alone (so they are tested without a probe);
`flash` runs them and reports a missing tool with its install command. Emulated boards are
"flashed" by starting the emulator with the ELF (boards/emulated.py)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from edgekiln.errors import InputError, ToolchainError

from .registry import Board

INSTALL = {"pyocd": "pip install pyocd   (then `pyocd pack install {pack_target}` for the target's CMSIS pack)",
           "openocd": "sudo apt-get install -y openocd   (GAP8 needs GreenWaves' fork, built from gap_sdk)"}


def pyocd_command(board: Board, elf: Path, probe: str | None = None) -> list[str]:
    f = board.flash
    if "pyocd_target" not in f:
        raise InputError(f"board {board.name}: [flash] needs pyocd_target for the pyocd flasher")
    cmd = ["pyocd", "load", "--target", f["pyocd_target"], "--format", "elf"]
    if f.get("frequency"):
        cmd += ["--frequency", str(f["frequency"])]
    if probe:
        cmd += ["--uid", probe]
    return cmd + [str(elf)]


def openocd_command(board: Board, elf: Path, probe: str | None = None) -> list[str]:
    f = board.flash
    scripts = f.get("scripts", [])
    if not scripts:
        raise InputError(f"board {board.name}: [flash] needs scripts (openocd -f files) for the openocd flasher")
    cmd = [f.get("openocd", "openocd")]
    if probe:
        cmd += ["-c", f"adapter serial {probe}"]
    for s in scripts:
        cmd += ["-f", s]
    program = f.get("program", "program {elf} verify reset exit")
    return cmd + ["-c", program.format(elf=elf)]


def flash_command(board: Board, elf: Path, probe: str | None = None) -> list[str]:
    if board.flasher == "pyocd":
        return pyocd_command(board, elf, probe)
    if board.flasher == "openocd":
        return openocd_command(board, elf, probe)
    raise InputError(f"board {board.name} is emulated: it is started with the firmware, not flashed")


def flash(board: Board, elf: Path, probe: str | None = None, *, force: bool = False, timeout: float = 300) -> list[str]:
    """Flash ELF onto BOARD; returns the command that ran."""
    cmd = flash_command(board, elf, probe)
    if board.firmware not in ("ready", "untested") and not force:
        raise InputError(f"board {board.name}: {board.firmware} (use --force to flash anyway)")
    if shutil.which(cmd[0]) is None:
        hint = INSTALL.get(board.flasher, "").format(pack_target=board.flash.get("pyocd_target", "TARGET"))
        raise ToolchainError(f"{cmd[0]} not found (flasher of board {board.name}). Install it with: {hint}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
        raise ToolchainError(f"{' '.join(cmd)} failed (exit {proc.returncode}): " + " | ".join(tail))
    return cmd
