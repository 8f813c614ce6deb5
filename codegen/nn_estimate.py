"""A first memory estimate of a network graph (IR version 2), before the arena planner of
the neural-network issue: parameter bytes (constants as stored) and the activation arena
as the peak over nodes of the bytes of tensors live at that node (a tensor lives from
the node that writes it to the last node that reads it; graph outputs to the end; no
in-place reuse, no scratch)."""
from __future__ import annotations

from edgekiln.ir import Graph


def network_summary(graph: Graph, top: int = 3) -> dict:
    values = {v.name: v for v in graph.all_values()}
    born = {v.name: -1 for v in graph.inputs}
    last = {v.name: len(graph.nodes) for v in graph.outputs}
    for i, node in enumerate(graph.nodes):
        for o in node.outputs:
            born.setdefault(o, i)
        for name in node.inputs:
            if name in values:
                last[name] = max(last.get(name, i), i)
    peak, at = 0, None
    for i, node in enumerate(graph.nodes):
        live = sum(values[n].nbytes for n, b in born.items() if b <= i <= last.get(n, b))
        if live > peak:
            peak, at = live, node.name
    largest = sorted(values.values(), key=lambda v: -v.nbytes)[:top]
    ops: dict[str, int] = {}
    for n in graph.nodes:
        ops[n.op] = ops.get(n.op, 0) + 1
    return {
        "ops": ops,
        "nodes": len(graph.nodes),
        "parameter_bytes": int(sum(c.data.nbytes for c in graph.constants.values())),
        "parameters": int(sum(c.data.size for c in graph.constants.values())),
        "arena_estimate_bytes": int(peak),
        "arena_peak_node": at,
        "largest_activations": [{"name": v.name, "shape": list(v.dims), "dtype": v.dtype, "bytes": v.nbytes}
                                for v in largest],
    }
