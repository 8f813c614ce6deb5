"""Reading the model and data files commands are given, with one clear error each."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def load_model_file(model_path: str, trust_pickle: bool, input_shapes: tuple[str, ...] = ()):
    """The model (a network as its IR graph); `input_shapes` (--input-shape) fix an ONNX
    model's dynamic input dimensions."""
    from ..model_io import load_model

    if input_shapes:
        if Path(model_path).suffix.lower() != ".onnx":
            raise InputError(f"--input-shape fixes the dynamic input dimensions of an .onnx model; {model_path} is not one")
        from ..frontends.onnx import from_onnx, parse_input_shapes

        shapes = parse_input_shapes(input_shapes)
        if not Path(model_path).exists():
            from ..errors import ModelLoadError

            raise ModelLoadError(f"model file {model_path} does not exist")
        return from_onnx(model_path, input_shapes=shapes)
    return load_model(model_path, trust_pickle=trust_pickle)


def read_data(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise InputError(f"data file {p} does not exist")
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if p.suffix in (".csv", ".txt"):
            delimiter = "," if p.suffix == ".csv" else None
            header = _has_header(p, delimiter)
            if header:
                from ._console import echo

                echo(f"note: {p}: the first line is not numbers, so it is read as a header and skipped", err=True)
            return np.loadtxt(p, delimiter=delimiter, ndmin=2, skiprows=int(header))
    except ValueError as e:
        raise InputError(f"could not read {p}: {e}; the file must hold numbers only, one sample per line") from None
    raise InputError(f"{p}: use a .npy (numpy.save) or .csv file of shape (n_samples, n_features)")


def _has_header(p: Path, delimiter: str | None) -> bool:
    """True when the first line has a field that is not a number (a column-name row)."""
    with open(p, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    fields = [x.strip() for x in first.split(delimiter)] if first.strip() else []
    for x in fields:
        try:
            float(x)
        except ValueError:
            return True
    return False
