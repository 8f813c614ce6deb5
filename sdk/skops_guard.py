"""What a .skops file may contain before edgekiln lets skops construct it.

skops refuses types it does not know unless the caller trusts them. We trust an explicit
allowlist, never a package prefix: classes (never functions) that really live in the
libraries we support and are estimators, transformers or their internal state types, and
numpy scalar/dtype classes. The archive itself is checked first, so a header claiming a
huge array or a zip bomb is refused before anything is allocated.
"""
from __future__ import annotations

import importlib
import zipfile
from math import prod
from pathlib import Path

import numpy as np

MAX_UNCOMPRESSED_BYTES = 4 << 30  # a model file larger than this unpacked is refused
MAX_MEMBERS = 200_000

# Libraries whose classes a model may be made of (imported only to look a name up).
MODEL_PACKAGES = ("sklearn", "xgboost", "lightgbm", "numpy", "scipy")
# Internal state types skops does not trust by default but every fitted model of a kind holds.
KNOWN_STATE_TYPES = frozenset({
    "sklearn.tree._tree.Tree",  # every tree; its arrays are validated after loading (model_io)
    "collections.OrderedDict",
    # HistGradientBoosting's trees: a structured node array, validated after loading (model_io)
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # a fitted MLP keeps its solver's state (plain classes holding arrays; edgekiln reads only
    # coefs_/intercepts_)
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
})


def check_archive(path: Path, limit: int | None = None) -> None:
    """Raise ValueError naming the member when the zip is not a plausible .skops archive."""
    limit = MAX_UNCOMPRESSED_BYTES if limit is None else limit
    if not zipfile.is_zipfile(path):
        raise ValueError("it is not a zip archive")
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"it has {len(infos)} members (at most {MAX_MEMBERS})")
        total = sum(i.file_size for i in infos)
        if total > limit:
            raise ValueError(f"it unpacks to {total} uncompressed bytes (at most {limit})")
        if "schema.json" not in z.namelist():
            raise ValueError("it has no schema.json")
        for info in infos:
            if info.filename.endswith(".npy"):
                with z.open(info) as f:
                    _check_npy_header(f, info)


def _check_npy_header(f, info: zipfile.ZipInfo) -> None:
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f, max_header_size=1 << 16)
    except Exception as e:  # noqa: BLE001  (any malformed header is the same refusal)
        raise ValueError(f"member {info.filename} is not a valid .npy array ({e})") from None
    if dtype.hasobject:
        raise ValueError(f"member {info.filename} holds Python objects (a pickle), refused")
    header_len = f.tell()
    claimed = prod(shape) * dtype.itemsize
    held = info.file_size - header_len
    if claimed != held:
        raise ValueError(f"member {info.filename} claims {claimed} bytes of {dtype} {tuple(shape)} but holds {held}")


def why_untrusted(name: str) -> str:
    """'' when the type named `name` may be constructed, else why it may not."""
    if name in KNOWN_STATE_TYPES:
        return ""
    top = name.split(".", 1)[0]
    if top not in MODEL_PACKAGES:
        return f"{top!r} is not a library models are made of"
    obj = _lookup(name)
    if obj is None:
        return "no such class"
    if not isinstance(obj, type):
        return f"not a class but a {type(obj).__name__}"
    if f"{obj.__module__}.{obj.__qualname__}" != name:
        return f"it is {obj.__module__}.{obj.__qualname__}, re-exported"
    if top == "numpy":
        return "" if issubclass(obj, (np.generic, np.dtype)) else "only numpy scalar and dtype classes are trusted"
    if top == "scipy":
        from scipy.sparse import sparray, spmatrix

        return "" if issubclass(obj, (sparray, spmatrix)) else "only scipy sparse matrices are trusted"
    return "" if _is_model_class(obj) else "not an estimator, transformer or model state class"


def _lookup(name: str):
    """The object `name` names, importing only modules of MODEL_PACKAGES (no getattr into others)."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            # a chain through another module (sklearn.base.os.system) is refused here
            if obj is None or (type(obj).__name__ == "module" and not obj.__name__.startswith(MODEL_PACKAGES)):
                return None
        return obj
    return None


def _is_model_class(cls: type) -> bool:
    from sklearn.base import BaseEstimator
    from sklearn.metrics import DistanceMetric
    from sklearn.neighbors import BallTree, KDTree

    # neighbour indexes and their metrics are the fitted state of kNN models
    if issubclass(cls, (BaseEstimator, DistanceMetric, KDTree, BallTree)):
        return True
    # Boosters and loss objects: model state that is not an estimator.
    booster_like = cls.__name__ in ("Booster",) and cls.__module__.split(".")[0] in ("xgboost", "lightgbm")
    loss_like = cls.__module__.startswith("sklearn._loss.")
    return booster_like or loss_like
