"""Lowering of `tree_ensemble` (decision trees, random forests, extra trees)."""
from __future__ import annotations

import numpy as np

from ..lowering import CArray, Lowering, lowers, pack_bits, smallest_int_type


@lowers("tree_ensemble")
class TreeEnsemble(Lowering):
    template = "tree_ensemble.c.j2"
    kernels = ("ek_tree_predict_f32.c", "ek_argmax_f32.c")
    headers = ("ek_tree.h", "ek_argmax.h")

    def _types(self, node) -> tuple[type, type]:
        c = node.consts
        idx = np.concatenate([c["left"], c["right"], c["roots"], c["leaf_class"] if "leaf_class" in c else []])
        index_t = np.int16 if smallest_int_type(int(idx.min()), int(idx.max())) in (np.int8, np.int16) else np.int32
        n_feat = int(c["feature"].max()) + 1 if c["feature"].size else 1
        feature_t = np.uint8 if n_feat <= 256 else np.uint16
        return index_t, feature_t

    def config(self, node) -> dict[str, str]:
        index_t, feature_t = self._types(node)
        return {"EK_TREE_INDEX_T": np.dtype(index_t).name + "_t", "EK_TREE_FEATURE_T": np.dtype(feature_t).name + "_t"}

    def context(self, node, graph, cid: str) -> dict:
        c = node.consts
        index_t, feature_t = self._types(node)
        arrays = {
            "feature": CArray(f"{cid}_feature", c["feature"].astype(feature_t), "ek_tree_feature_t"),
            "threshold": CArray(f"{cid}_threshold", c["threshold"]),
            "left": CArray(f"{cid}_left", c["left"].astype(index_t), "ek_tree_index_t"),
            "right": CArray(f"{cid}_right", c["right"].astype(index_t), "ek_tree_index_t"),
            "roots": CArray(f"{cid}_roots", c["roots"].astype(index_t), "ek_tree_index_t"),
        }
        classify = node.attrs["mode"] == "classify"
        single_tree = node.attrs["n_trees"] == 1
        # A single classification tree only needs the leaf rows for predict_proba.
        arrays["leaves"] = CArray(f"{cid}_leaves", c["leaves"])
        if classify:
            arrays["leaf_class"] = CArray(f"{cid}_leaf_class", c["leaf_class"].astype(index_t), "ek_tree_index_t")
        has_nan_left = bool(c["nan_left"].any())
        if has_nan_left:
            arrays["nan_left"] = CArray(f"{cid}_nan_left", pack_bits(c["nan_left"]))
        return {
            "arrays": list(arrays.values()),
            "a": arrays,
            "classify": classify,
            "single_tree": single_tree,
            "has_nan_left": has_nan_left,
            "n_trees": node.attrs["n_trees"],
            "leaf_width": int(c["leaves"].shape[1]),
        }

    def scratch_bytes(self, node) -> int:
        return 4 * node.attrs["n_classes"] if node.attrs["mode"] == "classify" else 0
