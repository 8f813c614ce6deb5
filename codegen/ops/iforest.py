"""Lowering of `iforest` (IsolationForest: path lengths over isolation trees, ek_iforest.h)."""
from __future__ import annotations

import numpy as np

from ..lowering import CArray, Lowering, lowers, pack_bits


def _cdouble(v: float) -> str:
    return "INFINITY" if v == np.inf else "-INFINITY" if v == -np.inf else repr(float(v))


@lowers("iforest")
class IsolationForest(Lowering):
    template = "iforest.c.j2"
    kernels = ("ek_iforest_f32.c",)
    headers = ("ek_iforest.h",)

    def context(self, node, graph, cid: str) -> dict:
        c, a = node.consts, node.attrs
        names = ("feature", "threshold", "left", "right", "tree_base", "tree_root", "path")
        arrays = {k: CArray(f"{cid}_{k}", np.asarray(c[k])) for k in names}
        has_nan_left = bool(np.any(c["nan_left"]))
        if has_nan_left:
            arrays["nan_left"] = CArray(f"{cid}_nan_left", pack_bits(c["nan_left"]))
        return {"arrays": list(arrays.values()), "a": arrays, "has_nan_left": has_nan_left,
                "n_trees": int(a["n_trees"]), "denominator": repr(float(a["denominator"])),
                "offset": repr(float(a["score_offset"])), "depth_threshold": _cdouble(a["depth_threshold"])}

    def scratch_bytes(self, node) -> int:
        return 8 * node.attrs["n_trees"] if self.cores > 1 else 0  # ek_iforest_scratch_bytes
