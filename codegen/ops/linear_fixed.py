"""Fixed-point lowering of `linear`: int16 weights times int16 inputs, exact integer sums.

The input's per-feature scales 2^-frac_j fold into the weights; one weight scale 2^-fw for
the whole matrix keeps every row's accumulator in the same units, so argmax and sign
decide in the integer domain. The accumulator is int32 when the worst case over every
representable int16 input fits, else int64 (widened, and reported).
"""
from __future__ import annotations

import numpy as np

from edgekiln.quantize.fixed_point import accumulator_text, fits_int32, frac_for, quantize_round

from ..lowering import CArray, Lowering, lowers


def quantize_dense(weight: np.ndarray, bias: np.ndarray, input_frac: list[int], input_max_abs: list[float]) -> dict:
    """Integer weights/bias, output frac, accumulator width and the error bound (output units)."""
    V = np.asarray(weight, np.float64) * np.exp2(-np.asarray(input_frac, np.float64))[None, :]
    fw = frac_for(float(np.abs(V).max()), 16)
    Wq = quantize_round(V, fw, 16)
    bq = np.round(np.asarray(bias, np.float64) * 2.0 ** fw).astype(np.int64)
    worst = np.abs(Wq).sum(axis=1) * 32768 + np.abs(bq)  # any int16 input, saturated or not
    wide = not fits_int32(float(worst.max()))
    xq_max = np.floor(np.asarray(input_max_abs) * np.exp2(input_frac)) + 1  # within the training range
    # |z_fixed - z| <= weight rounding * |xq| + input flooring * |V| + bias rounding (docs/fixed_point.md)
    bound = 2.0 ** -fw * (0.5 * xq_max.sum() + 0.5) + np.abs(V).sum(axis=1).max()
    return {"Wq": Wq.astype(np.int16), "bq": bq, "frac": fw, "wide": wide, "error_bound": float(bound),
            "worst_accumulator": float(worst.max())}


def dense_context(q: dict, cid: str, op: str) -> dict:
    """Template variables and the export report of a quantized W x + b (quantize_dense)."""
    acc_t = np.int64 if q["wide"] else np.int32
    arrays = {"weight": CArray(f"{cid}_wq", q["Wq"]), "bias": CArray(f"{cid}_bq", q["bq"].astype(acc_t), "ek_qacc_t")}
    return {"arrays": list(arrays.values()), "a": arrays, "rows": int(q["Wq"].shape[0]),
            "cols": int(q["Wq"].shape[1]), "frac": q["frac"],
            "report": {"op": op, "weights": "int16", "weight_frac": q["frac"], "accumulator": accumulator_text(q["wide"]),
                       "worst_accumulator": q["worst_accumulator"], "error_bound": q["error_bound"]}}


@lowers("linear", dtype="fixed")
class LinearFixed(Lowering):
    template = "linear_fixed.c.j2"
    kernels = ("ek_linear_q.c",)
    headers = ("ek_linear_q.h", "ek_argmax.h")
    input_bits = 16
    shared_input_format = False

    def affine_consts(self, node) -> tuple[str, str]:
        return "weight", "bias"  # scalers/PCA in front fold into W x + b (quantize/fixed_graph.py)

    def _q(self, node) -> dict:
        f = self.options["fixed"]
        return quantize_dense(node.consts["weight"], node.consts["bias"], f["input_frac"], f["input_max_abs"])

    def context(self, node, graph, cid: str) -> dict:
        link = node.attrs["link"]
        # softmax/sigmoid of the dequantized scores live with the float argmax helpers
        kernels = ("ek_linear_q.c", "ek_argmax_f32.c") if link in ("softmax", "sigmoid") else ("ek_linear_q.c",)
        return {**dense_context(self._q(node), cid, "linear"), "link": link, "kernels": kernels}

    def config(self, node) -> dict[str, str]:
        return {"EK_FIXED_WIDE_ACC": "1"} if self._q(node)["wide"] else {}

    def scratch_bytes(self, node) -> int:
        return 8 * int(node.consts["weight"].shape[0])
