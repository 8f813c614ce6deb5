"""Fixed point for `tree_ensemble`: splits compare int32 keys of the float inputs' bits
(runtime_c/include/ek_float_key.h), so trees need no input Q format and decide exactly as
float32. Votes add 1.0 = 2^15 per tree and impure leaves their Q15 probabilities,
regression leaves their int32 Q values: no float arithmetic per tree."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.ir import Node

from ..fixed_point import frac_for
from . import FixedOp, fixed_op

ONE_Q15 = 1 << 15


def _has_impure_leaf(node: Node) -> bool:
    """Whether a tree reaches a leaf whose probability row is not one-hot."""
    c = node.consts
    children = np.concatenate([c["left"], c["right"], c["roots"]])
    rows = np.asarray(c["leaves"])[np.unique(~children[children < 0])]
    return bool(((rows != 0).sum(axis=1) != 1).any() or (rows.max(axis=1) != 1.0).any())


@fixed_op("tree_ensemble")
class TreeEnsembleFixed(FixedOp):
    input_bits = 0  # reads the float inputs (as integer keys)
    shared_input_format = False

    def quantize(self, node: Node, plan: dict) -> None:
        report = {"op": "tree_ensemble", "splits": "int32 keys of the float bits (decisions exactly as float32)"}
        fixed = {"probability_one": ONE_Q15, "leaf_frac": 0}
        if node.attrs["mode"] == "boost":
            raise UnsupportedModelError("--dtype fixed covers decision trees and forests; boosted trees run in "
                                        "float32 (their decisions are already exact): drop --dtype fixed")
        if node.attrs["mode"] == "classify":
            if len(node.consts["roots"]) > 1 and _has_impure_leaf(node):  # a forest's sparse probability table
                report["leaf_probabilities"] = "Q15 (rounding error <= 2^-16 each)"
        else:
            values = np.asarray(node.consts["leaves"], np.float64)[:, 0]
            # n_trees leaves of at most max|leaf| must add up within int32
            fixed["leaf_frac"] = frac_for(float(np.abs(values).max()) * len(node.consts["roots"]), 32)
            report["leaf_values"] = f"int32 Q{fixed['leaf_frac']} (rounding error <= 2^-{fixed['leaf_frac'] + 1} each)"
        node.attrs["fixed"] = {**fixed, "report": report}
