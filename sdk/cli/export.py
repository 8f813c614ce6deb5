"""`kiln export`: write a self-contained C project for a model and a target."""
from __future__ import annotations

import click

from ._app import main
from ._console import console, echo
from ._inputs import load_model_file, read_data
from ._options import codegen_options, export_options, input_shape_option, sim_option, target_option, trust_pickle_option


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@target_option()
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="project folder to write")
@click.option("--force", is_flag=True,
              help="export into a folder holding files edgekiln did not write: replace edgekiln's files, "
                   "rename a file of yours in the way to NAME.orig (never deleted)")
@export_options
@sim_option()
@click.option("--main", "main_kind", type=click.Choice(["harness", "board", "energyrunner"]),
              default="harness", show_default=True,
              help="main.c: the simulator test harness, the board protocol server, or the EEMBC EnergyRunner "
                   "text protocol (docs/boards.md)")
@trust_pickle_option
@input_shape_option
def export(model: str, target: str, output: str, force: bool, name: str, tree_layout: str, cores: int, batch: bool,
           dtype: str, calib: str | None, sim: str | None, main_kind: str, trust_pickle: bool,
           input_shapes: tuple[str, ...]) -> None:
    """Write a self-contained C project (builds with `make`, no Python needed)."""
    from ..api import export as do_export

    info = do_export(load_model_file(model, trust_pickle, input_shapes), target, output, name=name,
                     options={**codegen_options(tree_layout, cores, batch, dtype, calib), "main": main_kind},
                     calibration=read_data(calib) if calib else None, sim=sim, force=force)
    for moved in info.kept_aside or []:
        echo(f"kept your file: {moved}", err=True)
    console.print(f"wrote {info.path}/ ({len(info.sources)} C files, constants "
                  f"{info.plan['constants_flash_bytes']} bytes); next: kiln build {info.path}")
    if info.plan.get("kind") == "network":
        console.print(f"network: {len(info.plan['layers'])} layers, arena {info.plan['arena_bytes']} bytes in "
                      f"{info.plan['arena_region']}, {info.plan['macs']:,} MACs per inference", highlight=False)
    for node in info.options.get("fixed", {}).get("nodes", []):
        console.print("fixed point: " + ", ".join(f"{k}={v}" for k, v in node.items()), highlight=False)
