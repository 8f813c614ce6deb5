"""Lowering of `dense` (y = W x + b as a transform; PCA)."""
from __future__ import annotations

from ..lowering import CArray, Lowering, lowers


@lowers("dense")
class Dense(Lowering):
    template = "dense.c.j2"
    kernels = ("ek_linear_f32.c",)
    headers = ("ek_linear.h",)

    def context(self, node, graph, cid: str) -> dict:
        w = node.consts["weight"]
        arrays = {"weight": CArray(f"{cid}_weight", w), "bias": CArray(f"{cid}_bias", node.consts["bias"])}
        return {"arrays": list(arrays.values()), "a": arrays, "rows": int(w.shape[0]), "cols": int(w.shape[1]),
                "output": node.outputs[0]}
