"""Memory plan before anything is built: flash for constants, RAM for buffers and scratch."""
from __future__ import annotations

from typing import Any

from edgekiln.errors import MemoryBudgetError
from edgekiln.ir import Graph


def memory_plan(graph: Graph, nodes: list[dict], facts: dict, slots: int = 1) -> dict[str, int]:
    """slots: copies of buffers and scratch (one per core in batch mode)."""
    const_bytes = sum(a.nbytes for n in nodes for a in n["arrays"])
    buffer_bytes = sum(4 * v.length for v in graph.intermediates)
    return {
        "constants_flash_bytes": const_bytes,
        "buffers_ram_bytes": buffer_bytes * slots,
        "scratch_ram_bytes": int(facts["scratch_bytes"]) * slots,
    }


def _called(target: Any, kind: str, default: str) -> str:
    """The memory as the target names it: GAP8's L2 plays the role flash plays elsewhere."""
    names = [m.name for m in target.memory if m.kind == kind]
    return default if all(n.lower() == kind for n in names) else "+".join(names)


def check_fits(plan: dict[str, int], target: Any) -> None:
    """Fail before compiling when the constants alone exceed the target's flash or RAM."""
    flash = target.region_bytes("flash")
    ram = target.region_bytes("ram")
    need_ram = plan["buffers_ram_bytes"] + plan["scratch_ram_bytes"]
    if flash is not None and plan["constants_flash_bytes"] > flash:
        raise MemoryBudgetError(
            f"the model needs {plan['constants_flash_bytes']} bytes of {_called(target, 'flash', 'flash')} for its "
            f"constants but {target.name} has {flash}. Use a smaller model (fewer trees, lower depth, fewer "
            f"support vectors) or a larger target."
        )
    if ram is not None and need_ram > ram:
        raise MemoryBudgetError(
            f"the model needs {need_ram} bytes of {_called(target, 'ram', 'RAM')} for buffers and scratch but "
            f"{target.name} has {ram}."
        )
