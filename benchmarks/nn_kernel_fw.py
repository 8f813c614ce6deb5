"""Build and run the network-kernel test firmware (benchmarks/nn_kernels/nn_kernels_main.c)
on any registered target: the host, QEMU user mode (arm) or bare metal (cortex-m4, gap8,
pulp-open), with the target's own compiler, flags, start-up, port and linker script.

The cases (benchmarks/nn_kernel_cases.py) are rendered into nn_cases.h; the firmware runs
each between the profiling markers, so on QEMU the instruction-count plugin gives each
case's instructions (per core on the PULP cluster). Kernels come from
runtime_c/kernels/<family>/ for the families asked for (the target's `kernel_families` by
default; `families=[]` forces the reference kernels), else from kernels/ref/."""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from edgekiln.errors import SimulatorError, ToolchainError
from edgekiln.targets import get_target
from edgekiln.targets.registry import Target
from edgekiln.targets.simulators.plugin import parse_counts, per_inference, plugin_arguments
from edgekiln.targets.simulators.process import SimulatorProcess
from edgekiln.targets.simulators.runner import simulator_command

HERE = Path(__file__).resolve().parent / "nn_kernels"
RUNTIME = Path(__import__("edgekiln.runtime_c", fromlist=["x"]).__file__).resolve().parent
NN_DTYPES = ("s8", "s4", "f32")


def _nn_ops() -> tuple[str, ...]:
    """Every network kernel op: the reference files ek_<op>_<dtype>.c that include ek_nn.h
    (found by file, so a new kernel needs no edit here)."""
    ops = set()
    for p in (RUNTIME / "kernels" / "ref").glob("ek_*.c"):
        op, _, dt = p.stem[3:].rpartition("_")
        if dt in NN_DTYPES and '#include "ek_nn.h"' in p.read_text():
            ops.add(op)
    return tuple(sorted(ops))


NN_OPS = _nn_ops()
WARN = ["-Wall", "-Wextra", "-Werror", "-Wconversion", "-Wdouble-promotion"]  # as codegen/project.py


@dataclass
class KernelRun:
    target: str
    outputs: list[bytes]                 # per case
    status: list[int]                    # per case: 0 = EK_OK
    scratch: list[int]                   # per case: the kernel's *_scratch_bytes()
    instructions: list[int] | None = None  # per case, core 0 outside waiting
    critical_path: list[int] | None = None
    per_core: list[dict] | None = field(default=None)
    kernels: dict[str, str] = field(default_factory=dict)  # kernel file -> family it came from


def kernel_files(families: list[str]) -> dict[str, Path]:
    """Every network kernel file, each from the first family that overrides it, else ref."""
    chosen = {}
    for op in NN_OPS:
        for dt in NN_DTYPES:
            name = f"ek_{op}_{dt}.c"
            for fam in [*families, "ref"]:
                p = RUNTIME / "kernels" / fam / name
                if p.exists():
                    chosen[name] = p
                    break
    return chosen


