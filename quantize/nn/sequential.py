"""The sequential driver of data-aware weight methods (`WeightMethod.sequential`, AdaRound
here): layers are quantized in network order, each given its calibration inputs twice, as
the float golden model computes them (`Layer.inputs`) and as the int8 golden model computes
them with every layer before it already quantized by the method (`Layer.quant_inputs`,
dequantized), so each layer corrects the error its inputs carry (AdaRound / BRECQ's
"sequential" reconstruction). Layers not yet reached hold RTN placeholders, which cannot
affect the inputs of the layer being quantized (they come after it)."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Graph

from . import int8_reference
from .methods import Layer, QuantizedWeight, WeightMethod, get_method


def _int8_inputs(graph: Graph, samples: np.ndarray, stop: str) -> list[np.ndarray]:
    """Per sample, the dequantized int8 input 0 of node `stop`, the int8 golden model run
    up to that node."""
    from .quantizer import dequantize, quantize_input

    int8_reference._more()
    node = next(n for n in graph.nodes if n.name == stop)
    upto = graph.nodes[:graph.nodes.index(node)]
    quant = {v.name: v.quant for v in graph.all_values()}
    quant.update({k: c.quant for k, c in graph.constants.items()})
    vin = graph.inputs[0]
    out = []
    for x in samples:
        values = {k: c.data for k, c in graph.constants.items()}
        values[vin.name] = quantize_input(x, vin.quant).reshape(vin.dims)
        for n in upto:
            fn = int8_reference._KERNELS.get(n.op)
            if fn is None:
                raise UnsupportedModelError(f"node {n.name}: op {n.op!r} has no int8 reference kernel")
            args = [values[i] if i else None for i in n.inputs]
            values[n.outputs[0]] = fn(n, args, [quant.get(i) if i else None for i in n.inputs], quant[n.outputs[0]])
        t = node.inputs[0]
        out.append(dequantize(values[t], quant[t]))
    return out


def sequential_weights(fused: Graph, acts: dict, samples: np.ndarray, config, layer_inputs: dict[str, list],
                       method: WeightMethod) -> dict[str, QuantizedWeight]:
    from .quantizer import WEIGHTED, materialize

    wc = config.weight_config()
    method.check(wc)
    rtn = get_method("rtn")
    nodes = [n for n in fused.nodes if n.op in WEIGHTED and n.inputs[1] in fused.constants]
    weights: dict[str, QuantizedWeight] = {}
    for n in nodes:
        if n.inputs[1] not in weights:
            weights[n.inputs[1]] = rtn.quantize(Layer(n.name, n.op, fused.constants[n.inputs[1]].data, dict(n.attrs)), wc)
    done: set[str] = set()
    for n in nodes:
        if n.inputs[1] in done:
            continue
        g = materialize(fused, acts, weights)
        bias = fused.constants[n.inputs[2]].data if len(n.inputs) > 2 and n.inputs[2] in fused.constants else None
        layer = Layer(n.name, n.op, fused.constants[n.inputs[1]].data, dict(n.attrs), layer_inputs[n.name],
                      _int8_inputs(g, samples, n.name), bias)
        weights[n.inputs[1]] = method.quantize(layer, wc)
        done.add(n.inputs[1])
    return weights
