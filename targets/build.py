"""Cross-compile a rendered project and report its memory use.

Memory figures come from the linked ELF and its map file, never from estimates:
whole firmware per region, and the model alone (model.o + its kernels).
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

from edgekiln.errors import MemoryBudgetError, ToolchainError

from .registry import Target, project_target

_OVERFLOW = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")
_NOFIT = re.compile(r"will not fit in region [`'](\w+)'")


@dataclass
class BuildResult:
    elf: Path
    target: str
    regions: dict[str, dict[str, int]]  # region -> {"used", "size"}
    model_flash_bytes: int              # model.o + kernels: text + rodata + data init
    model_ram_bytes: int                # model.o + kernels: data + bss (static RAM)
    firmware_flash_bytes: int
    firmware_ram_bytes: int
    opt: str = "-O2"         # the flags fw.elf was built with
    extra_cflags: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["elf"] = str(self.elf)
        return d


def load_project(path: Path) -> dict:
    meta = path / "project.json"
    if not meta.exists():
        raise ToolchainError(f"{path} is not an edgekiln project (no project.json); create one with `kiln export`")
    try:
        doc = json.loads(meta.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ToolchainError(f"{meta} is corrupt ({e}); export the project again with `kiln export`") from None
    if not isinstance(doc, dict) or "target" not in doc:
        raise ToolchainError(f"{meta} is not an edgekiln project file (no target); export it again with `kiln export`")
    return doc


def _make(path: Path, opt: str, extra_cflags: str, *args: str) -> list[str]:
    return ["make", "-s", "-C", str(path), f"OPT={opt}", f"EXTRA_CFLAGS={extra_cflags}", *args]


def _stamp(path: Path) -> dict | None:
    """The flags the fw.elf in `path` was built with (None: no build, or one edgekiln did not record)."""
    stamp = path / "build" / "flags.json"
    try:
        doc = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(doc, dict) and all(isinstance(doc.get(k), str) for k in ("opt", "extra_cflags"))
    return doc if ok and (path / "fw.elf").exists() else None


def build_project(path: str | Path, *, extra_cflags: str = "", opt: str = "-O2", timeout: float = 600) -> BuildResult:
    """Build fw.elf with these flags (all of it again when they changed) and write build.json."""
    path = Path(path)
    target = project_target(load_project(path))
    target.require_toolchain()
    # make rebuilds what changed; changed flags must rebuild everything, so they are stamped.
    flags = {"opt": opt, "extra_cflags": extra_cflags}
    if _stamp(path) != flags:
        subprocess.run(["make", "-s", "-C", str(path), "clean"], capture_output=True, check=False)
    proc = subprocess.run(_make(path, opt, extra_cflags, "fw.elf"), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        _raise_build_error(proc.stdout + proc.stderr, target)
    (path / "build" / "flags.json").write_text(json.dumps(flags))
    result = measure(path / "fw.elf", target)
    result.opt, result.extra_cflags = opt, extra_cflags
    (path / "build.json").write_text(json.dumps(result.to_dict(), indent=1))
    return result


def ensure_built(path: str | Path, timeout: float = 600) -> tuple[BuildResult, str]:
    """The project's fw.elf as it is when up to date; rebuilt with the same flags when a source
    changed; built with -O2 when there is none. Returns it and one line saying which."""
    path = Path(path)
    flags = _stamp(path)
    if flags is None:
        return build_project(path, timeout=timeout), "no build yet: built fw.elf with -O2"
    target = project_target(load_project(path))
    shown = " ".join(f for f in (flags["opt"], flags["extra_cflags"]) if f)
    if subprocess.run(_make(path, flags["opt"], flags["extra_cflags"], "-q", "fw.elf"), capture_output=True).returncode == 0:
        result = measure(path / "fw.elf", target)
        result.opt, result.extra_cflags = flags["opt"], flags["extra_cflags"]
        return result, f"using the existing build (fw.elf, {shown})"
    result = build_project(path, opt=flags["opt"], extra_cflags=flags["extra_cflags"], timeout=timeout)
    return result, f"sources changed since the last build: rebuilt fw.elf with the same flags ({shown})"


def _raise_build_error(log: str, target: Target) -> None:
    m = _OVERFLOW.search(log)
    if m:
        region = next((r for r in target.memory if r.name == m.group(1)), None)
        size = region.length if region else 0
        raise MemoryBudgetError(
            f"the firmware needs {size + int(m.group(2))} bytes of {m.group(1)} but {target.name} has {size} "
            f"(over by {m.group(2)} bytes). Use a smaller model or a target with more memory."
        )
    m = _NOFIT.search(log)
    if m:
        raise MemoryBudgetError(f"the firmware does not fit region {m.group(1)} of {target.name}.\n{log[-2000:]}")
    raise ToolchainError(f"build failed for {target.name}:\n{log[-4000:]}")


def measure(elf: Path, target: Target) -> BuildResult:
    regions = {r.name: {"used": 0, "size": r.length} for r in target.memory}
    fw_flash = fw_ram = 0
    with open(elf, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            flags = sec["sh_flags"]
            if not flags & 0x2 or sec["sh_size"] == 0:  # SHF_ALLOC
                continue
            size, nobits = sec["sh_size"], sec["sh_type"] == "SHT_NOBITS"
            writable = bool(flags & 0x1)
            if not nobits:
                fw_flash += size
            if writable:
                fw_ram += size
            for r in target.memory:
                addr = sec["sh_addr"]
                if r.origin <= addr < r.origin + r.length:
                    regions[r.name]["used"] += size
    model_flash, model_ram = _model_bytes_from_map(elf.parent / "fw.map")
    return BuildResult(elf, target.name, regions, model_flash, model_ram, fw_flash, fw_ram)


_MAP_LINE = re.compile(r"^\s*(\.[\w.$]+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.o)\s*$")


def _model_bytes_from_map(map_path: Path) -> tuple[int, int]:
    """Sum input sections of the model's own objects (model.o and runtime kernels)."""
    flash = ram = 0
    pending = None
    for line in map_path.read_text(errors="replace").splitlines():
        m = _MAP_LINE.match(line)
        if m is None:
            s = line.strip()
            pending = s if s.startswith(".") and " " not in s else None
            continue
        section = m.group(1) or pending
        pending = None
        size, obj = int(m.group(3), 16), m.group(4)
        if size == 0 or section is None or not ("model.o" in obj or "/kernels/" in obj):
            continue
        if section.startswith((".text", ".rodata")):
            flash += size
        elif section.startswith(".data"):
            flash += size
            ram += size
        elif section.startswith((".bss", "COMMON")):
            ram += size
    return flash, ram
