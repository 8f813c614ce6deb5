"""STM32 board firmware builds for real (no board here): the cortex-m4 target's STM32
variants (targets/cortex-m4/stm32/: register-level USART2 / LPUART1 on the ST-LINK virtual
COM port, interrupt-driven receive ring, DWT CYCCNT) built by arm-none-eabi-gcc for each
board's memory map, checked in the ELF: the vector table at 0x08000000 with the initial
stack in RAM, reset and the UART interrupt in their slots, .data loaded from flash, the
port's functions present and the DWT cycle counter read; the size report fits the chip."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import edgekiln
from edgekiln.boards.flashers import flash_command
from edgekiln.boards.registry import get_board
from edgekiln.boards.session import board_project
from edgekiln.errors import InputError
from edgekiln.targets import get_target
from edgekiln.targets.build import build_project

from conftest import require_target

# board -> (variant, flash bytes, RAM bytes, UART IRQ number, the UART's base address)
BOARDS = {"nucleo-f446re": ("stm32f446re", 512 * 1024, 128 * 1024, 38, 0x40004400),
          "stm32f4-discovery": ("stm32f407vg", 1024 * 1024, 128 * 1024, 38, 0x40004400),
          "nucleo-l4r5zi": ("stm32l4r5zi", 2048 * 1024, 640 * 1024, 70, 0x40008000)}


def _symbols(elf) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {p[2]: int(p[0], 16) for p in (ln.split() for ln in out.splitlines()) if len(p) == 3}


def _word(elf, addr: int) -> int:
    """A 32-bit word of the loaded image at a flash address (objcopy to binary from 0x08000000)."""
    data = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(elf), "/dev/stdout"],
                          capture_output=True, check=True).stdout
    off = addr - 0x08000000
    return int.from_bytes(data[off:off + 4], "little")


@pytest.mark.parametrize("main_kind", ["board", "energyrunner"])
@pytest.mark.parametrize("board_name", list(BOARDS))
def test_stm32_firmware_builds_for_the_chip(tmp_path, board_name, main_kind):
    require_target("cortex-m4")
    variant, flash_bytes, ram_bytes, irq, uart = BOARDS[board_name]
    board = get_board(board_name)
    assert board.variant == variant and board.firmware == "untested"
    X, y = load_iris(return_X_y=True)
    est = RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0).fit(X.astype(np.float32), y)
    out = tmp_path / "p"
    edgekiln.export(est, "cortex-m4", out, name="iris", options={"main": main_kind}, sim=variant)
    built = build_project(out).to_dict()
    elf = out / "fw.elf"
    board_project(out, board)  # the project is accepted for this board
    # size report per region of this chip's memory map
    regions = built["regions"]  # the size report, by this chip's memory regions
    assert regions["FLASH"]["size"] == flash_bytes and regions["RAM"]["size"] == ram_bytes
    assert 0 < regions["FLASH"]["used"] < flash_bytes and 0 < regions["RAM"]["used"] < ram_bytes
    sizes = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True).stdout
    sec = {p[0]: (int(p[1]), int(p[2])) for p in (ln.split() for ln in sizes.splitlines()[2:]) if len(p) == 3}
    assert sec[".text"][1] == 0x08000000 and sec[".text"][0] + sec[".rodata"][0] < flash_bytes
    assert 0x20000000 <= sec[".bss"][1] and sec[".stack"][1] + sec[".stack"][0] <= 0x20000000 + ram_bytes
    syms = _symbols(elf)
    for name in ("Reset_Handler", "ek_stm32_uart_irq", "ek_port_cycles", "ek_port_getc", "iris_run", "main"):
        assert name in syms, name
    # (--gc-sections keeps what the main uses: the framed main drains the line, EnergyRunner stamps time)
    assert {"ek_link_rx_byte", "ek_port_rx_ready"} <= set(syms) if main_kind == "board" else \
        {"ek_er_rx", "ek_port_micros"} <= set(syms)
    # vector table: initial SP = top of the stack (in RAM), reset, and the UART interrupt slot
    assert _word(elf, 0x08000000) == syms["__ek_stack_top"] <= 0x20000000 + ram_bytes
    assert _word(elf, 0x08000004) == syms["Reset_Handler"] | 1
    assert _word(elf, 0x08000000 + 4 * (16 + irq)) == syms["ek_stm32_uart_irq"] | 1
    # the port really reads DWT CYCCNT and drives this chip's UART (literal addresses in the code)
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout

    def body(fn: str) -> str:
        return dis.split(f"<{fn}>:\n", 1)[1].split("\n\n", 1)[0]

    assert "e0001000" in body("ek_port_cycles") and "#4]" in body("ek_port_cycles")  # DWT_CYCCNT = 0xE0001004
    isr = body("ek_stm32_uart_irq")
    assert f"{uart:08x}" in isr or f"{uart & ~0xFFF:08x}" in isr
    assert "wfi" in body("ek_port_getc") and "cpsie" in dis
    assert flash_command(board, elf)[:4] == ["pyocd", "load", "--target", board.flash["pyocd_target"]]


def test_stm32_variant_is_not_a_simulator_and_plain_projects_are_refused(tmp_path):
    require_target("cortex-m4")
    t = get_target("cortex-m4", "stm32f446re")
    assert t.simulator["name"] == "board" and t.memory[0].origin == 0x08000000
    with pytest.raises(Exception, match="runs on a real board"):
        t.require_simulator()
    X, y = load_iris(return_X_y=True)
    est = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0).fit(X, y)
    edgekiln.export(est, "cortex-m4", tmp_path / "plain", name="iris", options={"main": "board"})
    with pytest.raises(InputError, match="--sim stm32f446re"):
        board_project(tmp_path / "plain", get_board("nucleo-f446re"))
