"""A fingerprint of what a model computes, so `kiln run --reference` can tell whether the
reference file is the model that was exported (a different model would 'agree' 100% with
itself, not with the device)."""
from __future__ import annotations

import hashlib
import json

import numpy as np

from .ir import Graph


def graph_fingerprint(graph: Graph) -> str:
    """sha256 over the ops, attributes, constants and outputs of the graph, not its name."""
    h = hashlib.sha256()
    h.update(json.dumps({"task": graph.task, "n_features": graph.n_features, "classes": graph.classes,
                         "score_kind": graph.score_kind}, sort_keys=True, default=str).encode())
    for node in graph.nodes:
        h.update(json.dumps({"op": node.op, "attrs": node.attrs}, sort_keys=True, default=str).encode())
        for key in sorted(node.consts):
            arr = np.ascontiguousarray(node.consts[key])
            h.update(key.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
    return h.hexdigest()
