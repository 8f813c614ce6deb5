"""Lowering of network `fully_connected` (weights [N, K]): int8 (`s8`: per-tensor or
per-channel requantization) and float32 (`f32`)."""
from __future__ import annotations

import numpy as np

from ..lowering import CArray, lowers
from ..nn_lower import NnLowering, act_range_f32, int8_attrs, pack_int4


def fc_geometry(node, graph, refs) -> dict:
    x = refs[node.inputs[0]]
    w = graph.constants[node.inputs[1]].data
    n_out, k = int(w.shape[0]), int(w.shape[1])
    batches = int(np.prod(x.dims)) // k
    return {"w": w, "batches": batches, "in_features": k, "out_features": n_out, "macs": batches * k * n_out}


@lowers("fully_connected", dtype="s8")
class FcS8(NnLowering):
    template = "nn_fc.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        g = fc_geometry(node, graph, refs)
        q = int8_attrs(node)
        arrays = {"w": CArray(f"{cid}_w", g["w"].astype(np.int8)),
                  "multiplier": CArray(f"{cid}_mult", np.array(q["multiplier"], np.int32)),
                  "shift": CArray(f"{cid}_shift", np.array(q["shift"], np.int32))}
        if len(node.inputs) > 2:
            arrays["bias"] = CArray(f"{cid}_bias", graph.constants[node.inputs[2]].data.astype(np.int32))
        return {**g, "arrays": list(arrays.values()), "a": arrays, "fn": "ek_fc_s8", "kernel": "ek_fc_s8.c",
                "dtype": "s8", "q": q, "x": refs[node.inputs[0]], "y": refs[node.outputs[0]],
                "scratch": {"fn": "ek_fc_s8_scratch_bytes", "args": "ints", "a": [g["in_features"], g["out_features"]]}}


@lowers("fully_connected", dtype="f32")
class FcF32(NnLowering):
    template = "nn_fc_f32.c.j2"

    def context(self, node, graph, cid, refs) -> dict:
        g = fc_geometry(node, graph, refs)
        arrays = {"w": CArray(f"{cid}_w", g["w"].astype(np.float32))}
        if len(node.inputs) > 2:
            arrays["bias"] = CArray(f"{cid}_bias", graph.constants[node.inputs[2]].data.astype(np.float32))
        lo, hi = act_range_f32(node.attrs.get("activation", "none"))
        return {**g, "arrays": list(arrays.values()), "a": arrays, "fn": "ek_fc_f32", "kernel": "ek_fc_f32.c",
                "dtype": "f32", "act_min": lo, "act_max": hi, "x": refs[node.inputs[0]], "y": refs[node.outputs[0]],
                "scratch": None}


@lowers("fully_connected", dtype="s4")
class FcS4(FcS8):
    """Packed int4 weights [N, K] (two per byte), int8 activations."""

    def context(self, node, graph, cid, refs) -> dict:
        c = super().context(node, graph, cid, refs)
        c["a"]["w"] = CArray(f"{cid}_w", pack_int4(node, c["a"]["w"].values.reshape(c["out_features"], -1)))
        c["arrays"] = list(c["a"].values())
        c.update(fn="ek_fc_s4", kernel="ek_fc_s4.c", dtype="s4",
                 scratch={**c["scratch"], "fn": "ek_fc_s4_scratch_bytes"})
        return c
