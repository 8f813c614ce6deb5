"""scikit-learn MLPs as int8 networks: the frontend's float network graph, calibrated and quantized.

Shell, not a frontend: it drives the quantize stage and asks codegen which activation
kernels exist, which a frontend may not import (docs/architecture.md, "Layers").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .codegen.lowering import find_lowering
from .errors import InputError, UnsupportedModelError
from .frontends.sklearn.mlp_network import ACTIVATION_OPS, mlp_estimator, mlp_network
from .ir import Graph
from .quantize.nn.quantizer import QuantConfig, quantize_graph
from .quantize.nn.requant import prepare_int8


def check_activation_kernels(activation: str) -> None:
    """Refuse an activation with no int8 kernel registered (tanh/logistic need their LUT kernels)."""
    op = ACTIVATION_OPS.get(activation)
    if op is None or op == "relu":  # identity adds nothing; relu is fused into the fully connected kernel
        return
    if find_lowering(op, "s8") is None:
        raise UnsupportedModelError(
            f"MLP activation {activation!r} has no int8 kernel in this release (the network op {op!r} needs its "
            "lookup-table kernel); export this MLP with dtype float32, or refit it with activation='relu'")


def int8_mlp(model: Any, name: str, calibration: Any, config=None) -> Graph:
    """Calibrate and quantize the MLP's network graph: the int8 IR, ready for codegen."""
    if calibration is None:
        raise InputError("dtype int8 chooses the activation scales from data: pass the training data "
                         "(calibration=X_train, or --calib X_train.npy)")
    check_activation_kernels(mlp_estimator(model).activation)
    graph = mlp_network(model, name)
    x = np.asarray(calibration, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != graph.inputs[0].dims[1]:
        raise InputError(f"calibration data has shape {x.shape}; this MLP takes (n_samples, {graph.inputs[0].dims[1]})")
    q = quantize_graph(graph, x.reshape(len(x), 1, -1), config or QuantConfig())
    q.graph.meta["sklearn_mlp"]["calibration_samples"] = int(len(x))
    return prepare_int8(q.graph)
