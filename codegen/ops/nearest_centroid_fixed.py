"""Fixed-point lowering of `nearest_centroid` (KMeans, NearestCentroid): int16 centroids in
the input's shared Q format, exact integer distances, argmin in integers."""
from __future__ import annotations

import numpy as np

from edgekiln.quantize.fixed_point import accumulator_text, fits_int32, quantize_round

from ..lowering import CArray, Lowering, lowers
from .nearest_centroid import METRICS


def quantize_points(points: np.ndarray, fixed: dict, metric: str) -> dict:
    """int16 points in the shared input format; int32 distances when no int16 input can
    overflow them, else int64 (widened, and reported)."""
    frac = int(fixed["input_frac"][0])
    P = quantize_round(points, frac, 16)
    n = points.shape[1]
    diff = 32767 + np.abs(P).max(initial=0)  # |x - p| for any int16 x
    worst = float(n * (diff if metric == "manhattan" else diff * diff))
    wide = not fits_int32(worst)
    return {"P": P.astype(np.int16), "frac": frac, "wide": wide,
            "report": {"points": "int16", "frac": frac, "worst_accumulator": worst,
                       "accumulator": accumulator_text(wide),
                       # flooring the input (< 1 unit) plus rounding the point (<= 0.5 unit)
                       "coordinate_error_bound": 1.5 * 2.0 ** -frac}}


@lowers("nearest_centroid", dtype="fixed")
class NearestCentroidFixed(Lowering):
    template = "nearest_centroid_fixed.c.j2"
    kernels = ("ek_distance_q.c",)
    headers = ("ek_distance_q.h",)
    input_bits = 16
    shared_input_format = True

    def _q(self, node) -> dict:
        return quantize_points(node.consts["centroids"], self.options["fixed"], node.attrs["metric"])

    def context(self, node, graph, cid: str) -> dict:
        q = self._q(node)
        arr = CArray(f"{cid}_centroids_q", q["P"])
        return {"arrays": [arr], "centroids": arr, "n_centroids": int(q["P"].shape[0]),
                "n_features": int(q["P"].shape[1]), "metric": METRICS[node.attrs["metric"]],
                "report": {"op": "nearest_centroid", **q["report"]}}

    def config(self, node) -> dict[str, str]:
        return {"EK_FIXED_WIDE_ACC": "1"} if self._q(node)["wide"] else {}

    def scratch_bytes(self, node) -> int:
        return 8 * node.attrs["n_centroids"]
