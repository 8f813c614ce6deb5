"""Target registry: every folder here with a target.toml is a target (and every such folder
under the directories in $EDGEKILN_TARGETS). No central list.

A target.toml may describe simulator variants in `[variants.<sim>]` tables (pulp-open has
`gvsoc`): the same chip run on another simulator, with its own port, memory map and
flags. A variant's keys replace the base ones; its [toolchain] and [simulator] tables are
merged key by key, its [[memory]] list replaces the base list."""
from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgekiln.errors import InputError, ToolchainError

HERE = Path(__file__).parent


@dataclass
class MemoryRegion:
    name: str
    origin: int
    length: int
    kind: str  # "flash" or "ram"


@dataclass
class Target:
    name: str
    path: Path
    description: str
    isa: str
    fpu: str
    cores: int
    kind: str  # "baremetal", "linux-user" or "host"
    cc: str
    cflags: list[str]
    ldflags: list[str]
    port_sources: list[str]
    linker_template: str | None
    toolchain_apt: list[str]
    simulator: dict
    memory: list[MemoryRegion]
    stack_bytes: int
    kernel_families: list[str] = field(default_factory=list)
    parallel: str = "single"  # team port: runtime_c/parallel/ek_team_<parallel>.c (single, pthread, cluster)
    variant: str | None = None  # simulator variant ("gvsoc"), None for the base description
    variants: list[str] = field(default_factory=list)  # the variants this target offers
    # [nn]: where a network's arena may go (arena_regions, in order of preference; the
    # linker section of each but the first, arena_sections) and which region holds the stack
    nn: dict = field(default_factory=dict)

    def region_bytes(self, kind: str) -> int | None:
        regions = [m.length for m in self.memory if m.kind == kind]
        return sum(regions) if regions else None

    def compiler_path(self) -> str | None:
        return shutil.which(self.cc)

    def simulator_path(self) -> str | None:
        binary = self.simulator.get("binary")
        return shutil.which(binary) if binary else None

    def require_toolchain(self) -> str:
        cc = self.compiler_path()
        if cc is None:
            raise ToolchainError(
                f"{self.cc} not found (needed for target {self.name}). Install it with: "
                f"sudo apt-get install -y {' '.join(self.toolchain_apt)}   (or run `make setup`)"
            )
        return cc

    def require_simulator(self) -> str | None:
        if self.simulator.get("name") == "native":
            return None
        path = self.simulator_path()
        if path is None:
            how = self.simulator.get("install_hint") or (
                f"Install it with: sudo apt-get install -y {' '.join(self.simulator.get('apt_packages', []))}"
                "   (or run `make setup`)")
            raise ToolchainError(f"{self.simulator['binary']} not found on PATH (simulator for target "
                                 f"{self.name}{' --sim ' + self.variant if self.variant else ''}). {how}")
        return path


def _merge(base: dict, variant: dict) -> dict:
    out = {k: v for k, v in base.items() if k != "variants"}
    for key, value in variant.items():
        out[key] = {**base.get(key, {}), **value} if key in ("toolchain", "simulator") else value
    return out


def _load(folder: Path, variant: str | None = None) -> Target:
    with open(folder / "target.toml", "rb") as f:
        base = tomllib.load(f)
    variants = base.get("variants", {})
    d = _merge(base, variants[variant]) if variant else base
    tc, sim = d["toolchain"], d.get("simulator", {})
    return Target(
        name=d["name"], path=folder, description=d.get("description", ""), isa=d["isa"], fpu=d["fpu"],
        cores=int(d.get("cores", 1)), kind=d["kind"], cc=tc["cc"], cflags=list(tc.get("cflags", [])),
        ldflags=list(tc.get("ldflags", [])), port_sources=list(tc.get("sources", [])),
        linker_template=tc.get("linker_template"), toolchain_apt=list(tc.get("apt_packages", [])),
        simulator=sim, memory=[MemoryRegion(**m) for m in d.get("memory", [])],
        stack_bytes=int(d.get("stack_bytes", 0)), kernel_families=list(tc.get("kernel_families", [])),
        parallel=tc.get("parallel", "single"), variant=variant, variants=sorted(variants), nn=dict(d.get("nn", {})),
    )


# More folders holding target folders (os.pathsep-separated): a board vendor's targets, or a
# test's synthetic one, found exactly as the built-in ones.
EXTRA_TARGETS_ENV = "EDGEKILN_TARGETS"


def target_roots() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(EXTRA_TARGETS_ENV, "").split(os.pathsep) if p]
    return [HERE, *extra]


def all_targets() -> dict[str, Target]:
    found: dict[str, Target] = {}
    for root in target_roots():
        for toml in sorted(root.glob("*/target.toml")):
            t = _load(toml.parent)
            if t.name in found:
                raise InputError(f"target {t.name!r} is defined twice: {found[t.name].path} and {t.path}")
            found[t.name] = t
    return found


def get_target(name: str, sim: str | None = None) -> Target:
    """The target `name`; with sim, its variant for that simulator (None or the base
    simulator's own name: the base target)."""
    targets = all_targets()
    if name not in targets:
        raise InputError(f"unknown target {name!r}; available: {', '.join(sorted(targets))} (see `kiln targets`)")
    target = targets[name]
    if sim is None or sim == target.simulator.get("name"):
        return target
    if sim not in target.variants:
        offering = sorted(f"{t.name} (--sim {v})" for t in targets.values() for v in t.variants)
        raise InputError(
            f"target {name} has no {sim!r} simulator variant (it runs on {target.simulator.get('name')}); "
            f"variants available: {', '.join(offering) or 'none'}"
        )
    return _load(target.path, sim)


def project_target(meta: dict) -> Target:
    """The target a project (its project.json contents) was exported for, variant included."""
    return get_target(meta["target"], meta.get("options", {}).get("sim"))
