"""Fixed-point lowering of `tree_ensemble` (inline layout): integer decisions and sums.

Splits compare int32 keys of the float inputs' bits with the thresholds' keys
(runtime_c/include/ek_float_key.h): the integer form of `x <= t` that decides exactly as
float32 does for every input (NaN direction included), so trees need no Q format for their
inputs and lose nothing. Votes add 1.0 per tree and impure leaves their probabilities,
regression leaves their int32 Q values, in the formats quantize/fixed_ops/tree_ensemble.py
wrote into node.attrs["fixed"]: no float arithmetic per tree.
"""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError

from ..lowering import CArray, Lowering, fixed_attrs, lowers
from .tree_ensemble import inline_context


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

    def context(self, node, graph, cid: str) -> dict:
        if self.options.get("tree_layout", "auto") == "table":
            raise UnsupportedModelError("--dtype fixed uses the inline tree layout; drop --tree-layout table")
        f = fixed_attrs(node)
        ctx = inline_context(node, cid, int_keys=True, tree_keys=self.options.get("tree_keys", "auto"))
        p_table = next((a for a in ctx["arrays"] if a.name == f"{cid}_p"), None)  # float probabilities
        ctx["arrays"] = [a for a in ctx["arrays"] if a is not p_table]
        one, leaf_frac = f["probability_one"], f["leaf_frac"]
        if p_table is not None:
            p = np.asarray(p_table.values, np.float64)
            ctx["arrays"].append(CArray(f"{cid}_pq", np.round(p * one).astype(np.uint16)))
        if not ctx["classify"]:
            for tree in ctx["trees"]:
                for leaf in _leaves(tree):
                    leaf["leaf"] = int(np.round(float(np.float32(leaf["leaf"])) * 2.0 ** leaf_frac))
        ctx.update(template=self.template, kernels=(), headers=self.headers, leaf_frac=leaf_frac, int_leaves=True,
                   parallel=self.cores > 1 and len(ctx["trees"]) > 1, report=f["report"], one=one)
        return ctx

    def scratch_bytes(self, node) -> int:
        return 4 * (node.attrs["n_classes"] + node.attrs["n_trees"])
