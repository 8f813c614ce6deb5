"""Fixed-point lowering of `knn` (uniform weights): the int16 training rows
quantize/fixed_ops/knn.py wrote into the IR, exact integer distances, per-core top-k
merged as in the float kernel."""
from __future__ import annotations

from ..lowering import CArray, Lowering, fixed_attrs, lowers
from .nearest_centroid import METRICS


@lowers("knn", dtype="fixed")
class KnnFixed(Lowering):
    template = "knn_fixed.c.j2"
    kernels = ("ek_distance_s16.c",)
    headers = ("ek_distance_s16.h",)

    def context(self, node, graph, cid: str) -> dict:
        f = fixed_attrs(node)
        a = node.attrs
        P = node.consts["points_q"]
        arrays = {k: CArray(f"{cid}_{k}", v) for k, v in node.consts.items()
                  if k not in ("points", "points_q") and not k.startswith("kd_")}  # kd_*: the float kd-tree search
        arrays["points"] = CArray(f"{cid}_points_q", P)
        return {"arrays": list(arrays.values()), "a": arrays, "metric": METRICS[a["metric"]],
                "n_points": int(P.shape[0]), "n_features": int(P.shape[1]), "k": a["k"],
                "n_classes": a["n_classes"], "mode": a["mode"], "acc_bits": f["acc_bits"], "report": f["report"]}

    def scratch_bytes(self, node) -> int:
        k = node.attrs["k"]  # ek_knn_s16_scratch_bytes with 8-byte distances
        return 12 * k + 4 * node.attrs["n_classes"] + self.cores * (12 * k + 4) + 8
