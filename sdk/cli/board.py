"""Boards over a serial port (docs/boards.md): `kiln boards`, `kiln flash`, and `--board` on
`kiln run` / `kiln profile` (which call run_board / profile_board here); the same commands
also live in the `kiln board list|detect|flash|run|profile` group."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..errors import InputError
from ._app import main
from ._console import console, err_console
from ._inputs import read_data
from ._options import data_option, json_option

board_option = click.option("--board", "-b", "board_name", required=True, help="board name (see `kiln board list`)")
port_option = click.option("--port", "-p", default=None,
                           help="serial port or URL (/dev/ttyUSB0, socket://host:port); emulated boards start their own")
link_timeout_option = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=2.0,
                                   show_default=True, help="seconds to wait for each reply before retrying")


def _write_json(json_path: str | None, doc) -> None:
    if json_path:
        Path(json_path).write_text(json.dumps(doc, indent=1))
        console.print(f"written to {json_path}")


@main.group()
def board() -> None:
    """Boards: list, detect, flash, and run or profile a board-mode project over serial."""


@board.command("list")
@json_option("write the boards here as JSON")
def list_boards(json_path: str | None) -> None:
    """Known boards (boards/*.toml): target, flasher, USB ids, firmware status."""
    from edgekiln.boards.registry import all_boards

    boards = list(all_boards().values())
    t = Table(title="edgekiln boards")
    for col in ("board", "target", "flasher", "usb", "firmware"):
        t.add_column(col)
    for b in boards:
        t.add_row(b.name, b.target, b.flasher, " ".join(b.usb_ids) or "-", b.firmware if len(b.firmware) < 12 else "not yet")
    console.print(t)
    _write_json(json_path, [b.to_dict() for b in boards])


@board.command()
@json_option("write the ports here as JSON")
def detect(json_path: str | None) -> None:
    """Serial ports present and the boards their USB ids match."""
    from edgekiln.boards.registry import detect as do_detect

    found = do_detect()
    if not found:
        console.print("no serial ports found")
    for p in found:
        console.print(f"{p['port']}  {p['usb'] or '-'}  {p['description']}  -> {', '.join(p['boards']) or 'unknown board'}",
                      highlight=False)
    _write_json(json_path, found)


@main.command("boards")
@json_option("write the boards and the detected ports here as JSON")
def boards_command(json_path: str | None) -> None:
    """Known boards (boards/*.toml) and the serial ports present, matched by USB id."""
    from edgekiln.boards.registry import all_boards
    from edgekiln.boards.registry import detect as do_detect

    known = list(all_boards().values())
    t = Table(title="edgekiln boards")
    for col in ("board", "target", "flasher", "usb", "firmware"):
        t.add_column(col)
    for b in known:
        t.add_row(b.name, b.target + (f" ({b.variant})" if b.variant else ""), b.flasher,
                  " ".join(b.usb_ids) or "-", b.firmware if len(b.firmware) < 12 else "not yet")
    console.print(t)
    found = do_detect()
    console.print("serial ports: " + ("none found" if not found else ""), highlight=False)
    for p in found:
        console.print(f"  {p['port']}  {p['usb'] or '-'}  {p['description']}  -> "
                      f"{', '.join(p['boards']) or 'unknown board'}", highlight=False)
    _write_json(json_path, {"boards": [b.to_dict() for b in known], "ports": found})


def _project_board(project: str, board_name: str):
    from edgekiln.boards.registry import get_board
    from edgekiln.boards.session import board_project
    from edgekiln.targets.build import build_project

    b = get_board(board_name)
    meta, graph, expected = board_project(Path(project), b)
    built = build_project(project).to_dict()
    return b, graph, expected, built


def _flash_options(f):
    for deco in reversed((click.argument("project", type=click.Path(file_okay=False, exists=True)), board_option,
                          port_option,
                          click.option("--probe", default=None,
                                       help="debug probe serial number (pyocd --uid / openocd adapter serial)"),
                          click.option("--dry-run", is_flag=True, help="print the flash command instead of running it"),
                          click.option("--force", is_flag=True,
                                       help="flash even when the board file says the firmware cannot run there yet"))):
        f = deco(f)
    return f


@main.command("flash")
@_flash_options
def flash_command_cli(project: str, board_name: str, port: str | None, probe: str | None, dry_run: bool,
                      force: bool) -> None:
    """Build PROJECT and flash it to --board (emulated boards: boot it and check its model)."""
    flash_board(project, board_name, port, probe, dry_run, force)


@board.command("flash")
@_flash_options
def flash(project: str, board_name: str, port: str | None, probe: str | None, dry_run: bool, force: bool) -> None:
    """Build PROJECT and flash it to --board (the same as `kiln flash`)."""
    flash_board(project, board_name, port, probe, dry_run, force)


def flash_board(project: str, board_name: str, port: str | None, probe: str | None, dry_run: bool,
                force: bool) -> None:
    from edgekiln.boards.flashers import flash as do_flash
    from edgekiln.boards.flashers import flash_command
    from edgekiln.boards.session import connect_any

    b, graph, expected, built = _project_board(project, board_name)
    elf = Path(built["elf"])
    if b.emulated:
        with connect_any(b, Path(project), elf, expected, port=port) as info:
            console.print(f"{b.name}: booted {elf}, model {info['model']} hash {info['hash'][:16]} ok "
                          f"({info['protocol']} protocol)", highlight=False)
        return
    if dry_run:
        console.print(" ".join(flash_command(b, elf, probe)), highlight=False, soft_wrap=True)
        return
    cmd = do_flash(b, elf, probe, force=force)
    console.print(f"flashed {b.name}: {' '.join(cmd)}", highlight=False)


@board.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@board_option
@data_option
@port_option
@json_option("write the report (kiln run's JSON plus link statistics) here")
@link_timeout_option
@click.option("--one-by-one", is_flag=True, help="one INFER per sample instead of BATCH frames")
@click.option("--resume", is_flag=True, help="continue an interrupted run from its last acknowledged sample")
def run(project: str, board_name: str, data: str, port: str | None, json_path: str | None, timeout: float,
        one_by_one: bool, resume: bool) -> None:
    """Run PROJECT (exported with --main board) on --board over the rows of --data (= `kiln run --board`)."""
    run_board(project, board_name, data, port, json_path, timeout, one_by_one, resume)


def board_run_options(f):
    """--board and its companions on `kiln run` (sdk/cli/run.py)."""
    for deco in reversed((
            click.option("--board", "-b", "board_name", default=None,
                         help="run on this board over its serial port instead of the simulator (`kiln boards`)"),
            port_option,
            click.option("--one-by-one", is_flag=True, help="with --board: one INFER per sample instead of BATCH"),
            click.option("--resume", is_flag=True,
                         help="with --board: continue an interrupted run from its last acknowledged sample"))):
        f = deco(f)
    return f


def run_board(project: str, board_name: str, data: str, port: str | None, json_path: str | None, timeout: float,
              one_by_one: bool, resume: bool) -> None:
    """`kiln run PROJECT --board B`: kiln run's report plus `link` statistics."""
    from rich.progress import Progress

    from edgekiln.boards.session import run_on_board

    from ..api import validate_input
    from ..report import print_run_summary, run_report

    b, graph, expected, built = _project_board(project, board_name)
    X32 = validate_input(graph, read_data(data))
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"{b.name}", total=len(X32))
        result = run_on_board(project, b, X32, port=port, batch=not one_by_one, timeout=timeout, resume=resume,
                              progress=lambda k: bar.advance(task, k))
    report = run_report(graph, result, built)
    link = result.extra["link"]
    frames = link.get("frames_sent", link.get("commands", 0))
    corrupt = (sum(link["host_frame_errors"].values()) + link["board_frame_errors"]) if "host_frame_errors" in link \
        else link["crc_errors"] + link["malformed"]
    link.update(frames=frames, crc_errors_total=corrupt)
    report.update(board=b.name, link=link, hello=result.extra["hello"], board_profile=result.extra["profile"])
    print_run_summary(report, console)
    console.print(f"link: {frames} frames sent, {link['retries']} retries, {corrupt} corrupt frames, "
                  f"{link['samples_per_s']:.0f} samples/s, {link['bytes_per_s']:.0f} bytes/s", highlight=False)
    _write_json(json_path, report)


@board.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@board_option
@port_option
@click.option("--data", "-d", type=click.Path(dir_okay=False), default=None, help="samples to run before reading counters")
@json_option("write HELLO, the counters and instructions here")
@link_timeout_option
def profile(project: str, board_name: str, port: str | None, data: str | None, json_path: str | None,
            timeout: float) -> None:
    """HELLO and PROFILE counters of --board (after running --data, when given; = `kiln profile --board`)."""
    profile_board(project, board_name, port, data, json_path, timeout)


def profile_board(project: str, board_name: str, port: str | None, data: str | None, json_path: str | None,
                  timeout: float) -> None:
    """`kiln profile PROJECT --board B`: what the board serves, its counters, instructions."""
    from edgekiln.boards.session import board_link, protocol, run_on_board
    from edgekiln.targets.build import load_project

    from ..api import validate_input

    b, graph, expected, built = _project_board(project, board_name)
    if data is not None:
        r = run_on_board(project, b, validate_input(graph, read_data(data)), port=port, timeout=timeout)
        doc = {"hello": r.extra["hello"], "profile": r.extra["profile"], "link": r.extra["link"],
               "instructions": r.instruction_summary(), "cycles_counter": r.extra["hello"]["counter"]}
    elif protocol(load_project(Path(project))) == "energyrunner":
        raise InputError("an EnergyRunner firmware keeps no counters of its own: give --data to profile a run")
    else:
        with board_link(b, Path(built["elf"]), expected, port=port, timeout=timeout) as (link, _emu):
            doc = {"hello": link.hello.to_dict(), "profile": link.profile(), "link": link.stats.to_dict()}
            link.exit()
    t = Table(title=f"{b.name}: {doc['hello']['model']} on {doc['hello']['target']}")
    t.add_column("counter")
    t.add_column("value", justify="right")
    for k, v in doc["profile"].items():
        t.add_row(k, "-" if v is None else str(v))
    if doc.get("instructions"):
        t.add_row("instructions / inference (median, QEMU plugin)", str(doc["instructions"]["per_inference_median"]))
    t.add_row("cycle counter", doc["hello"]["counter"] or "none on this port")
    console.print(t)
    _write_json(json_path, doc)


