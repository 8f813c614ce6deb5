"""`kiln`: the command line. Each stage runs alone and leaves an inspectable artifact."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from .errors import EdgekilnError, InputError

console = Console()


SIM_HELP = "simulator variant of the target, e.g. gvsoc for pulp-open (kept in project.json; see `kiln targets`)"


def _fail(e: Exception) -> None:
    console.print(f"[bold red]error:[/] {e}", highlight=False)
    sys.exit(2)


class KilnGroup(click.Group):
    """Prints edgekiln's own errors as one clear line instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgekilnError as e:
            _fail(e)


@click.group(cls=KilnGroup)
@click.version_option(package_name="edgekiln")
def main() -> None:
    """edgekiln: turn trained models into firmware, run it, and measure it."""


@main.command()
def targets() -> None:
    """List targets, their hardware and whether their toolchain and simulator are installed."""
    from edgekiln.targets import all_targets, get_target

    t = Table(title="edgekiln targets")
    for col in ("target", "ISA", "FPU", "cores", "flash", "RAM", "simulator", "toolchain found", "simulator found"):
        t.add_column(col)
    rows = [tg for base in all_targets().values() for tg in [base, *(get_target(base.name, v) for v in base.variants)]]
    for tg in rows:  # simulator variants (pulp-open --sim gvsoc) get their own row
        flash, ram = tg.region_bytes("flash"), tg.region_bytes("ram")
        args = tg.simulator.get("args", [])
        machine = args[args.index("-M") + 1] if "-M" in args[:-1] else ""
        sim = " ".join(filter(None, [tg.simulator.get("binary") or "native", machine]))
        t.add_row(tg.name + (f" --sim {tg.variant}" if tg.variant else ""), tg.isa, tg.fpu, str(tg.cores), _kib(flash), _kib(ram), sim,
                  _yes(tg.compiler_path()), "yes" if tg.simulator.get("name") == "native" else _yes(tg.simulator_path()))
    console.print(t)


def _kib(n: int | None) -> str:
    return "-" if n is None else (f"{n // 1024} KiB" if n < 1 << 20 else f"{n >> 20} MiB")


def _yes(path: str | None) -> str:
    return "yes" if path else "[red]no[/] (make setup)"


def _load(model_path: str, trust_pickle: bool):
    from .model_io import load_model

    return load_model(model_path, trust_pickle=trust_pickle)


