"""Board registry, flasher command lines (no probe here: the commands are checked, not run),
detection, board-mode export and the `kiln board` commands that need no emulator."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from serial.tools.list_ports_common import ListPortInfo

from edgekiln.boards.flashers import flash, flash_command
from edgekiln.boards.registry import all_boards, detect, get_board
from edgekiln.cli import main
from edgekiln.errors import InputError

EMULATED = {"emulated-cortex-m4": "cortex-m4", "emulated-gap8": "gap8", "emulated-pulp-open": "pulp-open",
            "emulated-arm": "arm"}


def test_boards_are_found_by_file():
    boards = all_boards()
    for name, target in EMULATED.items():
        assert boards[name].target == target and boards[name].flasher == "emulated"
    assert {"nucleo-f446re", "stm32f4-discovery", "nucleo-l4r5zi", "gapuino"} <= set(boards)
    assert boards["emulated-arm"].emulator["link"] == "pty"


def test_a_new_board_file_is_a_new_board(tmp_path):
    (tmp_path / "x.toml").write_text('name = "x"\ntarget = "cortex-m4"\nflasher = "pyocd"\n'
                                     '[flash]\npyocd_target = "stm32f411ceux"\n[usb]\nids = ["0483:374E"]\n')
    b = all_boards(tmp_path)["x"]
    assert b.usb_ids == ["0483:374e"] and b.baudrate == 115200
    (tmp_path / "x.toml").write_text('name = "x"\ntarget = "cortex-m4"\nflasher = "jlink"\n')
    with pytest.raises(InputError, match="flasher must be one of"):
        all_boards(tmp_path)


def test_unknown_board_names_the_known_ones():
    with pytest.raises(InputError, match="emulated-cortex-m4"):
        get_board("nucleo-x")


def test_pyocd_command_lines():
    elf = Path("/tmp/p/fw.elf")
    assert flash_command(get_board("nucleo-f446re"), elf) == [
        "pyocd", "load", "--target", "stm32f446retx", "--format", "elf", str(elf)]
    assert flash_command(get_board("nucleo-l4r5zi"), elf, probe="0670FF") == [
        "pyocd", "load", "--target", "stm32l4r5zitx", "--format", "elf", "--uid", "0670FF", str(elf)]
    assert flash_command(get_board("stm32f4-discovery"), elf)[3] == "stm32f407vgtx"


def test_openocd_command_line_for_gapuino():
    elf = Path("/tmp/p/fw.elf")
    assert flash_command(get_board("gapuino"), elf, probe="FT1") == [
        "openocd", "-c", "adapter serial FT1", "-f", "interface/ftdi/gapuino_ftdi.cfg", "-f", "target/gap8revb.tcl",
        "-f", "tcl/jtag_boot.tcl", "-c", f"gap8_jtag_load_binary_and_start {elf} elf"]


def test_flash_refuses_firmware_that_cannot_run_there_and_missing_tools(monkeypatch):
    with pytest.raises(InputError, match="GAP8 silicon needs the GreenWaves toolchain"):
        flash(get_board("gapuino"), Path("fw.elf"))
    b = get_board("nucleo-f446re")  # firmware "untested": flashed (here: the tool is missing)
    monkeypatch.setenv("PATH", "/nonexistent")
    from edgekiln.errors import ToolchainError

    with pytest.raises(ToolchainError, match="pip install pyocd"):
        flash(b, Path("fw.elf"), force=True)
    with pytest.raises(InputError, match="emulated"):
        flash_command(get_board("emulated-gap8"), Path("fw.elf"))


def test_detect_matches_usb_ids():
    st = ListPortInfo("/dev/ttyACM0")
    st.vid, st.pid, st.description = 0x0483, 0x374B, "STM32 STLink"
    other = ListPortInfo("/dev/ttyS0")
    found = detect([st, other])
    assert found[0]["usb"] == "0483:374b"
    assert {"nucleo-f446re", "nucleo-l4r5zi", "stm32f4-discovery"} <= set(found[0]["boards"])
    assert found[1]["boards"] == [] and found[1]["usb"] is None


def test_cli_board_list_json(tmp_path):
    r = CliRunner().invoke(main, ["board", "list", "--json", str(tmp_path / "b.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "b.json").read_text())
    assert {d["name"] for d in doc} >= set(EMULATED)


def test_export_main_board_and_dry_run_flash(tmp_path):
    pytest.importorskip("sklearn")
    import numpy as np
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    from conftest import require_target

    require_target("cortex-m4")
    X = np.arange(40, dtype=float).reshape(20, 2)
    sio.dump(DecisionTreeClassifier(random_state=0).fit(X, np.arange(20) % 2), tmp_path / "m.skops")
    run = CliRunner().invoke
    r = run(main, ["export", str(tmp_path / "m.skops"), "-t", "cortex-m4", "-o", str(tmp_path / "p"), "--main", "board"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "p" / "project.json").read_text())
    assert meta["options"]["main"] == "board" and len(meta["options"]["board"]["model_hash"]) == 64
    assert "ek_link_rx_byte" in (tmp_path / "p" / "main.c").read_text()
    r = run(main, ["flash", str(tmp_path / "p"), "--board", "nucleo-f446re", "--dry-run"])
    assert r.exit_code == 2 and "--sim stm32f446re" in r.output  # the mps2 port cannot run on the STM32
    r = run(main, ["export", str(tmp_path / "m.skops"), "-t", "cortex-m4", "--sim", "stm32f446re", "-o",
                   str(tmp_path / "p"), "--main", "board"])
    assert r.exit_code == 0, r.output
    r = run(main, ["flash", str(tmp_path / "p"), "--board", "nucleo-f446re", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "pyocd load --target stm32f446retx --format elf" in r.output
    r = run(main, ["board", "flash", str(tmp_path / "p"), "--board", "gapuino"])  # the group form too
    assert r.exit_code == 2 and "is for target cortex-m4" in r.output
    r = run(main, ["export", str(tmp_path / "m.skops"), "-t", "cortex-m4", "-o", str(tmp_path / "h")])
    r = run(main, ["board", "run", str(tmp_path / "h"), "--board", "emulated-cortex-m4", "-d", str(tmp_path / "m.skops")])
    assert r.exit_code == 2 and "--main board" in r.output
