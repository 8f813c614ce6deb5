"""Lowering of `activation` (elementwise relu / tanh / logistic between MLP layers)."""
from __future__ import annotations

from edgekiln.errors import UnsupportedModelError

from ..lowering import Lowering, lowers

FUNCTIONS = {"relu": "EK_ACT_RELU", "tanh": "EK_ACT_TANH", "logistic": "EK_ACT_LOGISTIC"}


@lowers("activation")
class Activation(Lowering):
    template = "activation.c.j2"
    kernels = ("ek_mlp_activation_f32.c",)
    headers = ("ek_mlp.h",)

    def context(self, node, graph, cid: str) -> dict:
        fn = node.attrs["fn"]
        if fn not in FUNCTIONS:
            raise UnsupportedModelError(f"activation {fn!r} has no kernel; known: {', '.join(FUNCTIONS)}")
        return {"arrays": [], "fn": FUNCTIONS[fn], "n": graph.value(node.outputs[0]).length,
                "output": node.outputs[0]}