def _export_choices(command):
    """The options that shape the generated code, shared by check and export (same names and
    defaults), so `kiln check` plans exactly what `kiln export` builds.
    TODO(cli helper): move to the shared option decorators of sdk/cli/ and use them for export too."""
    for option in reversed([
        click.option("--target", "-t", required=True, help="target name (see `kiln targets`)"),
        click.option("--name", default="model", show_default=True, help="C symbol prefix of the model"),
        click.option("--tree-layout", type=click.Choice(["auto", "inline", "table"]), default="auto",
                     show_default=True, help="trees as if/else code (fastest) or arrays walked by a loop (smallest)"),
        click.option("--cores", default=1, show_default=True, help="cores the kernels split work across"),
        click.option("--batch", is_flag=True, help="with --cores N: run N whole inferences side by side instead"),
        click.option("--dtype", type=click.Choice(["float32", "fixed"]), default="float32", show_default=True,
                     help="fixed: integer arithmetic for cores without an FPU (needs --calib)"),
        click.option("--calib", type=click.Path(dir_okay=False, exists=True),
                     help="training data (.npy/.csv) whose ranges choose the fixed-point formats"),
        click.option("--sim", default=None, help=SIM_HELP),
        click.option("--trust-pickle", is_flag=True, help="allow .joblib/.pkl files (they run code when loaded)"),
    ]):
        command = option(command)
    return command


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@_export_choices
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="also write the plan as JSON to PATH")
def check(model: str, target: str, name: str, tree_layout: str, cores: int, batch: bool, dtype: str,
          calib: str | None, sim: str | None, trust_pickle: bool, json_path: str | None) -> None:
    """Is MODEL supported on TARGET, and how much memory will it take? Builds nothing; the
    plan is the one `kiln export` with the same options builds."""
    from edgekiln.targets import get_target

    from .api import plan, to_graph

    tg = get_target(target, sim)
    graph = to_graph(_load(model, trust_pickle), name)
    p = plan(graph, target, name=name, sim=sim, calibration=_read_data(calib) if calib else None,
             options={"tree_layout": tree_layout, "cores": cores, "batch": batch, "dtype": dtype})
    t = Table(title=f"{graph.meta.get('estimator')} on {tg.name}: supported")
    t.add_column("item")
    t.add_column("value", justify="right")
    t.add_row("graph", p["graph"])
    t.add_row("features / task", f"{graph.n_features} / {graph.task}")
    t.add_row("dtype / cores", f"{p['dtype']} / {p['cores']}{' (batch)' if p['batch'] else ''}")
    t.add_row("constants (flash bytes)", str(p["constants_flash_bytes"]))
    t.add_row("buffers + scratch (RAM bytes)", str(p["buffers_ram_bytes"] + p["scratch_ram_bytes"]))
    t.add_row("kernels", " ".join(p["kernels"]) or "-")
    t.add_row("target flash / RAM", f"{_kib(tg.region_bytes('flash'))} / {_kib(tg.region_bytes('ram'))}")
    console.print(t)
    if json_path:
        Path(json_path).write_text(json.dumps(p, indent=1))
    console.print("[green]fits[/] (code size is known after `kiln build`)")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True)
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="project folder to write")
@click.option("--name", default="model", show_default=True)
@click.option("--tree-layout", type=click.Choice(["auto", "inline", "table"]), default="auto", show_default=True,
              help="trees as if/else code (fastest) or arrays walked by a loop (smallest)")
@click.option("--cores", default=1, show_default=True, help="cores the kernels split work across")
@click.option("--batch", is_flag=True, help="with --cores N: run N whole inferences side by side instead")
@click.option("--dtype", type=click.Choice(["float32", "fixed"]), default="float32", show_default=True,
              help="fixed: integer arithmetic for cores without an FPU (needs --calib)")
@click.option("--calib", type=click.Path(dir_okay=False, exists=True),
              help="training data (.npy/.csv) whose ranges choose the fixed-point formats")
@click.option("--sim", default=None, help=SIM_HELP)
@click.option("--trust-pickle", is_flag=True)
def export(model: str, target: str, output: str, name: str, tree_layout: str, cores: int, batch: bool,
           dtype: str, calib: str | None, sim: str | None, trust_pickle: bool) -> None:
    """Write a self-contained C project (builds with `make`, no Python needed)."""
    from .api import export as do_export

    info = do_export(_load(model, trust_pickle), target, output, name=name,
                     options={"tree_layout": tree_layout, "cores": cores, "batch": batch, "dtype": dtype},
                     calibration=_read_data(calib) if calib else None, sim=sim)
    console.print(f"wrote {info.path}/ ({len(info.sources)} C files, constants "
                  f"{info.plan['constants_flash_bytes']} bytes); next: kiln build {info.path}")
    for node in info.options.get("fixed", {}).get("nodes", []):
        console.print("fixed point: " + ", ".join(f"{k}={v}" for k, v in node.items()), highlight=False)


@main.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@click.option("--opt", default="-O2", show_default=True, help="optimisation flag, e.g. -Os")
def build(project: str, opt: str) -> None:
    """Cross-compile PROJECT; prints flash/RAM use per memory region."""
    from edgekiln.targets.build import build_project

    from .report import print_build_summary

    result = build_project(project, opt=opt)
    summary = result.to_dict()
    (Path(project) / "build.json").write_text(json.dumps(summary, indent=1))
    print_build_summary(summary, console)


