"""The IR: a graph of typed nodes with constant tensors.

Frontends (scikit-learn, ONNX, TFLite) produce a Graph; quantize may rewrite dtypes;
codegen lowers each node by its `op` name. The graph is saved as JSON next to the C
project so every stage leaves an inspectable artifact.

Version 2 (neural networks) adds, without changing version-1 graphs or their JSON:
- `ValueInfo.shape` (an N-d shape; None means the classic vector `(length,)`) and
  `ValueInfo.quant` (`QuantParams`: scale and zero point per tensor, or per channel along
  `axis`), and the dtypes of `DTYPE_BYTES` (float32, int8, int32 ...);
- `Graph.constants`: named constant tensors (`Constant`: data + optional quantization)
  that network nodes name among their `inputs`, as ONNX initializers and TFLite buffers;
- task `"network"`: the outputs are tensors, not a label/score contract.
Network layout: activations are channel-last (NHWC, NLC for 1-D); ops and attributes are
listed in docs/networks.md. A graph that uses none of this is written as version 1,
byte for byte as before; `from_json` reads both.
"""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IR_VERSION = 2
READS_VERSIONS = (1, 2)
TASKS = ("classify", "regress", "cluster", "network")
DTYPE_BYTES = {"float32": 4, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "int64": 8}


@dataclass
class QuantParams:
    """real = scale * (q - zero_point); per tensor (one scale, axis None) or per channel."""

    scale: list[float]
    zero_point: list[int]
    axis: int | None = None

    def __post_init__(self) -> None:
        self.scale = [float(np.float32(s)) for s in np.ravel(self.scale)]
        self.zero_point = [int(z) for z in np.ravel(self.zero_point)]
        if len(self.scale) != len(self.zero_point) or not self.scale:
            raise ValueError(f"quantization needs as many zero points as scales ({len(self.scale)} vs {len(self.zero_point)})")
        if self.axis is None and len(self.scale) != 1:
            raise ValueError("per-channel quantization needs an axis")

    @property
    def per_channel(self) -> bool:
        return self.axis is not None


@dataclass
class ValueInfo:
    """An edge of the graph: a named tensor; classic graphs use a vector of `length`."""

    name: str
    length: int
    dtype: str = "float32"
    shape: tuple[int, ...] | None = None
    quant: QuantParams | None = None

    def __post_init__(self) -> None:
        if self.shape is not None:
            self.shape = tuple(int(d) for d in self.shape)
            if int(np.prod(self.shape, dtype=np.int64)) != self.length:
                raise ValueError(f"{self.name}: shape {self.shape} does not hold {self.length} elements")

    @classmethod
    def tensor(cls, name: str, shape, dtype: str = "float32", quant: QuantParams | None = None) -> "ValueInfo":
        shape = tuple(int(d) for d in shape)
        return cls(name, int(np.prod(shape, dtype=np.int64)), dtype, shape, quant)

    @property
    def dims(self) -> tuple[int, ...]:
        return self.shape if self.shape is not None else (self.length,)

    @property
    def nbytes(self) -> int:
        return self.length * DTYPE_BYTES[self.dtype]

    def to_doc(self) -> dict:
        doc = {"name": self.name, "length": self.length, "dtype": self.dtype}
        if self.shape is not None:
            doc["shape"] = list(self.shape)
        if self.quant is not None:
            doc["quant"] = vars(self.quant)
        return doc

    @classmethod
    def from_doc(cls, doc: dict) -> "ValueInfo":
        q = doc.get("quant")
        return cls(doc["name"], doc["length"], doc.get("dtype", "float32"), doc.get("shape"),
                   QuantParams(**q) if q else None)


@dataclass
class Constant:
    """A named constant tensor (weights, biases, shapes) with its quantization if any."""

    name: str
    data: np.ndarray
    quant: QuantParams | None = None


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
    constants: dict[str, Constant] = field(default_factory=dict)  # named constants (networks)

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

    def is_network(self) -> bool:
        return (self.task == "network" or bool(self.constants)
                or any(v.shape is not None or v.quant is not None for v in self.all_values()))

    # --- serialisation -----------------------------------------------------------------
    def to_json(self) -> str:
        def arr(a: np.ndarray) -> str:
            buf = io.BytesIO()
            np.save(buf, np.asarray(a), allow_pickle=False)
            return base64.b64encode(buf.getvalue()).decode()

        network = self.is_network()
        doc = {
            "ir_version": IR_VERSION if network else 1,
            "name": self.name,
            "task": self.task,
            "classes": _jsonable(self.classes),
            "score_kind": self.score_kind,
            "inputs": [v.to_doc() for v in self.inputs],
            "outputs": [v.to_doc() for v in self.outputs],
            "intermediates": [v.to_doc() for v in self.intermediates],
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
        if network:
            doc["constants"] = {c.name: {"data": arr(c.data), "quant": vars(c.quant) if c.quant else None}
                                for c in self.constants.values()}
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Graph":
        doc = json.loads(text)
        if doc.get("ir_version") not in READS_VERSIONS:
            raise ValueError(f"IR version {doc.get('ir_version')} is not one of {READS_VERSIONS}; re-export the model")

        def arr(s: str) -> np.ndarray:
            return np.load(io.BytesIO(base64.b64decode(s)), allow_pickle=False)

        return cls(
            name=doc["name"],
            task=doc["task"],
            inputs=[ValueInfo.from_doc(v) for v in doc["inputs"]],
            outputs=[ValueInfo.from_doc(v) for v in doc["outputs"]],
            nodes=[
                Node(n["op"], n["name"], n["inputs"], n["outputs"], n["attrs"],
                     {k: arr(v) for k, v in n["consts"].items()})
                for n in doc["nodes"]
            ],
            classes=doc["classes"],
            score_kind=doc["score_kind"],
            meta=dict(doc["meta"]),
            intermediates=[ValueInfo.from_doc(v) for v in doc["intermediates"]],
            constants={k: Constant(k, arr(c["data"]), QuantParams(**c["quant"]) if c["quant"] else None)
                       for k, c in doc.get("constants", {}).items()},
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


# Packed int4 storage (the *_s4 kernels' layout, runtime_c/include/ek_nn.h): the IR keeps
# int4 weights unpacked (int8 arrays in [-8, 7], `weight_bits: 4` on the node); these are the
# one definition of the bytes, for quantize (golden models, QDQ files) and codegen alike.
def pack_int4(values: np.ndarray) -> np.ndarray:
    """Two weights per byte in C order, the even-indexed one in the low nibble (two's
    complement, sign-extended when read); an odd count ends with a half-used byte."""
    v = np.asarray(values).ravel().astype(np.int64)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError(f"int4 values must lie in [-8, 7], got [{v.min()}, {v.max()}]")
    nib = (v & 0xF).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """The int8 values of `count` packed int4 weights (inverse of pack_int4)."""
    p = np.asarray(packed, np.uint8)
    nib = np.empty(p.size * 2, np.int16)
    nib[0::2], nib[1::2] = p & 0xF, p >> 4
    return np.where(nib >= 8, nib - 16, nib)[:count].astype(np.int8)