def render_cases(cases: list[dict], scratch_bytes: int) -> str:
    env = Environment(loader=FileSystemLoader(str(HERE)), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    for i, c in enumerate(cases):
        c["index"] = i
    out_bytes = max(8, max(c["out_bytes"] for c in cases))
    return env.get_template("nn_cases.h.j2").render(cases=cases, out_bytes=out_bytes, scratch_bytes=scratch_bytes)


def build(target: Target | str, cases: list[dict], work: Path, *, families: list[str] | None = None,
          n_cores: int = 1, opt: str = "-O2", scratch_bytes: int = 16384) -> tuple[Path, dict[str, str]]:
    """Compile the firmware for `target` into `work`; returns (executable, kernel -> family)."""
    target = get_target(target) if isinstance(target, str) else target
    cc = target.require_toolchain()
    work.mkdir(parents=True, exist_ok=True)
    (work / "nn_cases.h").write_text(render_cases(cases, scratch_bytes))
    (work / "ek_config.h").write_text(f"#ifndef EK_CONFIG_H\n#define EK_CONFIG_H\n#define EK_N_CORES {n_cores}\n#endif\n")
    fams = list(target.kernel_families) if families is None else list(families)
    kernels = kernel_files(fams)
    srcs = [HERE / "nn_kernels_main.c", RUNTIME / "protocol" / "ek_markers.c", RUNTIME / "protocol" / "ek_protocol.c",
            RUNTIME / "parallel" / f"ek_team_{target.parallel}.c", *kernels.values()]
    incs = [work, RUNTIME / "include"]
    for src in target.port_sources:
        p = (target.path / src).resolve()
        if src.endswith(".c"):
            srcs.append(p)
        else:
            incs.append(p.parent)
    ld = []
    if target.linker_template:
        tpl = target.path / target.linker_template
        lenv = Environment(loader=FileSystemLoader(str(tpl.parent)), undefined=StrictUndefined)
        (work / "linker.ld").write_text(lenv.get_template(tpl.name).render(
            memory=[vars(m) for m in target.memory], stack_bytes=target.stack_bytes))
        ld = [f"-T{work / 'linker.ld'}"]
    exe = work / ("fw.elf" if target.kind == "baremetal" else "fw")
    cmd = [cc, *target.cflags, "-std=c99", opt, *WARN, "-fno-tree-loop-distribute-patterns",
           *[f"-I{i}" for i in dict.fromkeys(incs)], *map(str, srcs), *target.ldflags, *ld, "-lm", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ToolchainError(f"building the kernel test firmware for {target.name} failed:\n{proc.stderr[-4000:]}")
    return exe, {k: p.parent.name for k, p in kernels.items()}


class _Process(SimulatorProcess):
    BASE_TIMEOUT_S = 120.0


def run(target: Target | str, exe: Path, n_cases: int, *, count: bool = True, timeout: float | None = None) -> KernelRun:
    target = get_target(target) if isinstance(target, str) else target
    count = count and target.simulator.get("name") == "qemu"
    with tempfile.TemporaryDirectory(prefix="edgekiln-nnk-") as tmp:
        counts_file = Path(tmp) / "counts.txt"
        extra = ["-plugin", plugin_arguments(exe, counts_file)] if count else []
        cmd = simulator_command(target, exe.resolve(), extra)
        text = _Process(target, cmd, n_cases, timeout=timeout, cwd=tmp,
                        env={**os.environ, "QEMU_AUDIO_DRV": "none"}).run(None)
        outputs, status, scratch = [b""] * n_cases, [-1] * n_cases, [0] * n_cases
        seen = set()
        for line in text.splitlines():
            parts = line.strip().split()
            if len(parts) >= 4 and parts[0] == "EKCASE":
                i = int(parts[1])
                status[i], scratch[i] = int(parts[2]), int(parts[3])
                outputs[i] = bytes.fromhex(parts[4]) if len(parts) > 4 else b""
                seen.add(i)
        if "EKDONE" not in text or len(seen) != n_cases:
            raise SimulatorError(f"kernel firmware on {target.name} printed {len(seen)} of {n_cases} cases:\n{text[-2000:]}")
        result = KernelRun(target.name, outputs, status, scratch)
        if count:
            result.instructions, result.critical_path, result.per_core = per_inference(parse_counts(counts_file))
            if len(result.instructions) != n_cases:
                raise SimulatorError(f"the instruction counter saw {len(result.instructions)} of {n_cases} cases")
    return result


def build_and_run(target: str, cases: list[dict], *, families: list[str] | None = None, n_cores: int = 1,
                  count: bool = True, work: Path | None = None, **kw) -> KernelRun:
    with tempfile.TemporaryDirectory(prefix="edgekiln-nnk-build-") as tmp:
        exe, fams = build(target, cases, Path(work or tmp), families=families, n_cores=n_cores, **kw)
        r = run(target, exe, len(cases), count=count)
        r.kernels = fams
        return r