def _exported_target(path: Path, meta: dict, sim: str | None):
    """The project's target; --sim, if given, must name the simulator it was exported for."""
    from edgekiln.targets import get_target, project_target

    target = project_target(meta)
    if sim is not None and sim != target.simulator.get("name"):
        get_target(meta["target"], sim)  # an unknown variant gets its own error first
        raise InputError(f"{path} was built for {target.name} on {target.simulator.get('name')}, not {sim}: "
                         f"export it again with `kiln export ... --sim {sim}`")
    return target


def _read_data(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise InputError(f"data file {p} does not exist")
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if p.suffix in (".csv", ".txt"):
            return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
    except ValueError as e:
        raise InputError(f"could not read {p}: {e}") from None
    raise InputError(f"{p}: use a .npy (numpy.save) or .csv file of shape (n_samples, n_features)")


@main.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@click.option("--data", "-d", required=True, type=click.Path(dir_okay=False), help="X as .npy or .csv")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="write the report here")
@click.option("--reference", type=click.Path(dir_okay=False), help="model file to compare predictions with")
@click.option("--trust-pickle", is_flag=True)
@click.option("--timeout", type=float, default=None, help="seconds before a hung simulator is stopped")
@click.option("--sim", default=None, help="the simulator the project was exported for (checked; default: that one)")
def run(project: str, data: str, json_path: str | None, reference: str | None, trust_pickle: bool,
        timeout: float | None, sim: str | None) -> None:
    """Run PROJECT's firmware on its simulator over the rows of --data."""
    from edgekiln.targets.build import build_project, load_project
    from edgekiln.targets.simulators import run_firmware

    from .api import validate_input
    from .ir import Graph
    from .report import print_run_summary, reference_agreement, run_report

    path = Path(project)
    meta = load_project(path)
    target = _exported_target(path, meta, sim)
    graph = Graph.from_json((path / "graph.json").read_text())
    X32 = validate_input(graph, _read_data(data))
    ref_model = _load(reference, trust_pickle) if reference else None
    built = build_project(path).to_dict()
    result = run_firmware(path / "fw.elf", target, X32, timeout=timeout)
    report = run_report(graph, result, built)
    if ref_model is not None:
        report["reference_agreement"] = reference_agreement(graph, report["predictions"], ref_model, X32)
    print_run_summary(report, console)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
        console.print(f"report written to {json_path}")


@main.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@click.option("--data", "-d", required=True, type=click.Path(dir_okay=False), help="X as .npy or .csv")
@click.option("--cores", default="1,2,4,8", show_default=True, help="comma-separated core counts")
@click.option("--batch", is_flag=True, help="split samples across cores instead of each inference's work")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="write the runs here")
@click.option("--timeout", type=float, default=None)
@click.option("--sim", default=None, help="simulator variant to profile on (default: the project's), e.g. gvsoc")
def profile(project: str, data: str, cores: str, batch: bool, json_path: str | None, timeout: float | None,
            sim: str | None) -> None:
    """Run PROJECT at several core counts: instructions per core, critical path, speedup."""
    from edgekiln.targets import get_target, project_target
    from edgekiln.targets.build import load_project

    from .api import validate_input
    from .ir import Graph
    from .profile import profile_project

    path = Path(project)
    meta = load_project(path)
    target = get_target(meta["target"], sim) if sim else project_target(meta)
    try:
        counts = sorted({int(c) for c in cores.split(",")})
    except ValueError:
        raise InputError(f"--cores takes comma-separated integers, not {cores!r}") from None
    bad = [c for c in counts if not 1 <= c <= target.cores]
    if bad:
        raise InputError(f"target {target.name} has {target.cores} core(s); cannot profile {bad}")
    graph = Graph.from_json((path / "graph.json").read_text())
    report = profile_project(path, validate_input(graph, _read_data(data)), counts, timeout=timeout, batch=batch,
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


# Subcommand groups of the large-model features (kiln flash-offload ..., kiln moe ...).
from edgekiln.flash_offload.cli import flash_offload_group  # noqa: E402
from edgekiln.flash_offload.moe_cli import moe_group  # noqa: E402

main.add_command(flash_offload_group)
main.add_command(moe_group)


if __name__ == "__main__":
    main()
