"""Options several commands take, spelled and explained once.

`export_options` is every codegen choice `kiln export` offers, so a command that must plan the
same project (`kiln check`) takes the very same flags.
"""
from __future__ import annotations

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


def json_option(help: str = "write the results here as JSON") -> Callable:
    """--json PATH: the one spelling of every command's JSON output (destination `json_path`)."""
    return click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                        help=help)


trust_pickle_option = click.option("--trust-pickle", is_flag=True,
                                   help="allow .joblib/.pkl files (they run code when loaded)")
timeout_option = click.option("--timeout", type=float, default=None,
                              help="seconds before a hung simulator is stopped")
data_option = click.option("--data", "-d", required=True, type=click.Path(dir_okay=False), help="X as .npy or .csv")
name_option = click.option("--name", default="model", show_default=True, help="C symbol prefix of the model")

export_options = stack_options(
    name_option,
    click.option("--tree-layout", type=click.Choice(["auto", "inline", "table"]), default="auto", show_default=True,
                 help="trees as if/else code (fastest) or arrays walked by a loop (smallest)"),
    click.option("--cores", default=1, show_default=True, help="cores the kernels split work across"),
    click.option("--batch", is_flag=True, help="with --cores N: run N whole inferences side by side instead"),
    click.option("--dtype", type=click.Choice(["float32", "fixed"]), default="float32", show_default=True,
                 help="fixed: integer arithmetic for cores without an FPU (needs --calib)"),
    click.option("--calib", type=click.Path(dir_okay=False, exists=True),
                 help="training data (.npy/.csv) whose ranges choose the fixed-point formats"),
)


def codegen_options(tree_layout: str, cores: int, batch: bool, dtype: str) -> dict:
    """export_options' codegen choices as the `options` dict of edgekiln.export/convert."""
    return {"tree_layout": tree_layout, "cores": cores, "batch": batch, "dtype": dtype}

