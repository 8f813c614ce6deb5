"""Memory plan before anything is built: flash for constants, RAM for buffers and scratch."""
from __future__ import annotations

from typing import Any

from edgekiln.errors import MemoryBudgetError
from edgekiln.ir import Graph


def memory_plan(graph: Graph, nodes: list[dict], facts: dict) -> dict[str, int]:
    const_bytes = sum(a.nbytes for n in nodes for a in n["arrays"])
    buffer_bytes = sum(4 * v.length for v in graph.intermediates)
    return {
        "constants_flash_bytes": const_bytes,
        "buffers_ram_bytes": buffer_bytes,
        "scratch_ram_bytes": int(facts["scratch_bytes"]),
    }


def check_fits(plan: dict[str, int], target: Any) -> None:
    """Fail before compiling when the constants alone exceed the target's flash or RAM."""
    flash = target.region_bytes("flash")
    ram = target.region_bytes("ram")
    need_ram = plan["buffers_ram_bytes"] + plan["scratch_ram_bytes"]
    if flash is not None and plan["constants_flash_bytes"] > flash:
        raise MemoryBudgetError(
            f"the model needs {plan['constants_flash_bytes']} bytes of flash for its constants but {target.name} "
            f"has {flash}. Use a smaller model (fewer trees, lower depth, fewer support vectors) or a larger target."
        )
    if ram is not None and need_ram > ram:
        raise MemoryBudgetError(
            f"the model needs {need_ram} bytes of RAM for buffers and scratch but {target.name} has {ram}."
        )
