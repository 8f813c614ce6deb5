"""The IR: a graph of typed nodes with constant tensors.

Frontends (scikit-learn today, ONNX later) produce a Graph; quantize may rewrite dtypes;
codegen lowers each node by its `op` name. The graph is saved as JSON next to the C
project so every stage leaves an inspectable artifact.
"""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IR_VERSION = 1
TASKS = ("classify", "regress", "cluster")


@dataclass
class ValueInfo:
    """An edge of the graph: a named float/int vector of a fixed length."""

    name: str
    length: int
    dtype: str = "float32"


@dataclass
class Node:
    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Graph:
    """A model: inputs -> nodes -> outputs, plus what the outputs mean.

    For classifiers the graph output `label` is a class index into `classes`; `scores`
    (when present) holds probabilities (`score_kind="proba"`) or decision values.
    """

    name: str
    task: str
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    nodes: list[Node]
    classes: list[Any] | None = None
    score_kind: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    intermediates: list[ValueInfo] = field(default_factory=list)  # buffers between nodes

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")

    @property
    def n_features(self) -> int:
        return self.inputs[0].length

    def value(self, name: str) -> ValueInfo:
        for v in self.all_values():
            if v.name == name:
                return v
        raise KeyError(name)

    def all_values(self) -> list[ValueInfo]:
        return list(self.inputs) + list(self.outputs) + list(self.intermediates)

    def ops(self) -> list[str]:
        return sorted({n.op for n in self.nodes})

    # --- serialisation -----------------------------------------------------------------
    def to_json(self) -> str:
        def arr(a: np.ndarray) -> str:
            buf = io.BytesIO()
            np.save(buf, np.asarray(a), allow_pickle=False)
            return base64.b64encode(buf.getvalue()).decode()

        doc = {
            "ir_version": IR_VERSION,
            "name": self.name,
            "task": self.task,
            "classes": _jsonable(self.classes),
            "score_kind": self.score_kind,
            "inputs": [vars(v) for v in self.inputs],
            "outputs": [vars(v) for v in self.outputs],
            "intermediates": [vars(v) for v in self.intermediates],
            "meta": _jsonable(self.meta),
            "nodes": [
                {
                    "op": n.op,
                    "name": n.name,
                    "inputs": n.inputs,
                    "outputs": n.outputs,
                    "attrs": _jsonable(n.attrs),
                    "consts": {k: arr(v) for k, v in n.consts.items()},
                }
                for n in self.nodes
            ],
        }
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Graph":
        doc = json.loads(text)
        if doc.get("ir_version") != IR_VERSION:
            raise ValueError(f"IR version {doc.get('ir_version')} is not {IR_VERSION}; re-export the model")

        def arr(s: str) -> np.ndarray:
            return np.load(io.BytesIO(base64.b64decode(s)), allow_pickle=False)

        return cls(
            name=doc["name"],
            task=doc["task"],
            inputs=[ValueInfo(**v) for v in doc["inputs"]],
            outputs=[ValueInfo(**v) for v in doc["outputs"]],
            nodes=[
                Node(n["op"], n["name"], n["inputs"], n["outputs"], n["attrs"],
                     {k: arr(v) for k, v in n["consts"].items()})
                for n in doc["nodes"]
            ],
            classes=doc["classes"],
            score_kind=doc["score_kind"],
            meta=dict(doc["meta"]),
            intermediates=[ValueInfo(**v) for v in doc["intermediates"]],
        )


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x
