"""Fixed point for `linear`: int16 weights times int16 inputs, exact integer sums.

The input's per-feature scales 2^-frac_j fold into the weights; one weight scale 2^-fw for
the whole matrix keeps every row's accumulator in the same units, so argmax and sign
decide in the integer domain. The accumulator is int32 when the worst case over every
representable int16 input fits, else int64 (widened, and reported).
"""
from __future__ import annotations

import numpy as np

from edgekiln.ir import Node

from ..fixed_point import frac_for, quantize_round
from . import FixedOp, accumulator_bits, accumulator_text, fixed_op


def quantize_dense(weight: np.ndarray, bias: np.ndarray, input_frac: list[int], input_max_abs: list[float]) -> dict:
    """Integer weights/bias, output frac, accumulator width and the error bound (output units)."""
    V = np.asarray(weight, np.float64) * np.exp2(-np.asarray(input_frac, np.float64))[None, :]
    fw = frac_for(float(np.abs(V).max()), 16)
    Wq = quantize_round(V, fw, 16)
    bq = np.round(np.asarray(bias, np.float64) * 2.0 ** fw).astype(np.int64)
    worst = np.abs(Wq).sum(axis=1) * 32768 + np.abs(bq)  # any int16 input, saturated or not
    xq_max = np.floor(np.asarray(input_max_abs) * np.exp2(input_frac)) + 1  # within the training range
    # |z_fixed - z| <= weight rounding * |xq| + input flooring * |V| + bias rounding (docs/fixed_point.md)
    bound = 2.0 ** -fw * (0.5 * xq_max.sum() + 0.5) + np.abs(V).sum(axis=1).max()
    return {"Wq": Wq.astype(np.int16), "bq": bq, "frac": fw, "acc_bits": accumulator_bits(float(worst.max())),
            "error_bound": float(bound), "worst_accumulator": float(worst.max())}


def dense_accumulators(node: Node, xq: np.ndarray) -> np.ndarray:
    """Golden model of the s16 dense kernel: exact int64 sums of the IR's integer constants."""
    return xq @ node.consts["weight_q"].astype(np.int64).T + node.consts["bias_q"].astype(np.int64)[None, :]


@fixed_op("linear")
class LinearFixed(FixedOp):
    input_bits = 16
    shared_input_format = False
    report_op = "linear"

    def affine_consts(self, node: Node) -> tuple[str, str]:
        return "weight", "bias"  # scalers/PCA in front fold into W x + b (quantize/fixed_graph.py)

    def quantize(self, node: Node, plan: dict) -> None:
        w, b = self.affine_consts(node)
        q = quantize_dense(node.consts[w], node.consts[b], plan["input_frac"], plan["input_max_abs"])
        node.consts["weight_q"] = q["Wq"]
        node.consts["bias_q"] = q["bq"].astype(np.int64 if q["acc_bits"] == 64 else np.int32)
        node.attrs["fixed"] = {
            "frac": q["frac"], "acc_bits": q["acc_bits"],
            "report": {"op": self.report_op, "weights": "int16", "weight_frac": q["frac"],
                       "accumulator": accumulator_text(q["acc_bits"]), "worst_accumulator": q["worst_accumulator"],
                       "error_bound": q["error_bound"]}}

    def predict_labels(self, node: Node, plan: dict, xq: np.ndarray) -> np.ndarray:
        acc = dense_accumulators(node, xq)
        return (acc[:, 0] > 0).astype(np.int64) if acc.shape[1] == 1 else np.argmax(acc, axis=1)
