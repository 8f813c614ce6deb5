"""Lowering of `knn` (KNeighborsClassifier / KNeighborsRegressor, brute force)."""
from __future__ import annotations

from ..lowering import CArray, Lowering, lowers
from .nearest_centroid import METRICS


@lowers("knn")
class Knn(Lowering):
    template = "knn.c.j2"
    kernels = ("ek_distance_f32.c", "ek_knn_f32.c")
    headers = ("ek_distance.h", "ek_knn.h")

    def context(self, node, graph, cid: str) -> dict:
        a = node.attrs
        arrays = {k: CArray(f"{cid}_{k}", v) for k, v in node.consts.items()}
        pts = node.consts["points"]
        return {"arrays": list(arrays.values()), "a": arrays, "metric": METRICS[a["metric"]],
                "n_points": int(pts.shape[0]), "n_features": int(pts.shape[1]), "k": a["k"],
                "weighted": int(a["weights"] == "distance"), "n_classes": a["n_classes"], "mode": a["mode"]}

    def scratch_bytes(self, node) -> int:
        return 4 * (3 * node.attrs["k"] + node.attrs["n_classes"])
