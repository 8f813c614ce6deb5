"""What a network graph holds (IR version 2), for `kiln check`: op counts, parameters (as
stored in the file) and the largest tensors. The memory figures come from the arena plan
(codegen/arena.py via codegen/nn_project.py), the same plan export renders."""
from __future__ import annotations

from edgekiln.ir import Graph


def network_summary(graph: Graph, top: int = 3) -> dict:
    values = {v.name: v for v in graph.all_values()}
    largest = sorted(values.values(), key=lambda v: -v.nbytes)[:top]
    ops: dict[str, int] = {}
    for n in graph.nodes:
        ops[n.op] = ops.get(n.op, 0) + 1
    return {
        "ops": ops,
        "nodes": len(graph.nodes),
        "parameter_bytes": int(sum(c.data.nbytes for c in graph.constants.values())),
        "parameters": int(sum(c.data.size for c in graph.constants.values())),
        "largest_activations": [{"name": v.name, "shape": list(v.dims), "dtype": v.dtype, "bytes": v.nbytes}
                                for v in largest],
    }
