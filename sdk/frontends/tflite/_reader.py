"""Reading a .tflite flatbuffer safely into plain Python records (with the `tflite` schema
package): the identifier is checked, every constant buffer is bounds-checked against the
file before a byte of it is used, and every tensor's size is checked before anything is
allocated for it. Any inconsistency is one ModelLoadError naming the file."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelLoadError, UnsupportedModelError

MAX_FILE_BYTES = 2 << 30           # flatbuffers address 2 GiB
MAX_TENSOR_BYTES = 1 << 30         # no device this tool targets holds a bigger tensor
# TensorType -> numpy dtype (schema.fbs)
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: np.ndarray | None = None       # float32, one per tensor or per channel
    zero_point: np.ndarray | None = None
    axis: int = 0
    data: np.ndarray | None = None        # constants only (a view on the file bytes)


@dataclass
class Operator:
    index: int
    op: str                                # builtin name, e.g. CONV_2D
    inputs: list[int]
    outputs: list[int]
    options: Any = None                    # the flatbuffers options table, or None
    version: int = 1


@dataclass
class TfliteModel:
    path: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    meta: dict = field(default_factory=dict)


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator
    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def read(path: str | Path) -> TfliteModel:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read ({e.strerror})") from None
    if size < 16 or size > MAX_FILE_BYTES:
        raise ModelLoadError(f"{path}: {size} bytes is not a TFLite model (16 B .. 2 GiB)")
    buf = path.read_bytes()
    if buf[4:8] != b"TFL3":
        raise ModelLoadError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier at byte 4)")
    try:
        return _parse(path, buf)
    except (struct.error, IndexError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise ModelLoadError(f"{path}: malformed TFLite flatbuffer ({type(e).__name__}: {e})") from None


def _parse(path: Path, buf: bytes) -> TfliteModel:
    from tflite.Model import Model

    model = Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() != 1:
        raise UnsupportedModelError(f"{path}: {model.SubgraphsLength()} subgraphs; edgekiln reads models with one")
    names = _builtin_names()
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = names.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = f"CUSTOM:{(oc.CustomCode() or b'').decode(errors='replace')}"
        codes.append((name, oc.Version()))
    sg = model.Subgraphs(0)
    tensors = [_tensor(path, buf, model, sg.Tensors(i), i) for i in range(sg.TensorsLength())]
    n = len(tensors)

    def refs(arr, what: str) -> list[int]:
        idx = [int(i) for i in (arr if not isinstance(arr, int) else [])]
        bad = [i for i in idx if i < -1 or i >= n]
        if bad:
            raise ModelLoadError(f"{path}: {what} names tensor {bad[0]} of {n}")
        return idx

    operators = []
    for i in range(sg.OperatorsLength()):
        o = sg.Operators(i)
        if o.OpcodeIndex() >= len(codes):
            raise ModelLoadError(f"{path}: operator {i} uses opcode {o.OpcodeIndex()} of {len(codes)}")
        name, version = codes[o.OpcodeIndex()]
        operators.append(Operator(i, name, refs(o.InputsAsNumpy(), f"operator {i}"),
                                  refs(o.OutputsAsNumpy(), f"operator {i}"), o.BuiltinOptions(), version))
    return TfliteModel(str(path), tensors, operators, refs(sg.InputsAsNumpy(), "subgraph inputs"),
                       refs(sg.OutputsAsNumpy(), "subgraph outputs"),
                       (model.Description() or b"").decode(errors="replace"))


def _tensor(path: Path, buf: bytes, model, t, index: int) -> Tensor:
    name = (t.Name() or b"").decode(errors="replace") or f"t{index}"
    dtype = DTYPES.get(t.Type())
    if dtype is None:
        raise UnsupportedModelError(f"{path}: tensor {name!r} has TFLite type {t.Type()}, not one edgekiln reads")
    shape = tuple(int(d) for d in (t.ShapeAsNumpy() if t.ShapeLength() else []))
    if any(d < 0 for d in shape):
        sig = [int(d) for d in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else list(shape)
        if any(d < 0 for d in shape[1:]) or (sig and sig[0] != -1):
            raise UnsupportedModelError(f"{path}: tensor {name!r} has a dynamic shape {list(shape)}; only a dynamic batch is fixed (to 1)")
        shape = (1,) + shape[1:]
    count = int(np.prod(shape, dtype=object)) if shape else 1
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelLoadError(f"{path}: tensor {name!r} of shape {list(shape)} would need {nbytes} bytes")
    out = Tensor(index, name, shape, np.dtype(dtype))
    q = t.Quantization()
    if q is not None and q.ScaleLength():
        out.scale = q.ScaleAsNumpy().astype(np.float32)
        out.zero_point = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(q.ScaleLength(), np.int64)
        out.axis = int(q.QuantizedDimension())
        if len(out.zero_point) != len(out.scale):
            raise ModelLoadError(f"{path}: tensor {name!r} has {len(out.scale)} scales but {len(out.zero_point)} zero points")
        if len(out.scale) > 1 and (out.axis >= len(shape) or shape[out.axis] != len(out.scale)):
            raise ModelLoadError(f"{path}: tensor {name!r} has {len(out.scale)} scales for axis {out.axis} of {list(shape)}")
    b = t.Buffer()
    if b >= model.BuffersLength():
        raise ModelLoadError(f"{path}: tensor {name!r} names buffer {b} of {model.BuffersLength()}")
    if b > 0:
        out.data = _buffer_data(path, buf, model.Buffers(b), name, nbytes, shape, dtype)
    return out


def _buffer_data(path: Path, buf: bytes, buffer, name: str, nbytes: int, shape, dtype) -> np.ndarray | None:
    offset, size = int(buffer.Offset()), int(buffer.Size())
    if offset > 1:  # large models keep buffers after the flatbuffer: (offset, size) in the file
        if offset + size > len(buf):
            raise ModelLoadError(f"{path}: tensor {name!r} data [{offset}, {offset + size}) lies past the end of the file ({len(buf)} bytes)")
        raw = memoryview(buf)[offset:offset + size]
    elif buffer.DataLength():
        vec = buffer._tab.Vector(buffer._tab.Offset(4))  # where the `data` vector's bytes start
        length = buffer.DataLength()
        if vec + length > len(buf):
            raise ModelLoadError(f"{path}: tensor {name!r} data runs past the end of the file")
        raw = memoryview(buf)[vec:vec + length]
    else:
        return None  # an activation tensor with an empty buffer
    if len(raw) != nbytes:
        raise ModelLoadError(f"{path}: tensor {name!r} of shape {list(shape)} needs {nbytes} bytes, its buffer has {len(raw)}")
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
