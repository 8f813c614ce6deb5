"""Run a pulp-open firmware on GVSoC (`--sim gvsoc`): samples and console through semihosting
files in a scratch directory, and the per-core performance counters the port's markers
print (EKPERF lines, targets/pulp-open/gvsoc/ek_markers.c) turned into instructions,
critical path and cycles per inference."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgekiln.errors import SimulatorError
from edgekiln.results import RunResult, encode_bulk_inputs, encode_inputs, parse_harness_output

from ..registry import Target
from .process import SimulatorProcess, per_sample_figures

BULK_FILE, CONSOLE_FILE = "ek_inputs.bin", "ek_console.txt"  # = gvsoc/gvsoc_port.c
NO_BULK = bytes(16)  # a header with magic 0: the harness reads the console file instead


class GvsocProcess(SimulatorProcess):
    """GVSoC runs ~10-20 million instructions per second here (soft-float kNN on digits: ~2 s
    a sample on one core), plus ~1 s of start-up. Generous: this only catches hangs. Its own
    session: gvsoc is a script that starts the launcher, and all must stop."""

    BASE_TIMEOUT_S = 60.0
    PER_SAMPLE_TIMEOUT_S = 5.0
    HANG_HINT = "hung firmware, or a core that never reached the barrier?"
    HANG_ADVICE = "Pass a larger timeout for big inputs."
    OWN_SESSION = True


def run_gvsoc(elf: str | Path, target: Target, X: np.ndarray, *, timeout: float | None = None,
              preload: bool = True) -> RunResult:
    """Run all rows of X in one GVSoC run. preload=False sends them as the text protocol."""
    binary = target.require_simulator()
    elf = Path(elf).resolve()
    X = np.asarray(X, dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="edgekiln-gvsoc-") as tmp:
        work = Path(tmp)
        blob = encode_bulk_inputs(X)
        fits = preload and len(blob) <= target.simulator["bulk_input"]["size"]
        (work / BULK_FILE).write_bytes(blob if fits else NO_BULK)
        (work / CONSOLE_FILE).write_bytes(b"" if fits else encode_inputs(X))
        args = [a.replace("{elf}", str(elf)) for a in target.simulator.get("args", [])]
        cmd = [binary, *args]  # GVSoC works (and resolves semihosting paths) in cwd
        text = GvsocProcess(target, cmd, len(X), timeout=timeout, cwd=work, label="gvsoc",
                            exit_label=f"{target.name} firmware on gvsoc").run()
    labels, outputs, task, stack = parse_harness_output(text, len(X))
    cycles, instructions, per_core = parse_perf(text)
    cycles, instructions, per_core = per_sample_figures(text, len(X), "the performance counters",
                                                        cycles, instructions, per_core)
    critical = [max(p.values()) for p in per_core]
    return RunResult(target=target.name, simulator="gvsoc", labels=labels, outputs=outputs, task=task,
                     instructions=instructions, critical_path=critical, per_core=per_core, cycles=cycles,
                     stack_bytes=stack, log=text)


def parse_perf(text: str) -> tuple[list[int], list[int], list[dict[int, int]]]:
    """EKPERF lines -> (cycles of core 0, instructions of core 0, per-core work) per timed run.

    Work = instructions outside joins and barriers; cores that did none are left out."""
    cycles, instructions, per_core = [], [], []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] != "EKPERF":
            continue
        try:
            values = [int(p) for p in parts[1:]]
        except ValueError:
            raise SimulatorError(f"malformed performance line from the firmware: {line!r}") from None
        if len(values) < 3:
            raise SimulatorError(f"malformed performance line from the firmware: {line!r}")
        cycles.append(values[0])
        instructions.append(values[1])
        work = values[2:]
        per_core.append({0: work[0], **{c: w for c, w in enumerate(work) if c > 0 and w > 0}})
    return cycles, instructions, per_core

