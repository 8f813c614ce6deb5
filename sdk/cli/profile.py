"""`kiln profile`: run a project at several core counts and compare them."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..errors import InputError
from ..ir import Graph
from ._app import main
from ._console import console
from ._inputs import read_data
from ._options import data_option, json_option, sim_option, timeout_option


@main.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@data_option
@click.option("--cores", default=None, help="comma-separated core counts (default: 1, 2, 4, 8 up to the target's count)")
@click.option("--batch", is_flag=True, help="split samples across cores instead of each inference's work")
@json_option("write the runs here")
@timeout_option
@sim_option("simulator variant to profile on (default: the project's), e.g. gvsoc")
def profile(project: str, data: str, cores: str | None, batch: bool, json_path: str | None, timeout: float | None,
            sim: str | None) -> None:
    """Run PROJECT at several core counts: instructions per core, critical path, speedup."""
    from edgekiln.targets import get_target, project_target
    from edgekiln.targets.build import load_project

    from ..api import validate_input
    from ..profile import profile_project

    path = Path(project)
    meta = load_project(path)
    target = get_target(meta["target"], sim) if sim else project_target(meta)
    graph = Graph.from_json((path / "graph.json").read_text())
    if graph.is_network():
        return _profile_network(path, graph, data, cores, batch, json_path, timeout, sim, target)
    if cores is None:  # the powers of two the target has, and its full count
        cores = ",".join(str(c) for c in sorted({c for c in (1, 2, 4, 8) if c <= target.cores} | {target.cores}))
    try:
        counts = sorted({int(c) for c in cores.split(",")})
    except ValueError:
        raise InputError(f"--cores takes comma-separated integers, not {cores!r}") from None
    bad = [c for c in counts if not 1 <= c <= target.cores]
    if bad:
        raise InputError(f"target {target.name} has {target.cores} core(s); cannot profile {bad}")
    report = profile_project(path, validate_input(graph, read_data(data)), counts, timeout=timeout, batch=batch,
                             sim=target.variant)
    t = Table(title=f"{report['model']} ({report['estimator']}) on {report['target']}, {report['n_samples']} samples")
    cycles = any(r["cycles"] is not None for r in report["runs"])  # GVSoC's counters
    for col in ("cores", "instructions (all cores)", "critical path", *(["cycles"] if cycles else []), "speedup",
                "efficiency", "same labels"):
        t.add_column(col, justify="right")
    for r in report["runs"]:
        t.add_row(str(r["cores"]), f"{r['total_instructions']:,}", f"{r['critical_path_instructions']:,}",
                  *([f"{r['cycles']:,}"] if cycles else []),
                  "-" if r["speedup"] is None else f"{r['speedup']:.2f}x",
                  "-" if r["efficiency"] is None else f"{r['efficiency'] * 100:.0f}%",
                  "-" if r["identical_to_1_core"] is None else ("yes" if r["identical_to_1_core"] else "[red]NO[/]"))
    console.print(t)
    console.print(report["definition"], style="dim")
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))


def _profile_network(path: Path, graph, data: str, cores: str | None, batch: bool, json_path: str | None,
                     timeout: float | None, sim: str | None, target) -> None:
    """Networks: per-layer instructions, MACs per instruction and the kernel file each layer ran,
    at the core count the project was exported with (export with --cores N for another)."""
    from .. import nn_run
    from ._console import echo

    if batch or cores is not None or (sim and sim != target.simulator.get("name")):
        raise InputError("for a network, kiln profile reports per layer at the exported core count and simulator: "
                         "export again with --cores N (and --sim) to profile another")
    X = nn_run.check_inputs(graph, read_data(data))
    report, _, _ = nn_run.run_project(path, graph, X, timeout=timeout, echo=lambda m: echo(m, err=True))
    nn_run.print_network_summary(report, console)
    console.print("instructions: QEMU TCG plugin, per layer between the markers model.c puts around each kernel "
                  "call (median over samples); MACs count every kernel tap, padded ones included", style="dim")
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
