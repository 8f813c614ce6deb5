"""Lowering of `knn` (KNeighborsClassifier / KNeighborsRegressor, brute force)."""
from __future__ import annotations

import numpy as np

from ..lowering import CArray, Lowering, lowers
from .nearest_centroid import METRICS


TIE_RULES = {"lower_index": "EK_TIES_LOWER_INDEX", "sklearn_brute": "EK_TIES_SKLEARN_BRUTE",
             "sklearn_kd_tree": "EK_TIES_SKLEARN_KD_TREE"}


@lowers("knn")
class Knn(Lowering):
    template = "knn.c.j2"
    kernels = ("ek_distance_f32.c", "ek_knn_f32.c")
    headers = ("ek_distance.h", "ek_knn.h")

    def context(self, node, graph, cid: str) -> dict:
        a = node.attrs
        pts = node.consts["points"]
        elem, stored = compact_points(pts)
        arrays = {k: CArray(f"{cid}_{k}", v) for k, v in node.consts.items() if k != "points"}
        arrays["points"] = CArray(f"{cid}_points", stored)
        return {"arrays": list(arrays.values()), "a": arrays, "metric": METRICS[a["metric"]],
                "n_points": int(pts.shape[0]), "n_features": int(pts.shape[1]), "k": a["k"],
                "weighted": int(a["weights"] == "distance"), "elem": elem, "n_classes": a["n_classes"],
                "mode": a["mode"], "tie_rule": TIE_RULES[a.get("tie_rule", "lower_index")],
                "kd_tree": "kd_idx" in node.consts,
                "kd_nodes": int(node.consts["kd_start"].size) if "kd_start" in node.consts else 0}

    def scratch_bytes(self, node) -> int:
        k = node.attrs["k"]
        work = self.cores * (2 * k + 1) * 4  # ek_knn_work_bytes
        if node.attrs.get("tie_rule") == "sklearn_brute" and self.cores > 1:
            work = max(work, 4 * int(node.consts["points"].shape[0]))  # ek_knn_heap_work_bytes
        return 4 * (3 * k + node.attrs["n_classes"]) + work


def compact_points(points: np.ndarray) -> tuple[str, np.ndarray]:
    """Store training rows as uint8/int16 when that is exact (integer data such as pixels);
    the kernel converts each back to the same float, so distances are unchanged."""
    for elem, dtype in (("EK_ELEM_U8", np.uint8), ("EK_ELEM_I16", np.int16)):
        info = np.iinfo(dtype)
        if points.min() >= info.min and points.max() <= info.max and np.array_equal(np.round(points), points):
            return elem, points.astype(dtype)
    return "EK_ELEM_F32", points
