"""Fixed-point lowering of `svc` with a linear kernel (one weight row per class pair,
quantized by quantize/fixed_ops/svc.py): integer pair decisions on the s16 dense kernel,
one-vs-one votes in integers. Other kernels stay float32 (see Svc)."""
from __future__ import annotations

from ..lowering import Lowering, lowers
from .linear_fixed import dense_context


@lowers("svc", dtype="fixed")
class SvcFixed(Lowering):
    template = "svc_fixed.c.j2"
    kernels = ("ek_linear_s16.c",)
    headers = ("ek_linear_s16.h", "ek_svm.h")

    def context(self, node, graph, cid: str) -> dict:
        nc = node.attrs["n_classes"]
        ovr = node.attrs["decision_shape"] == "ovr" and nc > 2  # scikit-learn's transform, in float
        return {**dense_context(node, cid), "n_classes": nc, "mode": node.attrs["mode"],
                "ovr": ovr, "kernels": self.kernels + (("ek_svm_f32.c",) if ovr else ())}

    def scratch_bytes(self, node) -> int:
        nc = node.attrs["n_classes"]
        return 8 * int(node.consts["support_vectors"].shape[0]) + 8 * max(nc, 1) + 4
