"""scikit-learn MLPs through the int8 network kernels (`dtype: int8`, opt-in, lossy).

The classic frontend's float graph of the model (scalers and PCA as `affine`/`dense` nodes,
each hidden layer a `dense` node and an `activation`, the output layer a `linear` node) is
rewritten as a float network graph: every run of affine maps between two activations is
composed in float64 into one `fully_connected` layer, activations become the network ops
(relu, tanh, sigmoid), and the output layer writes the logits. sdk/mlp_int8.py (shell:
it drives the quantize stage) calibrates it on the user's data and fixes the integers, so
the MLP runs the same `ek_fc_s8` kernels (and golden model) as any network.

What the logits mean is kept in `meta["sklearn_mlp"]`: class labels (argmax of the logits;
a binary classifier's single logit z is written as two rows -z/2, +z/2 so the argmax is
class 1 exactly when z > 0, scikit-learn's rule), or the regression value.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import Constant, Graph, Node, ValueInfo

# scikit-learn's activation name -> the network op (None: no node)
ACTIVATION_OPS = {"identity": None, "relu": "relu", "tanh": "tanh", "logistic": "sigmoid"}


def mlp_estimator(model: Any):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline

    est = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not isinstance(est, (MLPClassifier, MLPRegressor)):
        raise UnsupportedModelError(f"dtype int8 runs scikit-learn MLPClassifier/MLPRegressor (alone or at the end of a "
                                    f"Pipeline) through the network kernels; {type(est).__name__} has no int8 path. "
                                    "Use dtype float32, or dtype fixed for the classic estimators that support it")
    return est


def _affine(node: Node) -> tuple[np.ndarray, np.ndarray]:
    """A classic affine/dense/linear node as (W [out, in], b [out]) in float64."""
    c = node.consts
    if node.op == "affine":
        return np.diag(np.asarray(c["scale"], np.float64)), np.asarray(c["shift"], np.float64)
    return np.asarray(c["weight"], np.float64), np.asarray(c["bias"], np.float64).reshape(-1)


def mlp_network(model: Any, name: str = "model") -> Graph:
    """The float network graph of a scikit-learn MLP (or a Pipeline of scalers/PCA ending in one)."""
    from . import from_sklearn

    est = mlp_estimator(model)
    classic = from_sklearn(model, name=name)
    n_in = classic.n_features
    nodes, constants, inter = [], {}, []
    w, b = np.eye(n_in), np.zeros(n_in)
    current = "x"

    def emit_fc(out_name: str, weight: np.ndarray, bias: np.ndarray) -> None:
        i = len(nodes)
        constants[f"fc{i}_w"] = Constant(f"fc{i}_w", weight.astype(np.float32))
        constants[f"fc{i}_b"] = Constant(f"fc{i}_b", bias.astype(np.float32))
        nodes.append(Node("fully_connected", f"fc{i}", [current, f"fc{i}_w", f"fc{i}_b"], [out_name],
                          {"keep_num_dims": True}))

    for node in classic.nodes:
        if node.op in ("affine", "dense", "linear"):
            nw, nb = _affine(node)
            w, b = nw @ w, nw @ b + nb  # compose: no nonlinearity between them
            continue
        if node.op != "activation":
            raise UnsupportedModelError(f"step {node.op!r} in front of the MLP has no int8 network form; "
                                        "only scalers (StandardScaler, MinMaxScaler) and PCA fold into its first layer")
        h = f"h{len(inter)}"
        inter.append(ValueInfo.tensor(h, (1, w.shape[0])))
        emit_fc(h, w, b)
        current = h
        a = f"a{len(inter)}"
        inter.append(ValueInfo.tensor(a, (1, w.shape[0])))
        nodes.append(Node(ACTIVATION_OPS[node.attrs["fn"]], f"act{len(nodes)}", [h], [a]))
        current, w, b = a, np.eye(w.shape[0]), np.zeros(w.shape[0])
    head: dict[str, Any] = {"estimator": type(est).__name__, "activation": est.activation,
                            "float32_constants_bytes": int(sum(4 * n.consts[k].size for n in classic.nodes
                                                               for k in n.consts if k in ("weight", "bias", "scale", "shift")))}
    if classic.task == "classify":
        head.update(task="classify", classes=list(classic.classes))
        if w.shape[0] == 1:  # binary: class 1 exactly when the logit is > 0
            w, b = np.vstack([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
    else:
        head.update(task="regress")
    emit_fc("y", w, b)
    return Graph(name, "network", [ValueInfo.tensor("x", (1, n_in))], [ValueInfo.tensor("y", (1, w.shape[0]))], nodes,
                 meta={"source": "sklearn-mlp", "sklearn_mlp": head}, intermediates=inter, constants=constants)


def head_predictions(graph: Graph, outputs: np.ndarray) -> np.ndarray:
    """Device outputs (dequantized logits) -> scikit-learn's predict: labels or values."""
    head = graph.meta["sklearn_mlp"]
    flat = np.asarray(outputs).reshape(len(outputs), -1)
    if head["task"] == "classify":
        return np.asarray(head["classes"])[flat.argmax(axis=1)]
    return flat[:, 0].astype(np.float64)


def agreement(graph: Graph, outputs: np.ndarray, model: Any, X: np.ndarray) -> dict:
    """The run report's comparison with scikit-learn (the int8 MLP is lossy)."""
    head = graph.meta["sklearn_mlp"]
    got = head_predictions(graph, outputs)
    ref = np.asarray(model.predict(np.asarray(X, np.float32)))
    if head["task"] == "classify":
        same = got == ref
        return {"kind": "sklearn", "top1_agreement": float(same.mean()), "n_samples": int(len(X)),
                "differing_samples": np.flatnonzero(~same).tolist()[:50]}
    err = np.abs(got - ref.astype(np.float64))
    span = float(np.ptp(ref)) or 1.0
    return {"kind": "sklearn", "max_abs_error": float(err.max()), "mean_abs_error": float(err.mean()),
            "max_error_of_range": float(err.max() / span), "n_samples": int(len(X))}
