"""`kiln export`: write a self-contained C project for a model and a target."""
from __future__ import annotations

import click

from ._app import main
from ._console import console
from ._inputs import load_model_file, read_data

SIM_HELP = "simulator variant of the target, e.g. gvsoc for pulp-open (kept in project.json; see `kiln targets`)"


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
    from ..api import export as do_export

    info = do_export(load_model_file(model, trust_pickle), target, output, name=name,
                     options={"tree_layout": tree_layout, "cores": cores, "batch": batch, "dtype": dtype},
                     calibration=read_data(calib) if calib else None, sim=sim)
    console.print(f"wrote {info.path}/ ({len(info.sources)} C files, constants "
                  f"{info.plan['constants_flash_bytes']} bytes); next: kiln build {info.path}")
    for node in info.options.get("fixed", {}).get("nodes", []):
        console.print("fixed point: " + ", ".join(f"{k}={v}" for k, v in node.items()), highlight=False)
