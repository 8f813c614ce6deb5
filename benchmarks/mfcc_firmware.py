"""Build and run the MFCC firmware (benchmarks/templates/mfcc_main.c) on a target: the target's own
port, start-up and linker script (from an exported placeholder project), the MFCC kernels and
tables from runtime_c, the clips rendered into mfcc_clips.h. Used by tests/test_mfcc_c.py and
benchmarks/nn_kws.py (instructions per MFCC)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined

import edgekiln
from edgekiln.codegen.project import write_makefile
from edgekiln.quantize.nn.mfcc_fixed import s8_multiplier
from edgekiln.targets import get_target
from edgekiln.targets.simulators.plugin import parse_counts, per_inference, plugin_arguments
from edgekiln.targets.simulators.runner import simulator_command

DATA = Path(__file__).parent / "templates"
RUNTIME = Path(edgekiln.__file__).resolve().parents[1] / "runtime_c"
KWS_SCALE, KWS_ZERO_POINT = 0.5847029089927673, 83


def build(target_name: str, clips: np.ndarray, out: Path, run_f32: bool) -> Path:
    from sklearn.tree import DecisionTreeClassifier

    target = get_target(target_name)
    est = DecisionTreeClassifier().fit(np.array([[0.0], [1.0]]), [0, 1])
    info = edgekiln.export(est, target_name, out, name="placeholder")
    for f in ("model.c", "model.h", "main.c"):
        (out / f).unlink()
    (out / "model.h").write_text("/* no model: MFCC test firmware */\n")
    kernels = out / "runtime" / "kernels"
    for k in ("ek_mfcc_f32.c", "ek_mfcc_s32.c"):
        shutil.copy(RUNTIME / "kernels" / "ref" / k, kernels / k)
    shutil.copy(DATA / "mfcc_main.c", out / "main.c")
    mult, shift = s8_multiplier(KWS_SCALE)
    env = Environment(loader=FileSystemLoader(str(DATA)), undefined=StrictUndefined, trim_blocks=True)
    (out / "mfcc_clips.h").write_text(env.get_template("mfcc_clips.h.j2").render(
        clips=[[int(v) for v in c] for c in clips], multiplier=mult, shift=shift, zero_point=KWS_ZERO_POINT))
    keep = [s for s in info.sources if s.startswith(("runtime/port/", "runtime/parallel/"))
            or s.endswith(("ek_markers.c", "ek_protocol.c"))]
    write_makefile(out, target, ["main.c", "runtime/kernels/ek_mfcc_f32.c", "runtime/kernels/ek_mfcc_s32.c", *keep],
                   extra_cflags=(f"-DMFCC_RUN_F32={int(run_f32)}",))
    proc = subprocess.run(["make", "-s", "-C", str(out)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"MFCC firmware build for {target_name} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return out / "fw.elf"


def run(target_name: str, elf: Path, count: bool = True, timeout: float = 600) -> dict:
    target = get_target(target_name)
    count = count and target.simulator.get("name") == "qemu"
    counts = elf.parent / "counts.txt"
    extra = ["-plugin", plugin_arguments(elf, counts)] if count else []
    proc = subprocess.run(simulator_command(target, elf, extra), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=elf.parent)
    out: dict = {"s32": {}, "s8": {}, "s8k": {}, "f32": {}, "err": None, "log": proc.stdout + proc.stderr}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if not parts or parts[0] not in ("s32", "s8", "s8k", "f32", "err"):
            continue
        clip, status = int(parts[1], 16), np.uint32(int(parts[2], 16)).astype(np.int32)
        vals = np.array([int(v, 16) for v in parts[3:]], dtype=np.uint64)
        if parts[0] == "err":
            out["err"] = (int(status), int(vals.astype(np.uint32).astype(np.int32)[0]))
            continue
        kind = {"s32": np.int32, "s8": np.int8, "s8k": np.int8, "f32": np.float32}[parts[0]]
        raw = vals.astype(np.uint8 if parts[0].startswith("s8") else np.uint32)
        out[parts[0]][clip] = (int(status), raw.view(kind).reshape(49, 10))
    out["done"] = "mfcc-done" in proc.stdout and proc.returncode == 0
    if count and counts.exists():
        out["instructions"] = per_inference(parse_counts(counts))[0]
    return out
