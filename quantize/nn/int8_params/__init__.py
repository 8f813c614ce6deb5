"""TFLite's Prepare-time integers of int8 ops beyond requant.py's own: one module per op
family registers `@int8_params("op", ...)` with a function
`(graph, node, q_in, q_out) -> dict` (the node's `attrs["int8"]`); requant.node_params asks
this registry for ops it does not handle itself, so adding an op is a new file here."""
from __future__ import annotations

from typing import Callable

from edgekiln.registry import Registry

INT8_PARAMS: Registry[Callable] = Registry(__name__, __path__)
int8_params = INT8_PARAMS.register
