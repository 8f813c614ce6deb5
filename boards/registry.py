"""Board registry: every boards/*.toml is a board. No central list (like targets/).

A board names its target (targets/<name>/target.toml), how firmware gets onto it
(`flasher`: pyocd, openocd or emulated), its serial settings and the USB VID:PID of its
probe or UART bridge, by which `kiln board detect` recognises it."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgekiln.errors import InputError
from edgekiln.targets import get_target

HERE = Path(__file__).parent
FLASHERS = ("pyocd", "openocd", "emulated")


@dataclass
class Board:
    name: str
    path: Path
    description: str
    target: str
    flasher: str
    variant: str | None = None             # the target's variant its firmware is built for (an STM32 port)
    baudrate: int = 115200
    port: str | None = None                # default serial URL (emulated boards make their own)
    usb_ids: list[str] = field(default_factory=list)  # "VID:PID", lower-case hex
    flash: dict = field(default_factory=dict)     # flasher settings (pyocd target, openocd scripts)
    emulator: dict = field(default_factory=dict)  # emulated boards: {"link": "tcp" | "pty"}
    firmware: str = "ready"                # "ready", or why the target's firmware cannot run here yet
    notes: str = ""

    @property
    def emulated(self) -> bool:
        return self.flasher == "emulated"

    def to_dict(self) -> dict:
        d = dict(vars(self))
        d["path"] = str(self.path)
        return d


def _load(path: Path) -> Board:
    with open(path, "rb") as f:
        d = tomllib.load(f)
    flasher = d.get("flasher")
    if flasher not in FLASHERS:
        raise InputError(f"{path}: flasher must be one of {', '.join(FLASHERS)}, not {flasher!r}")
    get_target(d["target"])  # an unknown target is an error in the board file
    serial_cfg = d.get("serial", {})
    if d.get("variant"):
        get_target(d["target"], d["variant"])  # an unknown variant is an error in the board file
    return Board(name=d["name"], path=path, description=d.get("description", ""), target=d["target"],
                 flasher=flasher, variant=d.get("variant"), baudrate=int(serial_cfg.get("baudrate", 115200)), port=serial_cfg.get("port"),
                 usb_ids=[u.lower() for u in d.get("usb", {}).get("ids", [])], flash=d.get("flash", {}),
                 emulator=d.get("emulator", {}), firmware=d.get("firmware", "ready"), notes=d.get("notes", ""))


def all_boards(folder: Path = HERE) -> dict[str, Board]:
    return {b.name: b for b in (_load(p) for p in sorted(folder.glob("*.toml")))}


def get_board(name: str) -> Board:
    boards = all_boards()
    if name not in boards:
        raise InputError(f"unknown board {name!r}; available: {', '.join(sorted(boards))} (see `kiln board list`)")
    return boards[name]


def detect(ports: list | None = None) -> list[dict]:
    """Serial ports present (serial.tools.list_ports) and the boards whose USB id they carry."""
    from serial.tools import list_ports

    found = []
    by_id: dict[str, list[str]] = {}
    for b in all_boards().values():
        for usb in b.usb_ids:
            by_id.setdefault(usb, []).append(b.name)
    for p in (list_ports.comports() if ports is None else ports):
        usb = f"{p.vid:04x}:{p.pid:04x}" if getattr(p, "vid", None) is not None else None
        found.append({"port": p.device, "usb": usb, "description": p.description,
                      "serial_number": getattr(p, "serial_number", None), "boards": by_id.get(usb, [])})
    return found
