"""`kiln targets`: what can be built for, and whether its tools are installed."""
from __future__ import annotations

from rich.table import Table

from ._app import main
from ._console import console, kib


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
        t.add_row(tg.name + (f" --sim {tg.variant}" if tg.variant else ""), tg.isa, tg.fpu, str(tg.cores), kib(flash), kib(ram), sim,
                  _yes(tg.compiler_path()), "yes" if tg.simulator.get("name") == "native" else _yes(tg.simulator_path()))
    console.print(t)


def _yes(path: str | None) -> str:
    return "yes" if path else "[red]no[/] (make setup)"
