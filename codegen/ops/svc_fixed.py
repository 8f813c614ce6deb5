"""Fixed-point lowering of `svc` with a linear kernel (folded at export into one weight row
per class pair, `linear_primal`): integer pair decisions (the dense kernel of
linear_fixed.py), one-vs-one votes in integers. Other kernels stay float32 (see Svc)."""
from __future__ import annotations

from edgekiln.errors import UnsupportedModelError

from ..lowering import Lowering, lowers
from .linear_fixed import dense_context, quantize_dense

@lowers("svc", dtype="fixed")
class SvcFixed(Lowering):
    template = "svc_fixed.c.j2"
    kernels = ("ek_linear_q.c",)
    headers = ("ek_linear_q.h", "ek_svm.h")
    input_bits = 16
    shared_input_format = False

    def affine_consts(self, node) -> tuple[str, str]:
        self._check_kernel(node)
        return "support_vectors", "intercept"  # one weight row per class pair: W x + b

    @staticmethod
    def _check_kernel(node) -> None:
        if node.attrs["kernel"] != "linear_primal":
            raise UnsupportedModelError(
                f"--dtype fixed is not offered for an SVM with the {node.attrs['kernel']!r} kernel: rbf/poly/sigmoid "
                "need exp/pow/tanh per support vector. Use --dtype float32 (linear kernels are covered)")

    def _q(self, node) -> dict:
        self._check_kernel(node)
        f = self.options["fixed"]
        return quantize_dense(node.consts["support_vectors"], node.consts["intercept"], f["input_frac"],
                              f["input_max_abs"])

    def context(self, node, graph, cid: str) -> dict:
        nc = node.attrs["n_classes"]
        ovr = node.attrs["decision_shape"] == "ovr" and nc > 2  # scikit-learn's transform, in float
        return {**dense_context(self._q(node), cid, "svc (linear)"), "n_classes": nc, "mode": node.attrs["mode"],
                "ovr": ovr, "kernels": self.kernels + (("ek_svm_f32.c",) if ovr else ())}

    def config(self, node) -> dict[str, str]:
        return {"EK_FIXED_WIDE_ACC": "1"} if self._q(node)["wide"] else {}

    def scratch_bytes(self, node) -> int:
        nc = node.attrs["n_classes"]
        return 8 * int(node.consts["support_vectors"].shape[0]) + 8 * max(nc, 1) + 4
