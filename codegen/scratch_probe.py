"""Scratch sizes from the kernels themselves: a tiny C program, compiled with the build
machine's gcc against the very kernel files the project will link (a target's optimized
override where one exists), calls each node's `*_scratch_bytes()` and prints the answers.
So the arena plan cannot disagree with an override that needs more scratch than the
reference kernel. Results are cached per process by the probe's source and the kernel files'
contents (check and export in one process compile once)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgekiln.errors import ToolchainError

_CACHE: dict[str, dict[int, int]] = {}


def probe_scratch(requests: list[dict], kernel_files: list[Path], include_dirs: list[Path], env, n_cores: int) -> dict[int, int]:
    """node index -> scratch bytes. requests: {index, fn, args: "dims3"|"dims2"|"ints", a, b, c}."""
    if not requests:
        return {}
    source = env.get_template("nn/scratch_probe.c.j2").render(requests=requests)
    key = hashlib.sha256(source.encode() + b"".join(p.read_bytes() for p in kernel_files)
                         + str(n_cores).encode()).hexdigest()
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
        cmd = [cc, "-std=c99", "-O0", "-w", f"-I{d}", *[f"-I{p}" for p in include_dirs], str(d / "probe.c"),
               *map(str, kernel_files), "-Wl,--unresolved-symbols=ignore-all", "-lm", "-o", str(d / "probe")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolchainError("the scratch-size probe did not compile (each kernel's *_scratch_bytes() must build "
                                 f"with the host gcc):\n{proc.stderr[-3000:]}")
        run = subprocess.run([str(d / "probe")], capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            raise ToolchainError(f"the scratch-size probe failed (exit {run.returncode}): {run.stderr[-1000:]}")
    out = {int(i): int(n) for i, n in (line.split() for line in run.stdout.splitlines() if line.strip())}
    _CACHE[key] = out
    return dict(out)
