"""Fixed-point lowering of `tree_ensemble` (inline layout): integer decisions and sums.

Splits compare int32 keys of the float inputs' bits with the thresholds' keys
(runtime_c/include/ek_float_key.h): the integer form of `x <= t` that decides exactly as
float32 does for every input (NaN direction included), so trees need no Q format for their
inputs and lose nothing. Votes add 1.0 = 2^15 per tree and impure leaves their Q15
probabilities, regression leaves their int32 Q values: no float arithmetic per tree.
"""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError
from edgekiln.quantize.fixed_point import frac_for

from ..lowering import CArray, Lowering, lowers
from .tree_ensemble import inline_context

ONE_Q15 = 1 << 15


def _leaves(tree: dict):
    if "leaf" in tree:
        yield tree
    else:
        yield from _leaves(tree["left"])
        yield from _leaves(tree["right"])


@lowers("tree_ensemble", dtype="fixed")
class TreeEnsembleFixed(Lowering):
    template = "tree_inline_fixed.c.j2"
    headers = ("ek_fixed.h", "ek_float_key.h", "ek_parallel.h")
    input_bits = 0  # reads the float inputs (as integer keys)
    shared_input_format = False

    def context(self, node, graph, cid: str) -> dict:
        if self.options.get("tree_layout", "auto") == "table":
            raise UnsupportedModelError("--dtype fixed uses the inline tree layout; drop --tree-layout table")
        ctx = inline_context(node, cid, int_keys=True, tree_keys=self.options.get("tree_keys", "auto"))
        p_table = next((a for a in ctx["arrays"] if a.name == f"{cid}_p"), None)  # float probabilities
        ctx["arrays"] = [a for a in ctx["arrays"] if a is not p_table]
        report = {"op": "tree_ensemble", "splits": "int32 keys of the float bits (decisions exactly as float32)"}
        if p_table is not None:
            p = np.asarray(p_table.values, np.float64)
            ctx["arrays"].append(CArray(f"{cid}_pq", np.round(p * ONE_Q15).astype(np.uint16)))
            report["leaf_probabilities"] = "Q15 (rounding error <= 2^-16 each)"
        leaf_frac = 0
        if not ctx["classify"]:
            values = np.asarray(node.consts["leaves"], np.float64)[:, 0]
            # n_trees leaves of at most max|leaf| must add up within int32
            leaf_frac = frac_for(float(np.abs(values).max()) * len(ctx["trees"]), 32)
            for tree in ctx["trees"]:
                for leaf in _leaves(tree):
                    leaf["leaf"] = int(np.round(float(np.float32(leaf["leaf"])) * 2.0 ** leaf_frac))
            report["leaf_values"] = f"int32 Q{leaf_frac} (rounding error <= 2^-{leaf_frac + 1} each)"
        ctx.update(template=self.template, kernels=(), headers=self.headers, leaf_frac=leaf_frac, int_leaves=True,
                   parallel=self.cores > 1 and len(ctx["trees"]) > 1, report=report, one=ONE_Q15)
        return ctx

    def scratch_bytes(self, node) -> int:
        return 4 * (node.attrs["n_classes"] + node.attrs["n_trees"])
