"""Where every core of a hung QEMU system emulator is: PCs over QMP, named by ELF symbols.

The runner starts system emulators with a QMP socket; when a run times out, the error names
each core's function (e.g. a cluster core still in ek_barrier) before the process is stopped.
"""
from __future__ import annotations

import json
import re
import socket
from pathlib import Path

from elftools.elf.elffile import ELFFile

# `info registers -a` prints one block per CPU; the PC line differs per architecture.
_PC = re.compile(r"^\s*(?:pc|PC)\s*[=:]?\s*([0-9a-fA-F]{4,16})\b|R15=([0-9a-fA-F]{8})", re.MULTILINE)
_CPU = re.compile(r"^CPU#(\d+)", re.MULTILINE)


def qmp_args(sock: Path) -> list[str]:
    return ["-qmp", f"unix:{sock},server=on,wait=off"]


def _command(f, cmd: dict) -> dict:
    f.write((json.dumps(cmd) + "\n").encode())
    f.flush()
    while True:
        msg = json.loads(f.readline())
        if "return" in msg or "error" in msg:
            return msg


def core_states(sock: Path, elf: Path, timeout: float = 3.0) -> list[str]:
    """["core 0: 0x80001234 in main", ...]; empty when QEMU cannot be asked."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            f = s.makefile("rwb")
            json.loads(f.readline())  # greeting
            _command(f, {"execute": "qmp_capabilities"})
            reply = _command(f, {"execute": "human-monitor-command",
                                 "arguments": {"command-line": "info registers -a"}})
    except (OSError, ValueError):
        return []
    text = reply.get("return", "")
    blocks = re.split(r"(?=^CPU#\d+)", text, flags=re.MULTILINE) if _CPU.search(text) else [text]
    symbols = _function_symbols(elf)
    states = []
    for i, block in enumerate(b for b in blocks if b.strip()):
        m = _PC.search(block)
        if m is None:
            continue
        pc = int(m.group(1) or m.group(2), 16)
        cpu = _CPU.search(block)
        states.append(f"core {cpu.group(1) if cpu else i}: {pc:#x} in {_name(symbols, pc)}")
    return states


def _function_symbols(elf: Path) -> list[tuple[int, int, str]]:
    with open(elf, "rb") as f:
        tab = ELFFile(f).get_section_by_name(".symtab")
        if tab is None:
            return []
        return sorted((s["st_value"] & ~1, s["st_size"], s.name) for s in tab.iter_symbols()
                      if s["st_info"]["type"] == "STT_FUNC" and s["st_size"] > 0)


def _name(symbols: list[tuple[int, int, str]], pc: int) -> str:
    for start, size, name in symbols:
        if start <= pc < start + size:
            return f"{name}+{pc - start:#x}"
    return "?"
