"""Lowering of `affine` (per-feature y = x * scale + shift; scalers)."""
from __future__ import annotations

import numpy as np

from ..lowering import CArray, Lowering, lowers


@lowers("affine")
class Affine(Lowering):
    template = "affine.c.j2"
    kernels = ("ek_linear_f32.c",)
    headers = ("ek_linear.h",)

    def context(self, node, graph, cid: str) -> dict:
        arrays = {k: CArray(f"{cid}_{k}", node.consts[k].astype(np.float32)) for k in ("scale", "shift")}
        return {"arrays": list(arrays.values()), "a": arrays, "n": int(node.consts["scale"].size),
                "output": node.outputs[0]}
