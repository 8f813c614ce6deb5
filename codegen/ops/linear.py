"""Lowering of `linear` (logistic/ridge/lasso/linear SVM): scores = W x + b, then a link."""
from __future__ import annotations

from ..lowering import CArray, Lowering, lowers


@lowers("linear")
class Linear(Lowering):
    template = "linear.c.j2"
    kernels = ("ek_linear_f32.c", "ek_argmax_f32.c")
    headers = ("ek_linear.h", "ek_argmax.h")

    def context(self, node, graph, cid: str) -> dict:
        w = node.consts["weight"]
        arrays = {"weight": CArray(f"{cid}_weight", w), "bias": CArray(f"{cid}_bias", node.consts["bias"])}
        return {"arrays": list(arrays.values()), "a": arrays, "link": node.attrs["link"],
                "rows": int(w.shape[0]), "cols": int(w.shape[1]), "task": graph.task}

    def scratch_bytes(self, node) -> int:
        return 4 * int(node.consts["weight"].shape[0])
