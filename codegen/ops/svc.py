"""Lowering of `svc` (kernel SVM classifier/regressor, libsvm semantics)."""
from __future__ import annotations

from ..lowering import CArray, Lowering, lowers

KERNEL_ENUM = {"linear": "EK_KERNEL_LINEAR", "rbf": "EK_KERNEL_RBF", "poly": "EK_KERNEL_POLY",
               "sigmoid": "EK_KERNEL_SIGMOID", "linear_primal": "EK_KERNEL_LINEAR_PRIMAL"}


@lowers("svc")
class Svc(Lowering):
    template = "svc.c.j2"
    kernels = ("ek_svm_f32.c",)
    headers = ("ek_svm.h",)

    def context(self, node, graph, cid: str) -> dict:
        c, a = node.consts, node.attrs
        names = ("support_vectors", "dual_coef", "intercept", "sv_start")
        arrays = {k: CArray(f"{cid}_{k}", c[k]) for k in names}
        nc = a["n_classes"]
        return {"arrays": list(arrays.values()), "a": arrays, "kernel_enum": KERNEL_ENUM[a["kernel"]],
                "gamma": a["gamma"], "coef0": a["coef0"], "degree": a["degree"], "n_sv": a["n_sv"],
                "n_features": int(c["support_vectors"].shape[1]), "n_classes": nc,
                "n_pairs": nc * (nc - 1) // 2, "mode": a["mode"], "decision_shape": a["decision_shape"]}

    def scratch_bytes(self, node) -> int:
        nc = node.attrs["n_classes"]
        return 4 * (node.attrs["n_sv"] + 2 * nc + nc * (nc - 1) // 2)
