"""The QEMU instruction-count plugin (targets/plugin/ek_insn_count.c), built on demand."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from elftools.elf.elffile import ELFFile

from edgekiln.errors import SimulatorError, ToolchainError

PLUGIN_DIR = Path(__file__).resolve().parent.parent / "plugin"
PLUGIN = PLUGIN_DIR / "ek_insn_count.so"


def plugin_path() -> Path:
    src = PLUGIN_DIR / "ek_insn_count.c"
    if not PLUGIN.exists() or PLUGIN.stat().st_mtime < src.stat().st_mtime:
        if shutil.which("gcc") is None:
            raise ToolchainError("gcc is needed to build the QEMU instruction-count plugin: sudo apt-get install -y gcc")
        proc = subprocess.run(["make", "-s", "-C", str(PLUGIN_DIR)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolchainError(f"building the QEMU plugin failed:\n{proc.stderr[-2000:]}")
    return PLUGIN


MARKERS = ("ek_mark_begin", "ek_mark_end", "ek_mark_wait_begin", "ek_mark_wait_end")


def plugin_arguments(elf: Path, out: Path) -> str:
    """The plugin's argument string: marker symbol values (it clears the Thumb bit itself)."""
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is None:
            raise SimulatorError(f"{elf} has no symbol table; build without stripping to count instructions")
        found = {}
        for name in MARKERS:
            syms = symtab.get_symbol_by_name(name)
            if syms:
                found[name] = syms[0]["st_value"]
    for name in MARKERS[:2]:
        if name not in found:
            raise SimulatorError(f"{elf} lacks the profiling marker {name}; was it built by edgekiln?")
    args = f"begin={found['ek_mark_begin']:#x},end={found['ek_mark_end']:#x}"
    if "ek_mark_wait_begin" in found and "ek_mark_wait_end" in found:
        args += f",wait_begin={found['ek_mark_wait_begin']:#x},wait_end={found['ek_mark_wait_end']:#x}"
    return f"{plugin_path()},{args},out={out}"


def parse_counts(path: Path) -> dict[int, list[tuple[int, int, int]]]:
    """vcpu -> (inference number, instructions, of which waiting) per interval, in order."""
    per_vcpu: dict[int, list[tuple[int, int, int]]] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] != "total":
            per_vcpu.setdefault(int(parts[0]), []).append((int(parts[1]), int(parts[2]), int(parts[3])))
    return per_vcpu


def per_inference(per_vcpu: dict[int, list[tuple[int, int, int]]]) -> tuple[list[int], list[int], list[dict]]:
    """-> (instructions on core 0 outside waiting, critical path, per-core work) per inference.

    Critical path: the largest, over cores, of the instructions a core executed for that
    inference outside spin-waiting (ARCHITECTURE.md, "Measuring")."""
    main = per_vcpu.get(0, [])
    work: dict[int, dict[int, int]] = {}
    for vcpu, intervals in per_vcpu.items():
        for tag, total, waiting in intervals:
            work.setdefault(tag, {}).setdefault(vcpu, 0)
            work[tag][vcpu] += total - waiting
    # Core 0's work outside spin-waiting: how long a core waits at a barrier follows the host's
    # thread scheduling (QEMU runs one thread per vCPU), so only the work repeats exactly.
    totals = [total - waiting for _, total, waiting in main]
    critical = [max(work[tag].values()) for tag, _, _ in main]
    return totals, critical, [work[tag] for tag, _, _ in main]
