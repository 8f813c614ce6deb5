"""What quantization did to each layer: scales, bits and SQNR of every node's output
(int8 golden model, dequantized) against the float golden model on the same inputs, and
the network-level figures (top-1 agreement, logit SQNR) a benchmark reports.

SQNR = 10 log10(sum f^2 / sum (f - q)^2) over all samples, f the float tensor, q the
dequantized int8 tensor; "logits" is the input of a final softmax (else the output)."""
from __future__ import annotations

import numpy as np

from edgekiln.ir import Graph

from . import float_reference, int8_reference
from .quantizer import QuantizedNetwork, dequantize, quantize_input


def sqnr_db(signal: float, noise: float) -> float:
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(max(signal, 1e-30) / noise))


def logits_name(graph: Graph) -> str:
    last = graph.nodes[-1]
    return last.inputs[0] if last.op == "softmax" else last.outputs[0]


def evaluate(qn: QuantizedNetwork, samples: np.ndarray) -> dict:
    """Per-layer rows and network figures of `qn` on float `samples` (n, *input dims)."""
    q, fg = qn.graph, qn.float_graph
    name = q.inputs[0].name
    sums: dict[str, list[float]] = {}
    agree, logits = 0, logits_name(q)
    for x in samples:
        f = float_reference.run(fg, {name: x}, keep_all=True)
        r = int8_reference.run(q, {name: quantize_input(x, q.inputs[0].quant)}, keep_all=True)
        for n in q.nodes:
            t = n.outputs[0]
            fv, qv = f[t].astype(np.float64), dequantize(r[t], q.value(t).quant).astype(np.float64)
            s = sums.setdefault(t, [0.0, 0.0])
            s[0] += float((fv ** 2).sum())
            s[1] += float(((fv - qv) ** 2).sum())
        agree += int(np.argmax(f[logits]) == np.argmax(r[logits]))
    layers = []
    for n in q.nodes:
        t = n.outputs[0]
        row = {"name": n.name, "op": n.op, "output": t, "out_scale": q.value(t).quant.scale[0],
               "out_zero_point": q.value(t).quant.zero_point[0], "abits": 8, "sqnr_db": sqnr_db(*sums[t])}
        if n.op in ("conv", "fully_connected"):
            w = q.constants[n.inputs[1]]
            row.update(wbits=int(n.attrs.get("weight_bits", 8)), w_scale_min=float(min(w.quant.scale)),
                       w_scale_max=float(max(w.quant.scale)), w_granularity="per-channel" if w.quant.axis is not None else "per-tensor")
        layers.append(row)
    return {"config": qn.config.label(), "method": qn.config.method, "granularity": qn.config.granularity,
            "observer": qn.config.observer, "samples": int(len(samples)), "agreement": agree / max(len(samples), 1),
            "logit_sqnr_db": sqnr_db(*sums[logits]), "logits": logits, "layers": layers}


def int8_outputs(qn: QuantizedNetwork, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dequantized outputs [n, ...], dequantized logits [n, ...]) of the int8 golden model
    on float `samples` (n, *input dims): what a benchmark row needs beside the float model's."""
    q = qn.graph
    name, logits = q.inputs[0].name, logits_name(q)
    outs, lgs = [], []
    for x in samples:
        r = int8_reference.run(q, {name: quantize_input(np.asarray(x).reshape(q.inputs[0].dims), q.inputs[0].quant)},
                               keep_all=True)
        outs.append(dequantize(r[q.outputs[0].name], q.outputs[0].quant))
        lgs.append(dequantize(r[logits], q.value(logits).quant))
    return np.stack(outs), np.stack(lgs)
