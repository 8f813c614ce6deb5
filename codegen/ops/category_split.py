"""Lowering of `category_split` (HistGradientBoosting's categorical splits as features, ek_category.h)."""
from __future__ import annotations

import numpy as np

from ..lowering import CArray, Lowering, lowers

NAMES = ("copy_from", "cat_column", "cat_start", "categories", "split_slot", "split_bits", "split_missing_left")


@lowers("category_split")
class CategorySplit(Lowering):
    template = "category_split.c.j2"
    kernels = ("ek_category_split_f32.c",)
    headers = ("ek_category.h",)

    def context(self, node, graph, cid: str) -> dict:
        c = node.consts
        # C has no empty arrays: an unused one holds one zero
        arrays = {k: CArray(f"{cid}_{k}", c[k] if c[k].size else np.zeros(1, c[k].dtype)) for k in NAMES}
        return {"arrays": list(arrays.values()), "a": arrays, "n_copy": int(c["copy_from"].size),
                "n_slots": int(c["cat_column"].size), "n_splits": int(c["split_slot"].size),
                "output": node.outputs[0]}

    def scratch_bytes(self, node) -> int:
        return 4 * max(1, int(node.consts["cat_column"].size))
