"""Lowering of network `avg_pool` and `max_pool` (padding counts no taps, as TFLite):
int8 (`s8`) and float32 (`f32`)."""
from __future__ import annotations

import numpy as np

from ..lowering import lowers
from ..nn_lower import NnLowering, act_range_f32, int8_attrs, nhwc


def pool_geometry(node, refs) -> dict:
    x, y = refs[node.inputs[0]], refs[node.outputs[0]]
    rank = len(x.dims) - 2
    k = list(node.attrs["kernel"])
    s = list(node.attrs.get("strides", k))
    pads = list(node.attrs.get("pads", [0] * 2 * rank))
    if rank == 1:
        k, s, top, left = [1, k[0]], [1, s[0]], 0, pads[0]
    else:
        top, left = pads[0], pads[1]
    return {"window": {"stride_h": s[0], "stride_w": s[1], "pad_top": top, "pad_left": left, "filter_h": k[0],
                       "filter_w": k[1]}, "in_dims": nhwc(x.dims), "out_dims": nhwc(y.dims), "x": x, "y": y,
            "kind": "avgpool" if node.op == "avg_pool" else "maxpool",
            "count_include_pad": int(bool(node.attrs.get("count_include_pad")) and node.op == "avg_pool")}


@lowers("avg_pool", dtype="s8")
@lowers("max_pool", dtype="s8")
class PoolS8(NnLowering):
    template = "nn_pool.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        g = pool_geometry(node, refs)
        q = int8_attrs(node)
        fn = f"ek_{g['kind']}_s8"
        return {**g, "arrays": [], "fn": fn, "kernel": f"{fn}.c", "dtype": "s8", "float": False,
                "act_min": q["act_min"], "act_max": q["act_max"], "macs": 0,
                "scratch": {"fn": f"{fn}_scratch_bytes", "args": "dims2", "a": g["in_dims"], "c": g["out_dims"]}}


@lowers("avg_pool", dtype="f32")
@lowers("max_pool", dtype="f32")
class PoolF32(NnLowering):
    template = "nn_pool.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        g = pool_geometry(node, refs)
        lo, hi = act_range_f32(node.attrs.get("activation", "none"))
        fn = f"ek_{g['kind']}_f32"
        return {**g, "arrays": [], "fn": fn, "kernel": f"{fn}.c", "dtype": "f32", "float": True,
                "act_min": lo, "act_max": hi, "macs": 0, "scratch": None}
