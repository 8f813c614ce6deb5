"""int8 SUB and MUL parameters (broadcasting changes no integer: codegen walks the shapes)."""
from __future__ import annotations

from edgekiln.ir import Graph, Node, QuantParams

from ..int8_ops import mul_multiplier
from ..requant import _act, _need, _q, add_sub_params
from . import int8_params


@int8_params("sub")
def sub(graph: Graph, node: Node, qin: QuantParams, qout: QuantParams) -> dict:
    return add_sub_params(graph, node, qin, qout, sign=-1)


@int8_params("mul")
def mul(graph: Graph, node: Node, qin: QuantParams, qout: QuantParams) -> dict:
    q2 = _q(graph, node.inputs[1])
    _need(node, q2)
    m, s = mul_multiplier(qin, q2, qout)
    return {"input1_offset": -qin.zero_point[0], "input2_offset": -q2.zero_point[0],
            "output_offset": qout.zero_point[0], "output_multiplier": int(m), "output_shift": int(s),
            **_act(node, qout)}
