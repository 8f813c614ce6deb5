"""Reading the model and data files commands are given, with one clear error each."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def load_model_file(model_path: str, trust_pickle: bool):
    from ..model_io import load_model

    return load_model(model_path, trust_pickle=trust_pickle)


def read_data(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise InputError(f"data file {p} does not exist")
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if p.suffix in (".csv", ".txt"):
            return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
    except ValueError as e:
        raise InputError(f"could not read {p}: {e}") from None
    raise InputError(f"{p}: use a .npy (numpy.save) or .csv file of shape (n_samples, n_features)")
