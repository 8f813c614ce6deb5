"""Fixed-point lowering of `linear`: the s16 dense kernel on the integer weights that
quantize/fixed_ops/linear.py wrote into the IR (consts weight_q/bias_q, attrs["fixed"]:
weight frac, accumulator width, report). Nothing is decided here."""
from __future__ import annotations

from ..lowering import CArray, Lowering, fixed_attrs, lowers


def dense_context(node, cid: str) -> dict:
    """Template variables and the export report of a quantized W x + b."""
    f = fixed_attrs(node)
    wq = node.consts["weight_q"]
    arrays = {"weight": CArray(f"{cid}_wq", wq), "bias": CArray(f"{cid}_bq", node.consts["bias_q"])}
    return {"arrays": list(arrays.values()), "a": arrays, "rows": int(wq.shape[0]), "cols": int(wq.shape[1]),
            "frac": f["frac"], "acc_bits": f["acc_bits"], "report": f["report"]}


@lowers("linear", dtype="fixed")
class LinearFixed(Lowering):
    template = "linear_fixed.c.j2"
    kernels = ("ek_linear_s16.c",)
    headers = ("ek_linear_s16.h", "ek_argmax.h")

    def context(self, node, graph, cid: str) -> dict:
        link = node.attrs["link"]
        # softmax/sigmoid of the dequantized scores live with the float argmax helpers
        kernels = self.kernels + (("ek_argmax_f32.c",) if link in ("softmax", "sigmoid") else ())
        return {**dense_context(node, cid), "link": link, "kernels": kernels}

    def scratch_bytes(self, node) -> int:
        return 8 * int(node.consts["weight"].shape[0])
