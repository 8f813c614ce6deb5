"""Loading an .onnx file safely: the protobuf is parsed without following external data;
every initializer's byte count is checked against its dims, and external data is read
only from files inside the model's own folder, within their size, before any array is made."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import ModelLoadError, UnsupportedModelError

MAX_FILE_BYTES = 2 << 30        # protobuf's own limit
MAX_TENSOR_BYTES = 1 << 30


def load_model(path: str | Path):
    import onnx

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read ({e.strerror})") from None
    if size == 0 or size > MAX_FILE_BYTES:
        raise ModelLoadError(f"{path}: {size} bytes is not an ONNX model (1 B .. 2 GiB)")
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends
        raise ModelLoadError(f"{path}: not a valid ONNX protobuf ({type(e).__name__}: {str(e)[:120]})") from None
    if not model.graph.node and not model.graph.output:
        raise ModelLoadError(f"{path}: not an ONNX model (no graph)")
    return model


def tensor_to_array(t, folder: Path | None, where: str) -> np.ndarray:
    """numpy array of a TensorProto after checking its byte count (and its external file)."""
    from onnx import TensorProto, helper, numpy_helper

    name = t.name or where
    if t.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
        raise UnsupportedModelError(f"tensor {name!r}: data type {t.data_type} is not supported")
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
    except Exception:
        raise ModelLoadError(f"tensor {name!r}: unknown data type {t.data_type}") from None
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        raise ModelLoadError(f"tensor {name!r}: negative dimension in {dims}")
    count = int(np.prod(dims, dtype=object)) if dims else 1
    nbytes = count * dtype.itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelLoadError(f"tensor {name!r} of shape {dims} would need {nbytes} bytes")
    if t.data_location == TensorProto.EXTERNAL:
        return _external(t, folder, name, dims, dtype, nbytes)
    if t.HasField("raw_data"):
        have = len(t.raw_data)
    else:  # typed fields hold one entry per element
        have = len(getattr(t, helper.tensor_dtype_to_field(t.data_type))) * dtype.itemsize
    if have != nbytes:
        raise ModelLoadError(f"tensor {name!r} of shape {dims} needs {nbytes} bytes of data, the file holds {have}")
    return numpy_helper.to_array(t)


def _external(t, folder: Path | None, name: str, dims, dtype, nbytes: int) -> np.ndarray:
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if folder is None:
        raise ModelLoadError(f"tensor {name!r}: external data needs the model loaded from a file")
    root = folder.resolve()
    target = (root / location).resolve()
    if not location or os.path.isabs(location) or root not in target.parents:
        raise ModelLoadError(f"tensor {name!r}: external data {location!r} lies outside the model's folder {root}; refused")
    try:
        offset, length = int(info.get("offset", 0)), int(info.get("length", nbytes))
        size = target.stat().st_size
    except (ValueError, OSError) as e:
        raise ModelLoadError(f"tensor {name!r}: external data {location!r} unreadable ({e})") from None
    if length != nbytes or offset < 0 or offset + length > size:
        raise ModelLoadError(f"tensor {name!r} of shape {dims} needs {nbytes} bytes at offset {offset} of "
                             f"{location!r} ({size} bytes, length {length}); refused")
    with open(target, "rb") as f:
        f.seek(offset)
        raw = f.read(length)
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(dims).copy()
