"""Fixed-point lowering of `nearest_centroid` (KMeans, NearestCentroid): the int16
centroids quantize/fixed_ops/nearest_centroid.py wrote into the IR, exact integer
distances, argmin in integers."""
from __future__ import annotations

from ..lowering import CArray, Lowering, fixed_attrs, lowers
from .nearest_centroid import METRICS


@lowers("nearest_centroid", dtype="fixed")
class NearestCentroidFixed(Lowering):
    template = "nearest_centroid_fixed.c.j2"
    kernels = ("ek_distance_s16.c",)
    headers = ("ek_distance_s16.h",)

    def context(self, node, graph, cid: str) -> dict:
        f = fixed_attrs(node)
        P = node.consts["centroids_q"]
        arr = CArray(f"{cid}_centroids_q", P)
        return {"arrays": [arr], "centroids": arr, "n_centroids": int(P.shape[0]), "n_features": int(P.shape[1]),
                "metric": METRICS[node.attrs["metric"]], "acc_bits": f["acc_bits"], "report": f["report"]}

    def scratch_bytes(self, node) -> int:
        return 8 * node.attrs["n_centroids"]
