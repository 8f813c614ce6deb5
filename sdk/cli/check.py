"""`kiln check`: is a model supported on a target, and how much memory will it take."""
from __future__ import annotations

import click
from rich.table import Table

from ._app import main
from ._console import console, kib
from ._inputs import load_model_file
from ._options import name_option, target_option, trust_pickle_option


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@target_option()
@name_option
@trust_pickle_option
def check(model: str, target: str, name: str, trust_pickle: bool) -> None:
    """Is MODEL supported on TARGET, and how much memory will it take? Builds nothing."""
    from edgekiln.codegen.memory_plan import check_fits, memory_plan
    from edgekiln.codegen.project import lower_graph
    from edgekiln.targets import get_target

    from ..api import to_graph

    tg = get_target(target)
    graph = to_graph(load_model_file(model, trust_pickle), name)
    nodes, facts = lower_graph(graph)
    plan = memory_plan(graph, nodes, facts)
    t = Table(title=f"{graph.meta.get('estimator')} on {tg.name}: supported")
    t.add_column("item")
    t.add_column("value", justify="right")
    t.add_row("graph", " -> ".join(n.op for n in graph.nodes))
    t.add_row("features / task", f"{graph.n_features} / {graph.task}")
    t.add_row("constants (flash bytes)", str(plan["constants_flash_bytes"]))
    t.add_row("buffers + scratch (RAM bytes)", str(plan["buffers_ram_bytes"] + plan["scratch_ram_bytes"]))
    t.add_row("target flash / RAM", f"{kib(tg.region_bytes('flash'))} / {kib(tg.region_bytes('ram'))}")
    console.print(t)
    check_fits(plan, tg)
    console.print("[green]fits[/] (code size is known after `kiln build`)")
