"""Scratch sizes from the kernels themselves: a tiny C program, compiled with the build
machine's gcc against the very kernel files the project will link (a target's optimized
override where one exists), calls each node's `*_scratch_bytes()` and prints the answers.
So the arena plan cannot disagree with an override that needs more scratch than the
reference kernel. Results are cached per process by the probe's source and the kernel files'
contents (check and export in one process compile once).

The probe defines EK_SCRATCH_PROBE, so a kernel file can keep target-only code (intrinsics,
inline assembly) out of it. A file that still builds only with the target's compiler raises
`ScratchProbeNeedsTarget`: the shell then builds `render_target_probe`'s firmware, runs it on
the target's simulator and passes the answers back in options["scratch_probe"]."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgekiln.errors import ToolchainError

_CACHE: dict[str, dict[int, int]] = {}


class ScratchProbeNeedsTarget(ToolchainError):
    """The kernel files' scratch functions build only with the target's compiler."""

    def __init__(self, message: str, key: str, requests: list[dict], kernel_files: list[Path]) -> None:
        super().__init__(message)
        self.key, self.requests, self.kernel_files = key, requests, kernel_files


def probe_scratch(requests: list[dict], kernel_files: list[Path], include_dirs: list[Path], env, n_cores: int,
                  known: dict | None = None) -> dict[int, int]:
    """node index -> scratch bytes. requests: {index, fn, args: "dims3"|"dims2"|"ints", a, b, c}.
    known: answers the target probe gave for this key (options["scratch_probe"])."""
    if not requests:
        return {}
    source = env.get_template("nn/scratch_probe.c.j2").render(requests=requests)
    key = hashlib.sha256(source.encode() + b"".join(p.read_bytes() for p in kernel_files)
                         + str(n_cores).encode()).hexdigest()[:16]
    if known and key in known:
        return {int(i): int(n) for i, n in known[key].items()}
    if key in _CACHE:
        return dict(_CACHE[key])
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise ToolchainError("gcc is needed at export time to ask the kernels for their scratch sizes: "
                             "sudo apt-get install -y gcc")
    with tempfile.TemporaryDirectory(prefix="edgekiln-scratch-") as tmp:
        d = Path(tmp)
        (d / "probe.c").write_text(source)
        (d / "ek_config.h").write_text(env.get_template("ek_config.h.j2").render(n_cores=n_cores))
        # gc-sections: only the scratch functions stay, so the kernels' own calls (team forks) need no definition
        cmd = [cc, "-std=c99", "-O0", "-w", "-DEK_SCRATCH_PROBE=1", "-ffunction-sections", "-fdata-sections",
               f"-I{d}", *[f"-I{p}" for p in include_dirs], str(d / "probe.c"), *map(str, kernel_files),
               "-Wl,--gc-sections", "-Wl,--unresolved-symbols=ignore-all", "-lm", "-o", str(d / "probe")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ScratchProbeNeedsTarget("the scratch-size probe did not compile with the host gcc (a kernel file "
                                          f"builds only for its target):\n{proc.stderr[-3000:]}", key, requests,
                                          list(kernel_files))
        run = subprocess.run([str(d / "probe")], capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            raise ToolchainError(f"the scratch-size probe failed (exit {run.returncode}): {run.stderr[-1000:]}")
    out = {int(i): int(n) for i, n in (line.split() for line in run.stdout.splitlines() if line.strip())}
    _CACHE[key] = out
    return dict(out)


def render_target_probe(err: ScratchProbeNeedsTarget, target, out: Path) -> None:
    """A project in `out` that answers err.requests on the target (protocol 2, one sample)."""
    from .project import ProjectInfo, _copy_runtime, environment, write_makefile

    out.mkdir(parents=True, exist_ok=True)
    (out / "main.c").write_text(environment().get_template("nn/scratch_probe_main.c.j2").render(requests=err.requests))
    (out / "model.h").write_text("/* scratch probe: no model (the Makefile's objects depend on model.h) */\n")
    import shutil

    sources = _copy_runtime(out, target, [], 1, ["main.c"])
    (out / "runtime" / "kernels").mkdir(exist_ok=True)
    for p in err.kernel_files:  # the very files the host could not build
        shutil.copy(p, out / "runtime" / "kernels" / p.name)
        sources.append(f"runtime/kernels/{p.name}")
    write_makefile(out, target, sources, warnings="-w")  # a throwaway tool: the export's own build is strict
    options = {"sim": target.variant} if target.variant else {}
    ProjectInfo(out, "scratch_probe", target.name, sources, {}, options).save()


def target_answers(err: ScratchProbeNeedsTarget, tensor: bytes) -> dict[str, int]:
    """options["scratch_probe"][key] from the probe firmware's output tensor."""
    words = [int.from_bytes(tensor[4 * i:4 * i + 4], "little") for i in range(len(err.requests))]
    return {str(r["index"]): w for r, w in zip(err.requests, words)}
