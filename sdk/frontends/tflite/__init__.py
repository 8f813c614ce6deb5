"""TFLite frontend: a full-integer int8 .tflite flatbuffer -> IR (version 2).

Each op family lives in its own module and registers with `@tflite_op("NAME")`; modules
here are found by file. Unsupported ops are listed (with operator indices) in one error
before anything is converted. The IR keeps TFLite's layout (NHWC activations, OHWI conv
weights); depthwise weights [1, KH, KW, C*M] become [C*M, KH, KW, 1] with group = C."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ...errors import UnsupportedModelError
from ...fingerprint import graph_fingerprint
from ...registry import Registry
from ...ir import Constant, Graph, Node, QuantParams, ValueInfo
from ._reader import Operator, Tensor, TfliteModel, read

Converter = Callable[[Operator, "TfliteBuilder"], None]
_CONVERTERS: Registry[Converter] = Registry(__name__, __path__)
tflite_op = _CONVERTERS.register  # @tflite_op("Op", ...) in a module of this folder
ACTIVATIONS = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6"}
DTYPE_NAMES = {np.dtype(np.int8): "int8", np.dtype(np.int32): "int32", np.dtype(np.float32): "float32",
               np.dtype(np.int16): "int16", np.dtype(np.uint8): "uint8", np.dtype(np.int64): "int64"}




def supported_ops() -> list[str]:
    return _CONVERTERS.names()


def unsupported(model: TfliteModel) -> list[str]:
    """'OP (operator i)' for every operator edgekiln cannot convert."""
    return [f"{o.op} (operator {o.index})" for o in model.operators if o.op not in _CONVERTERS]


def fused_activation(code: int, op: Operator) -> str:
    if code not in ACTIVATIONS:
        raise UnsupportedModelError(f"operator {op.index} ({op.op}): fused activation {code} is not supported")
    return ACTIVATIONS[code]


class TfliteBuilder:
    """Maps TFLite tensors to IR values/constants while converters append nodes."""

    def __init__(self, model: TfliteModel, name: str):
        self.model, self.name = model, name
        self.nodes: list[Node] = []
        self.constants: dict[str, Constant] = {}
        self.values: dict[int, ValueInfo] = {}
        self.names: dict[int, str] = {}
        used: set[str] = set()
        for t in model.tensors:
            n = t.name if t.name.isidentifier() and t.name not in used else f"t{t.index}"
            used.add(n)
            self.names[t.index] = n

    def tensor(self, index: int) -> Tensor:
        return self.model.tensors[index]

    def quant(self, t: Tensor, axis: int | None = None) -> QuantParams | None:
        if t.scale is None:
            return None
        per_channel = len(t.scale) > 1
        return QuantParams(t.scale, t.zero_point, (t.axis if axis is None else axis) if per_channel else None)

    def value(self, index: int) -> str:
        """The IR name of activation tensor `index` (declared on first use)."""
        t = self.tensor(index)
        if t.data is not None:
            return self.constant(index)
        if index not in self.values:
            if t.dtype not in (np.dtype(np.int8),):
                raise UnsupportedModelError(
                    f"{self.model.path}: tensor {t.name!r} is {t.dtype}; edgekiln reads full-integer int8 models "
                    "(convert with full integer quantization, or use the float ONNX path)")
            self.values[index] = ValueInfo.tensor(self.names[index], t.shape, "int8", self.quant(t))
        return self.values[index].name

    def constant(self, index: int, data: np.ndarray | None = None, axis: int | None = None) -> str:
        t = self.tensor(index)
        name = self.names[index]
        if t.data is None:
            raise UnsupportedModelError(f"{self.model.path}: tensor {t.name!r} must be a constant here")
        self.constants[name] = Constant(name, np.array(t.data if data is None else data),
                                        self.quant(t, axis))
        return name

    def add(self, op: str, src: Operator, inputs: list[str], attrs: dict) -> None:
        out = self.value(src.outputs[0])
        self.nodes.append(Node(op, f"{src.op.lower()}_{src.index}", inputs, [out], attrs))

    def graph(self) -> Graph:
        ins = [self.values[i] for i in self.model.inputs]
        outs = [self.values[i] for i in self.model.outputs]
        io = {v.name for v in ins + outs}
        g = Graph(name=self.name, task="network", inputs=ins, outputs=outs, nodes=self.nodes,
                  intermediates=[v for v in self.values.values() if v.name not in io], constants=self.constants)
        g.meta.update(source="tflite", tensor_index={self.names[i]: i for i in self.values})
        return g


def from_tflite(path: str | Path, name: str = "model") -> Graph:
    """Read an int8 .tflite file into an IR graph."""
    model = read(path)
    missing = unsupported(model)
    if missing:
        raise UnsupportedModelError(f"{path}: unsupported TFLite ops: {', '.join(missing)}. "
                                    f"Supported: {', '.join(supported_ops())}")
    b = TfliteBuilder(model, name)
    for i in model.inputs:
        b.value(i)
    for op in model.operators:
        _CONVERTERS.get(op.op)(op, b)
    g = b.graph()
    g.meta["fingerprint"] = graph_fingerprint(g)
    return g
