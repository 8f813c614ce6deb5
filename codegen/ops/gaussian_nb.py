"""Lowering of `gaussian_nb`."""
from __future__ import annotations

from ..lowering import CArray, Lowering, lowers


@lowers("gaussian_nb")
class GaussianNB(Lowering):
    template = "gaussian_nb.c.j2"
    kernels = ("ek_bayes_gaussian_f32.c", "ek_argmax_f32.c")
    headers = ("ek_bayes.h", "ek_argmax.h")

    def context(self, node, graph, cid: str) -> dict:
        arrays = {k: CArray(f"{cid}_{k}", v) for k, v in node.consts.items()}
        theta = node.consts["theta"]
        return {"arrays": list(arrays.values()), "a": arrays, "n_classes": int(theta.shape[0]),
                "n_features": int(theta.shape[1])}

    def scratch_bytes(self, node) -> int:
        return 4 * node.attrs["n_classes"]
