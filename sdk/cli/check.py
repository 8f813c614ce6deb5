"""`kiln check`: is a model supported on a target, and how much memory will it take.

It takes export's options and prints edgekiln.plan, the plan `kiln export` builds with them."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..errors import InputError
from ._app import main
from ._console import console, kib
from ._inputs import load_model_file, read_data
from ._options import (codegen_options, export_options, input_shape_option, json_option, sim_option, target_option,
                       trust_pickle_option)


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@target_option()
@export_options
@sim_option()
@trust_pickle_option
@json_option("also write the plan (project.json's \"plan\" of the export) here as JSON")
@input_shape_option
def check(model: str, target: str, name: str, tree_layout: str, cores: int, batch: bool, dtype: str,
          calib: str | None, sim: str | None, trust_pickle: bool, json_path: str | None,
          input_shapes: tuple[str, ...]) -> None:
    """Is MODEL supported on TARGET, and how much memory will it take? Builds nothing."""
    from edgekiln.targets import get_target

    from ..api import plan, to_graph

    tg = get_target(target, sim)
    if Path(model).suffix.lower() in (".onnx", ".tflite"):
        return _check_network(model, name, tg, json_path, cores, input_shapes)
    if input_shapes:
        raise InputError("--input-shape fixes the dynamic input dimensions of an .onnx network; "
                         f"{model} is not one")
    graph = to_graph(load_model_file(model, trust_pickle), name)
    p = plan(graph, target, name=name, options=codegen_options(tree_layout, cores, batch, dtype),
             calibration=read_data(calib) if calib else None, sim=sim)
    t = Table(title=f"{graph.meta.get('estimator')} on {tg.name}: supported")
    t.add_column("item")
    t.add_column("value", justify="right")
    t.add_row("graph", p["graph"])
    t.add_row("features / task", f"{graph.n_features} / {graph.task}")
    t.add_row("dtype / cores", f"{p['dtype']} / {p['cores']}{' (batch)' if p['batch'] else ''}")
    t.add_row("constants (flash bytes)", str(p["constants_flash_bytes"]))
    t.add_row("buffers + scratch (RAM bytes)", str(p["buffers_ram_bytes"] + p["scratch_ram_bytes"]))
    t.add_row("kernels", " ".join(p["kernels"]) or "-")
    t.add_row("target flash / RAM", f"{kib(tg.region_bytes('flash'))} / {kib(tg.region_bytes('ram'))}")
    console.print(t)
    if json_path:
        Path(json_path).write_text(json.dumps(p, indent=1))
    console.print("[green]fits[/] (code size is known after `kiln build`)")


def _check_network(model: str, name: str, tg, json_path: str | None, cores: int = 1,
                   input_shapes: tuple[str, ...] = ()) -> None:
    """Networks: ops, parameters, and the plan export builds (arena with its region, flash,
    peak RAM, per layer kernel and MACs). Unsupported ops fail here, all named; a model over
    the target's memory fails with the bytes needed and available."""
    from edgekiln.codegen.nn_summary import network_summary

    from ..api import plan, to_graph

    graph = to_graph(load_model_file(model, False, input_shapes), name)
    s = network_summary(graph)
    p = plan(graph, tg.name, name=name, options={"cores": cores}, sim=tg.variant)
    t = Table(title=f"{Path(model).name} on {tg.name}: supported")
    t.add_column("item")
    t.add_column("value", justify="right")
    t.add_row("inputs", ", ".join(f"{v.name} {v.dtype}{list(v.dims)}" for v in graph.inputs))
    t.add_row("outputs", ", ".join(f"{v.name} {v.dtype}{list(v.dims)}" for v in graph.outputs))
    t.add_row("ops", " ".join(f"{op} x{n}" for op, n in sorted(s["ops"].items())))
    t.add_row("parameters", f"{s['parameters']} ({s['parameter_bytes']} B as stored in the file)")
    t.add_row("MACs per inference", f"{p['macs']:,}")
    t.add_row("flash (constants)", f"{p['constants_flash_bytes']:,} B")
    t.add_row("arena", f"{p['arena_bytes']:,} B in {p['arena_region']} "
                       f"(scratch {p['scratch_in_arena_bytes']} B inside)")
    t.add_row("peak RAM", f"{p['peak_ram_bytes']:,} B "
                          f"(arena + the {p['stack_budget_bytes']:,} B stack the target reserves)")
    t.add_row("kernels", " ".join(p["kernel_variants"].values()))
    for v in s["largest_activations"]:
        t.add_row("  largest tensor", f"{v['name']} {v['dtype']}{v['shape']} {v['bytes']} B")
    t.add_row("target flash / RAM", f"{kib(tg.region_bytes('flash'))} / {kib(tg.region_bytes('ram'))}")
    console.print(t)
    console.print(p["arena_placement"], highlight=False)
    if json_path:
        Path(json_path).write_text(json.dumps({**p, "summary": s}, indent=1))
    console.print("[green]fits[/] (code size is known after `kiln build`)")
