"""int8 PAD, TRANSPOSE and CONCATENATION parameters: the stored pad value; none for a
transpose (it moves bytes); per concat input, a byte copy or the requantization of TFLite's
QUANTIZE (int8_ops.requantize)."""
from __future__ import annotations

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Graph, Node, QuantParams

from ..int8_ops import pad_fill, requantize_multiplier, same_quant
from ..requant import _need, _q
from . import int8_params


@int8_params("pad")
def pad(graph: Graph, node: Node, qin: QuantParams, qout: QuantParams) -> dict:
    if not same_quant(qin, qout):
        raise UnsupportedModelError(f"node {node.name}: int8 pad needs the same scale and zero point in and out "
                                    "(TFLite's rule; the quantizer shares them)")
    return {"value": pad_fill(node, qout)}


@int8_params("transpose")
def transpose(graph: Graph, node: Node, qin: QuantParams, qout: QuantParams) -> dict:
    if not same_quant(qin, qout):
        raise UnsupportedModelError(f"node {node.name}: int8 transpose needs the same scale and zero point in and "
                                    "out (TFLite's rule; the quantizer shares them)")
    return {}


@int8_params("concat")
def concat(graph: Graph, node: Node, qin: QuantParams, qout: QuantParams) -> dict:
    inputs = []
    for name in node.inputs:
        q = _q(graph, name)
        _need(node, q)
        if same_quant(q, qout):
            inputs.append({"copy": 1, "input_offset": 0, "multiplier": 0, "shift": 0, "output_offset": 0})
        else:
            m, s = requantize_multiplier(q, qout)
            inputs.append({"copy": 0, "input_offset": -q.zero_point[0], "multiplier": int(m), "shift": int(s),
                           "output_offset": qout.zero_point[0]})
    return {"inputs": inputs, "requantize": any(not i["copy"] for i in inputs)}
