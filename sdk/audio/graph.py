"""Put an `mfcc` node in front of a network: a graph from 16,000 samples to its output.

The node's attributes are the front end's parameters (`features.KWS_MFCC` by default); its
output takes the network input's name and shape, so the network's nodes are unchanged. The
golden model of the node is `edgekiln.quantize.nn.mfcc` (float_reference runs it)."""
from __future__ import annotations

import copy

from ..errors import InputError
from ..ir import Graph, Node, QuantParams, ValueInfo
from .features import KWS_MFCC


def mfcc_output_shape(attrs: dict) -> tuple[int, int]:
    frames = 1 + (int(attrs["clip_samples"]) - int(attrs["frame_length"])) // int(attrs["frame_step"])
    return frames, int(attrs["num_coefficients"])


def with_mfcc(graph: Graph, attrs: dict | None = None, input_name: str = "audio") -> Graph:
    """A copy of `graph` whose input is `[1, clip_samples]` audio feeding an `mfcc` node: float32
    (the clip as edgekiln.audio.fit_clip returns it) for a float network; for an int8 network,
    int16 PCM (scale 1/32768, so the same float clip quantizes to it) into the integer MFCC,
    which writes the network's int8 input (quantize/nn/mfcc_fixed.py, ek_mfcc_s8)."""
    attrs = dict(KWS_MFCC if attrs is None else attrs)
    if len(graph.inputs) != 1:
        raise InputError(f"an audio front end feeds a network of one input; {graph.name} has {len(graph.inputs)}")
    feat = graph.inputs[0]
    frames, coeffs = mfcc_output_shape(attrs)
    dims = tuple(feat.dims)
    if dims != (1, frames, coeffs, 1):
        raise InputError(f"the network input {feat.name!r} has shape {list(dims)}; the mfcc node writes NHWC "
                         f"[1, {frames}, {coeffs}, 1] ({frames} frames x {coeffs} coefficients)")
    if feat.dtype == "float32" and feat.quant is None:
        audio = ValueInfo.tensor(input_name, (1, int(attrs["clip_samples"])))
    elif feat.dtype == "int8" and feat.quant is not None and not feat.quant.per_channel:
        # int16 PCM (x * 32768) into the integer MFCC, which writes the int8 input directly
        audio = ValueInfo.tensor(input_name, (1, int(attrs["clip_samples"])), "int16",
                                 QuantParams([1.0 / 32768.0], [0]))
    else:
        raise InputError(f"the network input {feat.name!r} is {feat.dtype}; the mfcc node feeds float32 or "
                         "per-tensor int8 inputs")
    g = copy.deepcopy(graph)
    node = Node("mfcc", "mfcc", [input_name], [feat.name], attrs)
    g.inputs = [audio]
    g.intermediates = [feat] + list(g.intermediates)
    g.nodes = [node] + list(g.nodes)
    return g
