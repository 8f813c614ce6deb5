"""Fixed-point lowering of `knn` (uniform weights): int16 training rows in the input's
shared Q format, exact integer distances, per-core top-k merged as in the float kernel."""
from __future__ import annotations

from edgekiln.errors import UnsupportedModelError

from ..lowering import CArray, Lowering, lowers
from .nearest_centroid import METRICS
from .nearest_centroid_fixed import quantize_points


@lowers("knn", dtype="fixed")
class KnnFixed(Lowering):
    template = "knn_fixed.c.j2"
    kernels = ("ek_distance_q.c",)
    headers = ("ek_distance_q.h",)
    input_bits = 16
    shared_input_format = True

    def _q(self, node) -> dict:
        if node.attrs["weights"] != "uniform":
            raise UnsupportedModelError("--dtype fixed covers kNN with weights='uniform' (1/distance weights need "
                                        "float division); use --dtype float32")
        return quantize_points(node.consts["points"], self.options["fixed"], node.attrs["metric"])

    def context(self, node, graph, cid: str) -> dict:
        q = self._q(node)
        a = node.attrs
        arrays = {k: CArray(f"{cid}_{k}", v) for k, v in node.consts.items() if k != "points"}
        arrays["points"] = CArray(f"{cid}_points_q", q["P"])
        return {"arrays": list(arrays.values()), "a": arrays, "metric": METRICS[a["metric"]],
                "n_points": int(q["P"].shape[0]), "n_features": int(q["P"].shape[1]), "k": a["k"],
                "n_classes": a["n_classes"], "mode": a["mode"], "report": {"op": "knn", **q["report"]}}

    def config(self, node) -> dict[str, str]:
        return {"EK_FIXED_WIDE_ACC": "1"} if self._q(node)["wide"] else {}

    def scratch_bytes(self, node) -> int:
        k = node.attrs["k"]  # ek_knn_q_scratch_bytes with 8-byte distances
        return 12 * k + 4 * node.attrs["n_classes"] + self.cores * (12 * k + 4) + 8
