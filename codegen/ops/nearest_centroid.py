"""Lowering of `nearest_centroid` (KMeans.predict, NearestCentroid)."""
from __future__ import annotations

from ..lowering import CArray, Lowering, lowers

METRICS = {"euclidean": "EK_METRIC_EUCLIDEAN", "manhattan": "EK_METRIC_MANHATTAN"}


@lowers("nearest_centroid")
class NearestCentroid(Lowering):
    template = "nearest_centroid.c.j2"
    kernels = ("ek_distance_f32.c",)
    headers = ("ek_distance.h",)

    def context(self, node, graph, cid: str) -> dict:
        c = node.consts["centroids"]
        arr = CArray(f"{cid}_centroids", c)
        return {"arrays": [arr], "centroids": arr, "n_centroids": int(c.shape[0]), "n_features": int(c.shape[1]),
                "metric": METRICS[node.attrs["metric"]]}

    def scratch_bytes(self, node) -> int:
        return 8 * self.cores  # several cores: each one's nearest centroid (distance, index)
