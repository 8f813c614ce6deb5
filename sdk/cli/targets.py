"""`kiln targets`: what can be built for, and whether its tools are installed."""
from __future__ import annotations

import json
from pathlib import Path

from rich import box
from rich.table import Table

from ._app import main
from ._console import console, kib
from ._options import json_option


@main.command()
@json_option("write the targets here as JSON")
def targets(json_path: str | None) -> None:
    """List targets, their hardware and whether their toolchain and simulator are installed."""
    from edgekiln.targets import all_targets, get_target

    rows = [tg for base in all_targets().values() for tg in [base, *(get_target(base.name, v) for v in base.variants)]]
    docs = [_describe(tg) for tg in rows]  # simulator variants (pulp-open --sim gvsoc) get their own row
    # Fits 80 columns: short ISA/FPU/simulator names; `--json` has the full ones.
    t = Table(title="edgekiln targets", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
    for col in ("target", "ISA", "FPU", "cores", "flash", "RAM", "simulator", "installed"):
        t.add_column(col, no_wrap=True)
    for d in docs:
        missing = [k for k in ("gcc", "sim") if not d[{"gcc": "toolchain_found", "sim": "simulator_found"}[k]]]
        fpu = next((w for w in ("double", "single") if w in d["fpu"]), "none" if "none" in d["fpu"] else d["fpu"])
        t.add_row(d["name"], d["isa"].split()[0], fpu, str(d["cores"]), kib(d["flash_bytes"]), kib(d["ram_bytes"]),
                  d["simulator"].split()[-1], "yes" if not missing else f"[red]no {'+'.join(missing)}[/]")
    console.print(t)
    if any(not (d["toolchain_found"] and d["simulator_found"]) for d in docs):
        console.print("missing tools: `make setup` installs them (GVSoC is built from source: docs/targets.md)")
    if json_path:
        Path(json_path).write_text(json.dumps(docs, indent=1))


def _describe(tg) -> dict:
    args = tg.simulator.get("args", [])
    machine = args[args.index("-M") + 1] if "-M" in args[:-1] else ""
    native = tg.simulator.get("name") in ("native", "board")  # board: a real chip's variant (no simulator)
    return {"name": tg.name, "variant": tg.variant, "isa": tg.isa, "fpu": tg.fpu, "cores": tg.cores,
            "flash_bytes": tg.region_bytes("flash"), "ram_bytes": tg.region_bytes("ram"),
            "simulator": "board" if tg.simulator.get("name") == "board" else
            " ".join(filter(None, [tg.simulator.get("binary") or "native", machine])),
            "toolchain_found": bool(tg.compiler_path()), "simulator_found": native or bool(tg.simulator_path())}
