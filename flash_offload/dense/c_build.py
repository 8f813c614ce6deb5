"""Build the flash-offload C runtime (flash_offload/dense/c/*.c) for the host or a Linux target.

The compiler and flags come from the target's target.toml (gcc on the host,
aarch64-linux-gnu-gcc -static for `arm`); binaries are cached by a hash of the sources and
the command, so a test session compiles each target once.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from edgekiln.errors import InputError, ToolchainError
from edgekiln.targets import Target, get_target

C_DIR = Path(__file__).parent / "c"
# Strict C99, warnings (implicit conversions too) are errors; -ffp-contract=off (target.toml) keeps a*b+c unfused.
BASE_CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wconversion", "-Werror"]
SUPPORTED_KINDS = ("host", "linux-user")


def cache_dir() -> Path:
    root = os.environ.get("EDGEKILN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgekiln")
    return Path(root) / "flash_offload_c"


def sources() -> list[Path]:
    return sorted(C_DIR.glob("*.c"))


def runtime_target(name: str) -> Target:
    target = get_target(name)
    if target.kind not in SUPPORTED_KINDS:
        raise InputError(f"the flash-offload C runtime needs a file system (pread): target {name!r} is "
                         f"{target.kind}; use host or arm")
    return target


def compile_command(target: Target, out: Path) -> list[str]:
    cc = target.require_toolchain()
    return [cc, *BASE_CFLAGS, *target.cflags, f"-I{C_DIR}", *map(str, sources()), "-o", str(out),
            *target.ldflags, "-lm"]


def build(target_name: str = "host") -> Path:
    """Compile the runtime for a target (cached) and return the executable's path."""
    target = runtime_target(target_name)
    probe = compile_command(target, Path("ekfo"))
    h = hashlib.sha256("\0".join(probe).encode())
    for src in sources() + sorted(C_DIR.glob("*.h")):
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    out_dir = cache_dir() / f"{target.name}-{h.hexdigest()[:16]}"
    exe = out_dir / "ekfo"
    if exe.exists():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ekfo.", dir=out_dir)
    os.close(fd)
    try:
        proc = subprocess.run(compile_command(target, Path(tmp)), capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise ToolchainError(f"building the flash-offload C runtime for {target.name} failed:\n"
                                 f"{(proc.stdout + proc.stderr)[-4000:]}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, exe)  # atomic: a parallel test never runs a half-written binary
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return exe
