"""Run a firmware on the target's simulator (QEMU system/user mode, or natively on the host),
stream the samples over its console and parse the harness protocol into a RunResult."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from edgekiln.results import RunResult, encode_bulk_inputs, encode_inputs, parse_harness_output

from ..registry import Target
from .plugin import parse_counts, per_inference, plugin_arguments
from .process import SimulatorProcess, per_sample_figures
from .qmp import core_states, qmp_args


class QemuProcess(SimulatorProcess):
    """QEMU (system or user mode) or the host itself. Generous budget: QEMU runs tens of
    millions of guest instructions per second. A hung QEMU system is asked over QMP where
    its cores are."""

    BASE_TIMEOUT_S = 60.0
    PER_SAMPLE_TIMEOUT_S = 0.05

    def __init__(self, *args, qmp: Path | None = None, elf: Path | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.qmp, self.elf = qmp, elf

    def where(self) -> list[str]:
        return core_states(self.qmp, self.elf) if self.qmp is not None and self.qmp.exists() else []


def simulator_command(target: Target, elf: Path, extra_args: list[str]) -> list[str]:
    sim = target.simulator
    if sim.get("name") == "native":
        return [str(elf)]
    binary = target.require_simulator()
    args = [a.replace("{elf}", str(elf)) for a in sim.get("args", [])]
    # User-mode QEMU takes options only before the program, so the plugin goes first.
    return [str(binary), *extra_args, *args]


def run_firmware(elf: str | Path, target: Target, X: np.ndarray, *, count_instructions: bool = True,
                 timeout: float | None = None, preload: bool = True) -> RunResult:
    """Run all rows of X in one firmware run. preload=False forces the console stream
    (the path boards use) even where the simulator can preload memory."""
    if target.simulator.get("name") == "gvsoc":  # counters, not a plugin: its own runner
        from .gvsoc import run_gvsoc

        return run_gvsoc(elf, target, X, timeout=timeout, preload=preload)
    elf = Path(elf).resolve()
    X = np.asarray(X, dtype=np.float32)
    count = count_instructions and target.simulator.get("name") == "qemu"
    with tempfile.TemporaryDirectory(prefix="edgekiln-run-") as tmp:
        counts_file = Path(tmp) / "counts.txt"
        extra_args: list[str] = []
        if count:
            extra_args = ["-plugin", plugin_arguments(elf, counts_file)]
        stdin_data = encode_inputs(X)
        bulk = target.simulator.get("bulk_input")
        if bulk is not None and preload:
            blob = encode_bulk_inputs(X)
            if len(blob) <= bulk["size"]:
                (Path(tmp) / "inputs.bin").write_bytes(blob)
                extra_args += ["-device", f"loader,file={Path(tmp) / 'inputs.bin'},addr={bulk['addr']:#x},force-raw=on"]
                stdin_data = b""
        qmp = Path(tmp) / "qmp.sock"
        if Path(str(target.simulator.get("binary", ""))).name.startswith("qemu-system"):
            extra_args += qmp_args(qmp)  # to ask a hung system where its cores are
        cmd = simulator_command(target, elf, extra_args)
        text = QemuProcess(target, cmd, len(X), timeout=timeout, cwd=tmp, env={**os.environ, "QEMU_AUDIO_DRV": "none"},
                           qmp=qmp, elf=elf).run(stdin_data)
        labels, outputs, task, stack = parse_harness_output(text, len(X))
        instructions = critical = per_core = None
        if count:
            instructions, critical, per_core = per_inference(parse_counts(counts_file))
            instructions, critical, per_core = per_sample_figures(text, len(X), "instruction counter",
                                                                  instructions, critical, per_core)
    return RunResult(target=target.name, simulator=target.simulator.get("name", "?"), labels=labels,
                     outputs=outputs, task=task, instructions=instructions, critical_path=critical,
                     per_core=per_core, stack_bytes=stack, log=text)



def run_network(elf: str | Path, target: Target, raw: np.ndarray, *, trace: bool = False,
                count_instructions: bool = True, timeout: float | None = None, preload: bool = True) -> RunResult:
    """Run a network harness (protocol 2) over input tensors `raw` (n, input bytes, uint8).
    With the harness's per-layer markers, instructions come per layer (summed per sample)."""
    from edgekiln.results import encode_bulk_inputs, encode_network_inputs, network_words, parse_network_output

    if target.simulator.get("name") == "gvsoc":
        from edgekiln.errors import SimulatorError

        raise SimulatorError("networks do not run on GVSoC yet (its runner speaks the classic protocol); "
                             "leave out --sim gvsoc")
    elf = Path(elf).resolve()
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    flags = 1 if trace else 0
    count = count_instructions and target.simulator.get("name") == "qemu"
    with tempfile.TemporaryDirectory(prefix="edgekiln-run-") as tmp:
        counts_file = Path(tmp) / "counts.txt"
        extra_args: list[str] = ["-plugin", plugin_arguments(elf, counts_file)] if count else []
        stdin_data = encode_network_inputs(raw, flags)
        bulk = target.simulator.get("bulk_input")
        if bulk is not None and preload:
            blob = encode_bulk_inputs(network_words(raw), flags)
            if len(blob) <= bulk["size"]:
                (Path(tmp) / "inputs.bin").write_bytes(blob)
                extra_args += ["-device", f"loader,file={Path(tmp) / 'inputs.bin'},addr={bulk['addr']:#x},force-raw=on"]
                stdin_data = b""
        qmp = Path(tmp) / "qmp.sock"
        if Path(str(target.simulator.get("binary", ""))).name.startswith("qemu-system"):
            extra_args += qmp_args(qmp)
        cmd = simulator_command(target, elf, extra_args)
        n = len(raw)
        # tracing prints every layer's tensor: a longer budget per sample
        proc = QemuProcess(target, cmd, n * (40 if trace else 1), timeout=timeout, cwd=tmp,
                           env={**os.environ, "QEMU_AUDIO_DRV": "none"}, qmp=qmp, elf=elf)
        text = proc.run(stdin_data)
        doc = parse_network_output(text, n)
        instructions = critical = per_core = layers = layer_critical = None
        if count:
            totals, crit, cores = per_inference(parse_counts(counts_file))
            per = doc["n_layers"] if doc["layer_marks"] else 1
            if len(totals) != n * per:
                from edgekiln.errors import SimulatorError

                raise SimulatorError(f"instruction counter saw {len(totals)} timed runs, expected {n * per}")
            layers = [totals[i * per:(i + 1) * per] for i in range(n)] if doc["layer_marks"] else None
            layer_critical = [crit[i * per:(i + 1) * per] for i in range(n)] if doc["layer_marks"] else None
            instructions = [sum(totals[i * per:(i + 1) * per]) for i in range(n)]
            critical = [sum(crit[i * per:(i + 1) * per]) for i in range(n)]
            per_core = []
            for i in range(n):
                merged: dict[int, int] = {}
                for d in cores[i * per:(i + 1) * per]:
                    for k, v in d.items():
                        merged[k] = merged.get(k, 0) + v
                per_core.append(merged)
    return RunResult(target=target.name, simulator=target.simulator.get("name", "?"),
                     labels=np.zeros(n, np.int32), outputs=np.zeros((n, 0), np.float32), task=3,
                     instructions=instructions, critical_path=critical, per_core=per_core, stack_bytes=doc["stack"],
                     log=text, tensors=doc["tensors"], layer_instructions=layers, traces=doc["traces"] or None,
                     extra={"layer_critical_path": layer_critical} if layer_critical else {})
