"""`kiln debug`: one sample through a network project with every layer's output dumped by the
harness (its trace flag; no rebuild), compared with the golden model layer by layer."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..errors import InputError
from ._app import main
from ._console import console, echo
from ._inputs import read_data
from ._options import data_option, json_option, timeout_option


@main.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@data_option
@click.option("--sample", default=0, show_default=True, type=click.IntRange(min=0), help="row of --data to trace")
@json_option("write the per-layer comparison here")
@timeout_option
def debug(project: str, data: str, sample: int, json_path: str | None, timeout: float | None) -> None:
    """Every layer of a network on the device vs the golden model: the first differing element."""
    from edgekiln.targets.build import load_project

    from .. import nn_run
    from ..ir import Graph

    path = Path(project)
    meta = load_project(path)
    graph = Graph.from_json((path / "graph.json").read_text())
    if not graph.is_network():
        raise InputError(f"{path} holds a classic model; kiln debug traces the layers of networks")
    X = nn_run.check_inputs(graph, read_data(data))
    if sample >= len(X):
        raise InputError(f"--sample {sample} is beyond the {len(X)} samples of {data}")
    report, result, stored = nn_run.run_project(path, graph, X[sample:sample + 1], trace=True, timeout=timeout,
                                                echo=lambda m: echo(m, err=True))
    rows = nn_run.debug_layers(graph, meta["plan"], (result.traces or {}).get(0, {}), stored)
    t = Table(title=f"{graph.name} on {report['target']}: sample {sample}, every layer vs the golden model")
    for col in ("layer", "op", "kernel file", "output", "differing", "first difference (index: device vs golden)"):
        t.add_column(col)
    for r in rows:
        first = r.get("first_difference")
        t.add_row(f"{r['index']} {r['name']}", r["op"], r["variant"] or "(alias)", r["output"],
                  "missing" if r["status"] == "missing" else f"{r['differing']} / {r['elements']}",
                  f"{first['index']}: {first['device']} vs {first['golden']}" if first else "-")
    console.print(t)
    first_bad = next((r for r in rows if r["status"] != "same"), None)
    if first_bad is None:
        console.print("[green]every layer matches the golden model[/]")
    else:
        console.print(f"[red]first differing layer: {first_bad['index']} {first_bad['name']}[/]")
    if json_path:
        Path(json_path).write_text(json.dumps({"sample": sample, "target": report["target"], "layers": rows}, indent=1))
