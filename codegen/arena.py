"""The activation arena of a network, planned ahead of time.

Every tensor between nodes (graph inputs and outputs included, as TensorFlow Lite Micro
keeps them in its arena) and every kernel's scratch is a buffer with a lifetime over the
node order: a tensor lives from the node that writes it (graph inputs: from the start) to
the last node that reads it (graph outputs: to the end); a node's scratch lives at that
node only. A reshape is an alias: its output is its input's bytes, so both names share one
buffer whose lifetime is the union.

Offsets are TFLite Micro's GreedyMemoryPlanner rule, run at export time: buffers sorted by
size, largest first (ties: the earlier first use), each placed at the lowest aligned offset
where it overlaps no placed buffer that is live at the same time. The arena's size is the
highest end. The result is data (`ArenaPlan`), printed by `kiln check` and rendered into
model.c by export, so both show the same numbers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ALIGN = 16  # bytes; TFLite Micro aligns arena buffers to 16 too


@dataclass
class Buffer:
    name: str            # tensor name, or "<node>:scratch"
    size: int            # bytes
    first: int           # first node index that needs it
    last: int            # last node index that needs it
    kind: str = "tensor"  # "tensor" or "scratch"
    aliases: list[str] = field(default_factory=list)  # reshape outputs sharing these bytes
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class ArenaPlan:
    size: int
    buffers: list[Buffer]

    def offset_of(self, tensor: str) -> int:
        for b in self.buffers:
            if b.kind == "tensor" and (b.name == tensor or tensor in b.aliases):
                return b.offset
        raise KeyError(tensor)

    def scratch_of(self, node_index: int) -> Buffer | None:
        return next((b for b in self.buffers if b.kind == "scratch" and b.first == node_index), None)

    def peak_at(self) -> tuple[int, int]:
        """(node index, bytes of buffers live there): the busiest node."""
        last = max((b.last for b in self.buffers), default=0)
        best = (0, 0)
        for i in range(last + 1):
            live = sum(b.size for b in self.buffers if b.first <= i <= b.last)
            if live > best[1]:
                best = (i, live)
        return best

    def to_doc(self) -> dict:
        return {"size": self.size, "align": ALIGN, "buffers": [asdict(b) for b in self.buffers]}


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def lifetimes(order: list[tuple[list[str], list[str], bool]], sizes: dict[str, int], graph_inputs: list[str],
              graph_outputs: list[str]) -> list[Buffer]:
    """Tensor buffers from the node order: (inputs, outputs, is_alias) per node; inputs that
    are not in `sizes` (constants) are ignored. An alias node's output joins its input's buffer."""
    end = max(len(order) - 1, 0)
    owner: dict[str, Buffer] = {}
    buffers: list[Buffer] = []
    for name in graph_inputs:
        owner[name] = Buffer(name, sizes[name], 0, 0)
        buffers.append(owner[name])
    for i, (ins, outs, alias) in enumerate(order):
        for name in ins:
            if name in owner:
                owner[name].last = max(owner[name].last, i)
        for name in outs:
            if alias and ins and ins[0] in owner:
                b = owner[ins[0]]
                b.aliases.append(name)
                owner[name] = b
            else:
                owner[name] = Buffer(name, sizes[name], i, i)
                buffers.append(owner[name])
    for name in graph_outputs:
        owner[name].last = end
    return buffers


def greedy(buffers: list[Buffer]) -> ArenaPlan:
    """Place buffers largest first at the lowest offset free over their lifetime."""
    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.name)):
        clashes = sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset)
        offset = 0
        for p in clashes:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size))
        b.offset = offset
        placed.append(b)
    size = max((_align(b.offset + b.size) for b in buffers if b.size), default=0)
    return ArenaPlan(size, sorted(buffers, key=lambda b: (b.first, b.kind, b.name)))


def plan_arena(order: list[tuple[list[str], list[str], bool]], sizes: dict[str, int], graph_inputs: list[str],
               graph_outputs: list[str], scratch: dict[int, int]) -> ArenaPlan:
    """The arena for a node order, tensor sizes and per-node scratch bytes."""
    buffers = lifetimes(order, sizes, graph_inputs, graph_outputs)
    for i, nbytes in sorted(scratch.items()):
        if nbytes > 0:
            buffers.append(Buffer(f"n{i}:scratch", int(nbytes), i, i, kind="scratch"))
    return greedy(buffers)


def check_disjoint(plan: ArenaPlan) -> None:
    """No two buffers live at the same time share a byte (an invariant the tests also check)."""
    bs = [b for b in plan.buffers if b.size]
    for i, a in enumerate(bs):
        for b in bs[i + 1:]:
            if a.overlaps_in_time(b) and a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                raise AssertionError(f"arena buffers {a.name} and {b.name} overlap")
        if a.offset + a.size > plan.size:
            raise AssertionError(f"buffer {a.name} ends beyond the arena")
