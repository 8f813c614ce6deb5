"""Loading user model files safely: skops by default, pickles only when trusted explicitly,
XGBoost (.json/.ubj) and LightGBM (.txt) model files parsed as data (no library code runs)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelLoadError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
MAX_UNCOMPRESSED_BYTES = None  # None: skops_guard's limit (tests lower it)


def load_model(path: str | Path, *, trust_pickle: bool = False) -> Any:
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model file {p} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".skops":
        return _load_skops(p)
    if suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise ModelLoadError(
                f"{p} is a pickle, and loading a pickle runs any code its author put in it. Pass --trust-pickle "
                "(Python: trust_pickle=True) only if you trust the file, or save the model with "
                "skops.io.dump(model, 'model.skops') instead."
            )
        import joblib

        try:
            return joblib.load(p)
        except Exception as e:
            raise ModelLoadError(f"could not unpickle {p}: {e}") from None
    if suffix in (".json", ".ubj"):
        from .frontends.xgboost_json import load_file

        return load_file(p)
    if suffix == ".txt":
        from .frontends.lightgbm_text import load_file as load_lightgbm

        return load_lightgbm(p)
    if suffix == ".onnx":  # networks: read straight into the IR (docs/networks.md)
        from .frontends.onnx import from_onnx

        return from_onnx(p)
    if suffix == ".tflite":
        from .frontends.tflite import from_tflite

        return from_tflite(p)
    raise ModelLoadError(f"{p}: unknown model file type {suffix!r}; use .skops (or .joblib/.pkl with "
                         "--trust-pickle), XGBoost .json/.ubj or LightGBM .txt model files, or a network "
                         "(.onnx, int8 .tflite)")


def _load_skops(p: Path) -> Any:
    import skops.io as sio

    from . import skops_guard

    try:
        skops_guard.check_archive(p, MAX_UNCOMPRESSED_BYTES)
        untrusted = sio.get_untrusted_types(file=p)
    except RecursionError:
        raise ModelLoadError(f"{p} is not a valid .skops file: its objects nest deeper than any model does") from None
    except Exception as e:  # noqa: BLE001  (a malformed file raises anything; the message says what)
        raise ModelLoadError(f"{p} is not a valid .skops file ({type(e).__name__}: {e})") from None
    refused = [f"{t} ({why})" for t in untrusted if (why := skops_guard.why_untrusted(t))]
    if refused:
        raise ModelLoadError(f"{p} refused: it would construct types that are not model classes: {'; '.join(refused)}. "
                             "Only scikit-learn/XGBoost/LightGBM estimators and their state are loaded from .skops files")
    try:
        model = sio.load(p, trusted=untrusted)
    except RecursionError:
        raise ModelLoadError(f"{p} is not a valid .skops file: its objects nest deeper than any model does") from None
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"could not load {p}: {type(e).__name__}: {e}") from None
    _validate_trees(model, p)
    return model


def _validate_trees(obj: Any, p: Path, depth: int = 0, n_features: int | None = None) -> None:
    """A crafted Tree (or HistGradientBoosting TreePredictor) with child, feature or bitset
    indices out of range would make scikit-learn's Cython predict read out of bounds
    (`kiln run --reference`): check every tree's arrays once."""
    from sklearn.base import BaseEstimator
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    if depth > 6:
        return
    if isinstance(obj, Tree):
        n = obj.node_count
        kids = np.concatenate([obj.children_left, obj.children_right])
        leaf = obj.children_left == -1
        ok = ((kids == -1) | ((kids > 0) & (kids < n))).all() and (
            (obj.feature[~leaf] >= 0) & (obj.feature[~leaf] < obj.n_features)).all()
        if not ok:
            raise ModelLoadError(f"{p} refused: a decision tree in it has child or feature indices out of range")
        return
    if isinstance(obj, TreePredictor):
        nodes = getattr(obj, "nodes", None)
        ok = isinstance(nodes, np.ndarray) and nodes.dtype == PREDICTOR_RECORD_DTYPE and nodes.ndim == 1
        if ok:
            split = nodes[~nodes["is_leaf"].astype(bool)]
            n, n_bitsets = len(nodes), len(getattr(obj, "raw_left_cat_bitsets", ()))
            kids = np.concatenate([split["left"], split["right"]]).astype(np.int64)
            cat = split["is_categorical"].astype(bool)
            ok = (len(nodes) > 0 and ((kids > 0) & (kids < n)).all()
                  and (n_features is not None and ((split["feature_idx"] >= 0) & (split["feature_idx"] < n_features)).all())
                  and (split["bitset_idx"][cat] < n_bitsets).all())
        if not ok:
            raise ModelLoadError(f"{p} refused: a boosted tree in it has malformed nodes or indices out of range")
        return
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _validate_trees(item, p, depth + 1, n_features)
    elif isinstance(obj, np.ndarray) and obj.dtype == object:
        for item in obj.ravel():
            _validate_trees(item, p, depth + 1, n_features)
    elif isinstance(obj, BaseEstimator):
        n_features = getattr(obj, "n_features_in_", n_features)
        for value in vars(obj).values():
            _validate_trees(value, p, depth + 1, n_features)
