"""Lowering of network `conv` (standard, grouped and depthwise; 1-D and 2-D): int8 (`s8`,
TFLite's per-channel requantization), packed int4 weights (`s4`) and float32 (`f32`)."""
from __future__ import annotations

import numpy as np

from ..lowering import CArray, lowers
from ..nn_lower import NnLowering, act_range_f32, int8_attrs, nhwc, pack_int4, window_2d


def conv_geometry(node, graph, refs) -> dict:
    """Kernel kind (conv/dwconv), filter in the kernel's layout, dims and MACs."""
    x, y = refs[node.inputs[0]], refs[node.outputs[0]]
    w = graph.constants[node.inputs[1]].data
    rank = len(x.dims) - 2
    group = int(node.attrs.get("group", 1))
    in_c, out_c = x.dims[-1], w.shape[0]
    if rank == 1:
        w = w[:, None]  # [O, K, I] -> [O, 1, K, I]
    if group == in_c and w.shape[-1] == 1 and group > 1:
        kind = "dwconv"  # IR [C*M, KH, KW, 1] -> the kernels' [1, KH, KW, C*M]
        filt = np.ascontiguousarray(np.transpose(w, (3, 1, 2, 0)))
        fdims = list(filt.shape)
    else:  # standard and grouped: the conv kernels take groups = in_c / filter depth
        kind, filt, fdims = "conv", w, list(w.shape)
    out = nhwc(y.dims)
    macs = int(np.prod(out)) * w.shape[1] * w.shape[2] * (in_c // group)
    return {"kind": kind, "filter": filt, "in_dims": nhwc(x.dims), "filter_dims": fdims, "out_dims": out,
            "depth_multiplier": out_c // in_c if kind == "dwconv" else 1, "macs": macs,
            "window": window_2d(node.attrs, rank)}


@lowers("conv", dtype="s8")
class ConvS8(NnLowering):
    template = "nn_conv.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        g = conv_geometry(node, graph, refs)
        q = int8_attrs(node)
        arrays = {"filter": CArray(f"{cid}_filter", g["filter"].astype(np.int8)),
                  "multiplier": CArray(f"{cid}_mult", np.array(q["multiplier"], np.int32)),
                  "shift": CArray(f"{cid}_shift", np.array(q["shift"], np.int32))}
        if len(node.inputs) > 2:
            arrays["bias"] = CArray(f"{cid}_bias", graph.constants[node.inputs[2]].data.astype(np.int32))
        fn = f"ek_{g['kind']}_s8"
        params = {**g["window"], "input_offset": q["input_offset"], "output_offset": q["output_offset"],
                  "depth_multiplier": g["depth_multiplier"], "act_min": q["act_min"], "act_max": q["act_max"]}
        return {"arrays": list(arrays.values()), "a": arrays, "fn": fn, "kernel": f"{fn}.c", "dtype": "s8",
                "params": params, "in_dims": g["in_dims"], "filter_dims": g["filter_dims"], "out_dims": g["out_dims"],
                "x": refs[node.inputs[0]], "y": refs[node.outputs[0]], "macs": g["macs"],
                "scratch": {"fn": f"{fn}_scratch_bytes", "args": "dims3", "a": g["in_dims"], "b": g["filter_dims"],
                            "c": g["out_dims"]}}


@lowers("conv", dtype="f32")
class ConvF32(NnLowering):
    template = "nn_conv_f32.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        g = conv_geometry(node, graph, refs)
        arrays = {"filter": CArray(f"{cid}_filter", g["filter"].astype(np.float32))}
        if len(node.inputs) > 2:
            arrays["bias"] = CArray(f"{cid}_bias", graph.constants[node.inputs[2]].data.astype(np.float32))
        lo, hi = act_range_f32(node.attrs.get("activation", "none"))
        fn = f"ek_{g['kind']}_f32"
        params = {**g["window"], "depth_multiplier": g["depth_multiplier"], "act_min": lo, "act_max": hi}
        return {"arrays": list(arrays.values()), "a": arrays, "fn": fn, "kernel": f"{fn}.c", "dtype": "f32",
                "params": params, "in_dims": g["in_dims"], "filter_dims": g["filter_dims"], "out_dims": g["out_dims"],
                "x": refs[node.inputs[0]], "y": refs[node.outputs[0]], "macs": g["macs"], "scratch": None}


@lowers("conv", dtype="s4")
class ConvS4(ConvS8):
    """Packed int4 weights, int8 activations: the int8 arithmetic, weights two per byte."""

    def context(self, node, graph, cid, refs) -> dict:
        c = super().context(node, graph, cid, refs)
        packed = CArray(f"{cid}_filter", pack_int4(node, c["a"]["filter"].values))
        c["a"]["filter"] = packed
        c["arrays"] = list(c["a"].values())
        fn = c["fn"].replace("_s8", "_s4")
        c.update(fn=fn, kernel=f"{fn}.c", dtype="s4", scratch={**c["scratch"], "fn": f"{fn}_scratch_bytes"})
        return c
