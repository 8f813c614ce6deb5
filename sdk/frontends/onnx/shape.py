"""Constant, Identity, Dropout, Reshape, Flatten, Squeeze, Unsqueeze, Transpose (a relabel of
the layout, no node), Concat and Pad (constant mode). Shape ops on constants are folded."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from . import attrs_of, onnx_op
from ._builder import OnnxBuilder
from ._load import tensor_to_array


@onnx_op("Constant")
def constant(node, b: OnnxBuilder) -> None:
    at = {a.name: a for a in node.attribute}
    if "value" not in at:
        raise UnsupportedModelError(f"node {b.node_name}: Constant without a tensor `value`")
    b.consts[node.output[0]] = tensor_to_array(at["value"].t, None, node.output[0])


@onnx_op("Identity", "Dropout")
def identity(node, b: OnnxBuilder) -> None:
    if b.is_const(node.input[0]):
        b.consts[node.output[0]] = b.consts[node.input[0]]
    else:
        b.acts[node.output[0]] = b.act(node.input[0])


def _reshaped(b: OnnxBuilder, node, shape_in: tuple[int, ...], target) -> tuple[int, ...]:
    allowzero = attrs_of(node).get("allowzero", 0)
    out = [int(d) for d in np.asarray(target).reshape(-1)]
    out = [shape_in[i] if d == 0 and not allowzero else d for i, d in enumerate(out)]
    if out.count(-1) > 1:
        raise UnsupportedModelError(f"node {b.node_name}: Reshape with more than one -1")
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = int(np.prod(shape_in)) // max(known, 1)
    if int(np.prod(out)) != int(np.prod(shape_in)):
        raise UnsupportedModelError(f"node {b.node_name}: cannot reshape {list(shape_in)} to {out}")
    return tuple(out)


def _to_shape(node, b: OnnxBuilder, shape: tuple[int, ...]) -> None:
    src = node.input[0]
    if b.is_const(src):
        b.consts[node.output[0]] = b.consts[src].reshape(shape)
        return
    b.emit("reshape", [b.plain(src)], {"shape": list(shape)}, node.output[0], shape)


def _axes(node, b: OnnxBuilder, rank: int) -> list[int] | None:
    at = attrs_of(node)
    axes = at.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in np.asarray(b.const(node.input[1], "axes")).reshape(-1)]
    return None if axes is None else [a % rank for a in axes]


def _shape(b: OnnxBuilder, name: str) -> tuple[int, ...]:
    return tuple(b.consts[name].shape) if b.is_const(name) else b.act(name).shape


@onnx_op("Reshape")
def reshape(node, b: OnnxBuilder) -> None:
    _to_shape(node, b, _reshaped(b, node, _shape(b, node.input[0]), b.const(node.input[1], "shape")))


@onnx_op("Flatten")
def flatten(node, b: OnnxBuilder) -> None:
    s = _shape(b, node.input[0])
    axis = attrs_of(node).get("axis", 1) % (len(s) + 1) if s else 0
    _to_shape(node, b, (int(np.prod(s[:axis])), int(np.prod(s[axis:]))))


@onnx_op("Squeeze")
def squeeze(node, b: OnnxBuilder) -> None:
    s = _shape(b, node.input[0])
    axes = _axes(node, b, len(s))
    axes = [i for i, d in enumerate(s) if d == 1] if axes is None else axes
    if any(s[a] != 1 for a in axes):
        raise UnsupportedModelError(f"node {b.node_name}: Squeeze of a dimension that is not 1")
    _to_shape(node, b, tuple(d for i, d in enumerate(s) if i not in axes))


@onnx_op("Unsqueeze")
def unsqueeze(node, b: OnnxBuilder) -> None:
    s = list(_shape(b, node.input[0]))
    axes = _axes(node, b, len(s) + len(attrs_of(node).get("axes", [])) + (
        np.asarray(b.consts[node.input[1]]).size if len(node.input) > 1 and b.is_const(node.input[1]) else 0))
    for a in sorted(axes):
        s.insert(a, 1)
    _to_shape(node, b, tuple(s))


@onnx_op("Transpose")
def transpose(node, b: OnnxBuilder) -> None:
    s = _shape(b, node.input[0])
    perm = list(attrs_of(node).get("perm", list(reversed(range(len(s))))))
    if b.is_const(node.input[0]):
        b.consts[node.output[0]] = np.transpose(b.consts[node.input[0]], perm)
        return
    a = b.act(node.input[0])
    inv = list(np.argsort(perm))
    b.declare(node.output[0], tuple(s[p] for p in perm), tuple(int(inv[q]) for q in a.perm), a.ir)


@onnx_op("Concat")
def concat(node, b: OnnxBuilder) -> None:
    names = [n for n in node.input if n]
    if all(b.is_const(n) for n in names):
        b.consts[node.output[0]] = np.concatenate([b.consts[n] for n in names], axis=attrs_of(node)["axis"])
        return
    acts = [b.act(n) for n in names if not b.is_const(n)]
    rank = len(acts[0].shape)
    axis = attrs_of(node)["axis"] % rank
    perm = acts[0].perm if all(a.perm == acts[0].perm for a in acts) else tuple(range(rank))
    inputs, shapes = [], []
    for n in names:
        if b.is_const(n):
            c = b.consts[n].astype(np.float32)
            inputs.append(b.ir_const(np.ascontiguousarray(np.transpose(c, perm)), f"{b.node_name}_c"))
            shapes.append(c.shape)
        else:
            inputs.append(b.act(n).ir if perm != tuple(range(rank)) else b.plain(n))
            shapes.append(b.act(n).shape)
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    b.emit("concat", inputs, {"axis": perm.index(axis)}, node.output[0], shape, perm)


@onnx_op("Pad")
def pad(node, b: OnnxBuilder) -> None:
    at = attrs_of(node)
    mode = at.get("mode", b"constant")
    if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
        raise UnsupportedModelError(f"node {b.node_name}: Pad mode {mode!r} (constant only)")
    a = b.act(node.input[0])
    r = len(a.shape)
    pads = at.get("pads")
    if pads is None:
        pads = [int(v) for v in np.asarray(b.const(node.input[1], "pads")).reshape(-1)]
    if len(node.input) > 3 and node.input[3]:
        raise UnsupportedModelError(f"node {b.node_name}: Pad with axes is not supported")
    value = float(at.get("value", 0.0))
    if len(node.input) > 2 and node.input[2]:
        value = float(np.asarray(b.const(node.input[2], "constant_value")).reshape(-1)[0])
    if any(p < 0 for p in pads):
        raise UnsupportedModelError(f"node {b.node_name}: negative pads (cropping) are not supported")
    phys = [pads[p] for p in a.perm] + [pads[r + p] for p in a.perm]
    shape = tuple(d + pads[i] + pads[r + i] for i, d in enumerate(a.shape))
    b.emit("pad", [a.ir], {"pads": phys, "value": value}, node.output[0], shape, a.perm)


@onnx_op("Softmax")
def softmax(node, b: OnnxBuilder) -> None:
    a = b.act(node.input[0])
    r = len(a.shape)
    axis = attrs_of(node).get("axis", 1 if b.opset < 13 else -1) % r
    if b.opset >= 13 or axis == r - 1:
        b.emit("softmax", [a.ir], {"axis": a.perm.index(axis)}, node.output[0], a.shape, a.perm)
        return
    # opset < 13: softmax over the flattened trailing block [axis:]
    flat = (int(np.prod(a.shape[:axis])), int(np.prod(a.shape[axis:])))
    mid = b.emit("reshape", [b.plain(node.input[0])], {"shape": list(flat)}, node.output[0] + "__2d", flat)
    sm = b.emit("softmax", [mid.ir], {"axis": 1}, node.output[0] + "__sm", flat)
    b.emit("reshape", [sm.ir], {"shape": list(a.shape)}, node.output[0], a.shape)
