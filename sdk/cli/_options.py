"""Options several commands take, spelled and explained once.

`export_options` is every codegen choice `kiln export` offers, so a command that must plan the
same project (`kiln check`) takes the very same flags.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

SIM_HELP = "simulator variant of the target, e.g. gvsoc for pulp-open (kept in project.json; see `kiln targets`)"


def stack_options(*options: Callable) -> Callable:
    """One decorator applying OPTIONS in the order given (as if written top to bottom)."""
    def apply(f: Callable) -> Callable:
        for opt in reversed(options):
            f = opt(f)
        return f
    return apply


def target_option(default: str | None = None, help: str = "target name (see `kiln targets`)") -> Callable:
    """--target/-t: required unless a default is given."""
    return click.option("--target", "-t", required=default is None, default=default, show_default=default is not None,
                        help=help)


def sim_option(help: str = SIM_HELP) -> Callable:
    return click.option("--sim", default=None, help=help)


def _json_destination(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Checked before the command runs, so a long run's results are never lost to a bad path."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder; give a file name such as {path / 'report.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.BadParameter(f"cannot create the folder {path.parent} for {path}: {e.strerror}") from None
    return value


def json_option(help: str = "write the results here as JSON") -> Callable:
    """--json PATH: the one spelling of every command's JSON output (destination `json_path`).
    A missing folder is created before the command runs."""
    return click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                        help=help, callback=_json_destination)


trust_pickle_option = click.option("--trust-pickle", is_flag=True,
                                   help="allow .joblib/.pkl files (they run code when loaded)")
timeout_option = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                              help="seconds before a hung simulator is stopped (> 0)")
data_option = click.option("--data", "-d", required=True, type=click.Path(dir_okay=False), help="X as .npy or .csv")
name_option = click.option("--name", default="model", show_default=True, help="C symbol prefix of the model")
input_shape_option = click.option(
    "--input-shape", "input_shapes", multiple=True, metavar="[NAME:]D0,D1,...",
    help="fix an ONNX input's dynamic dimensions, e.g. --input-shape x:1,49,10,1 (repeat per input; "
         "the name may be left out for a model with one input)")

export_options = stack_options(
    name_option,
    click.option("--tree-layout", type=click.Choice(["auto", "inline", "table"]), default="auto", show_default=True,
                 help="trees as if/else code (fastest) or arrays walked by a loop (smallest)"),
    click.option("--cores", default=1, show_default=True, help="cores the kernels split work across"),
    click.option("--batch", is_flag=True, help="with --cores N: run N whole inferences side by side instead"),
    click.option("--dtype", type=click.Choice(["float32", "fixed", "int8"]), default="float32", show_default=True,
                 help="fixed: integer arithmetic for cores without an FPU (needs --calib); int8: a scikit-learn MLP "
                      "through the int8 network kernels (lossy, needs --calib)"),
    click.option("--calib", type=click.Path(dir_okay=False, exists=True),
                 help="training data (.npy/.csv) whose ranges choose the fixed-point formats or the int8 scales"),
)


def codegen_options(tree_layout: str, cores: int, batch: bool, dtype: str, calib: str | None = None) -> dict:
    """export_options' codegen choices as the `options` dict of edgekiln.export/convert."""
    if calib is not None and dtype not in ("fixed", "int8"):
        raise click.UsageError("--calib chooses the fixed-point formats or int8 scales and is used only with --dtype "
                               "fixed or int8; add one, or drop --calib for a float32 project")
    return {"tree_layout": tree_layout, "cores": cores, "batch": batch, "dtype": dtype}

