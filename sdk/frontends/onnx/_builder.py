"""OnnxBuilder: ONNX tensors -> IR values while op converters append nodes.

ONNX is channel-first (NCHW); the IR is channel-last. Each activation keeps its logical
(ONNX) shape and a `perm`: physical = transpose(logical, perm). Convolutions and pools
produce channel-last tensors; elementwise ops keep whatever layout they get (constants are
permuted to match); Transpose only relabels `perm` (no node); ops that depend on the
logical element order (Reshape, Flatten, MatMul, graph outputs) materialise it first, as a
`reshape` when the move is a no-op in memory, else a `transpose` node."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import Constant, Node, ValueInfo


@dataclass
class Act:
    ir: str                  # IR value name holding the physical tensor
    shape: tuple[int, ...]   # logical (ONNX) shape
    perm: tuple[int, ...]    # physical = transpose(logical, perm)

    @property
    def physical(self) -> tuple[int, ...]:
        return tuple(self.shape[p] for p in self.perm)


def channel_last(rank: int) -> tuple[int, ...]:
    return (0, *range(2, rank), 1)


def identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def memory_noop(shape: tuple[int, ...], perm: tuple[int, ...]) -> bool:
    """Transposing `shape` by `perm` keeps the bytes in place (only size-1 dims move)."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


class OnnxBuilder:
    def __init__(self, opset: int, consumers: dict[str, int]):
        self.opset = opset
        self.consumers = consumers
        self.acts: dict[str, Act] = {}
        self.consts: dict[str, np.ndarray] = {}
        self.nodes: list[Node] = []
        self.constants: dict[str, Constant] = {}
        self.values: dict[str, ValueInfo] = {}
        self._used: set[str] = set()
        self.sources: dict[str, str] = {}  # IR constant -> the ONNX initializer it was made from
        self.node_name = ""

    # --- names, constants ------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        base = re.sub(r"\W", "_", hint) or "t"
        if not (base[0].isalpha() or base[0] == "_"):
            base = "t_" + base
        name, i = base, 1
        while name in self._used:
            name, i = f"{base}_{i}", i + 1
        self._used.add(name)
        return name

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def const(self, name: str, what: str = "input") -> np.ndarray:
        if name not in self.consts:
            raise UnsupportedModelError(f"node {self.node_name}: {what} {name!r} must be a constant (initializer)")
        return self.consts[name]

    def ir_const(self, array: np.ndarray, hint: str, source: str | None = None) -> str:
        name = self.fresh(hint)
        if source:
            self.sources[name] = source
        self.constants[name] = Constant(name, np.ascontiguousarray(array))
        return name

    # --- activations -----------------------------------------------------------------
    def act(self, name: str) -> Act:
        if name not in self.acts:
            if name in self.consts:
                raise UnsupportedModelError(f"node {self.node_name}: constant {name!r} where an activation is expected")
            raise UnsupportedModelError(f"node {self.node_name}: input {name!r} is not produced by any node")
        return self.acts[name]

    def declare(self, onnx_name: str, shape, perm, ir_name: str | None = None) -> Act:
        shape = tuple(int(d) for d in shape)
        a = Act(ir_name or self.fresh(onnx_name), shape, tuple(perm))
        if a.ir not in self.values:
            self.values[a.ir] = ValueInfo.tensor(a.ir, a.physical)
        self.acts[onnx_name] = a
        return a

    def emit(self, op: str, inputs: list[str], attrs: dict, out: str, shape, perm=None) -> Act:
        """Append an IR node writing ONNX tensor `out` (logical `shape`, layout `perm`)."""
        perm = identity(len(shape)) if perm is None else perm
        a = self.declare(out, shape, perm)
        self.nodes.append(Node(op, self.fresh(f"{self.node_name or op}"), inputs, [a.ir], attrs))
        return a

    def _relayout(self, a: Act, perm: tuple[int, ...], tag: str) -> str:
        """IR name of `a` stored with layout `perm` (a node when the bytes move)."""
        if a.perm == perm:
            return a.ir
        # physical_new = transpose(physical_old, t) with t[i] = a.perm.index(perm[i])
        t = [a.perm.index(p) for p in perm]
        new = Act(self.fresh(f"{a.ir}_{tag}"), a.shape, perm)
        self.values[new.ir] = ValueInfo.tensor(new.ir, new.physical)
        if memory_noop(a.physical, tuple(t)):
            node = Node("reshape", self.fresh(f"{new.ir}_node"), [a.ir], [new.ir], {"shape": list(new.physical)})
        else:
            node = Node("transpose", self.fresh(f"{new.ir}_node"), [a.ir], [new.ir], {"perm": t})
        self.nodes.append(node)
        return new.ir

    def plain(self, name: str) -> str:
        a = self.act(name)
        return self._relayout(a, identity(len(a.shape)), "nc")

    def channel_last(self, name: str) -> str:
        a = self.act(name)
        if len(a.shape) not in (3, 4):
            raise UnsupportedModelError(f"node {self.node_name}: needs a 3-D or 4-D input, {name!r} is {list(a.shape)}")
        return self._relayout(a, channel_last(len(a.shape)), "nhwc")

    def last_node_writing(self, ir: str) -> Node | None:
        """The node that wrote IR value `ir`, if it is the last one and nobody else reads it."""
        if self.nodes and self.nodes[-1].outputs == [ir]:
            return self.nodes[-1]
        return None
