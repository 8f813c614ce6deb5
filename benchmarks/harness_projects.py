"""Firmware projects for benchmarks: edgekiln's own, a peer tool's model in the same harness,
and the empty-model baseline. Every tool runs the same main.c, port and QEMU machine."""
from __future__ import annotations

import shutil
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import edgekiln
from edgekiln.codegen.project import write_makefile
from edgekiln.targets import get_target

TEMPLATES = Path(__file__).parent / "templates"
HARNESS_SOURCES_PREFIXES = ("main.c", "runtime/protocol/", "runtime/port/")


def edgekiln_project(est, target: str, out: Path) -> Path:
    """edgekiln's project, timing predict alone (no probabilities: EK_HARNESS_OUTPUTS=0)."""
    edgekiln.export(est, target, out, name="bench", harness_outputs=False)
    return out


def _harness_only(est, target: str, out: Path) -> list[str]:
    """Render edgekiln's project for the harness files, then drop its model."""
    info = edgekiln.export(est, target, out, name="bench")
    for f in ("model.c", "model.h", "graph.json"):
        (out / f).unlink()
    shutil.rmtree(out / "runtime" / "kernels", ignore_errors=True)
    return [s for s in info.sources if s.startswith(HARNESS_SOURCES_PREFIXES)]


# The harness main.c names the model by its prefix (`bench`: <NAME>_N_FEATURES, <name>_run, as
# two-model firmware needs); the peers' and the null model's headers keep the EK_MODEL_* names.
_ALIASES = """
/* the harness's names for this model (main.c is rendered for the model name "bench") */
#define BENCH_N_FEATURES EK_MODEL_N_FEATURES
#define BENCH_N_OUTPUTS EK_MODEL_N_OUTPUTS
#define BENCH_TASK EK_MODEL_TASK
#define bench_run ek_model_run
"""


def _add_aliases(header: Path) -> None:
    text = header.read_text()
    cut = text.rstrip().rfind("#endif")
    header.write_text(text[:cut] + _ALIASES.lstrip("\n") + text[cut:])


def peer_project(peer, est, target: str, out: Path) -> tuple[Path, dict]:
    """The peer's generated code (unchanged) + its adapter, linked into our harness.
    Warnings are not made errors here: the code is the peer's, not ours."""
    sources = _harness_only(est, target, out)
    spec = peer.write_peer(est, out)
    _add_aliases(out / "model.h")
    rel = [str(Path(s).resolve().relative_to(out.resolve())) if Path(s).is_absolute() else s for s in spec["sources"]]
    cflags = [f"-I{d}" for d in spec["include_dirs"]] + list(spec["cflags"])
    # Peers always fill the output array, so they get one (EK_HARNESS_OUTPUTS=1).
    write_makefile(out, get_target(target), sources + rel, harness_outputs=True, extra_cflags=tuple(cflags),
                   extra_ldflags=tuple(spec.get("ldflags", [])), warnings="-w")
    return out, spec


def null_project(est, target: str, out: Path) -> Path:
    sources = _harness_only(est, target, out)
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined)
    (out / "model.c").write_text(env.get_template("null_model.c.j2").render())
    (out / "model.h").write_text(env.get_template("null_model.h.j2").render(n_features=est.n_features_in_))
    _add_aliases(out / "model.h")
    write_makefile(out, get_target(target), ["model.c", *sources], harness_outputs=False)
    return out
