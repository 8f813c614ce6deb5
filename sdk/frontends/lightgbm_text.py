"""LightGBM models (text model files, Booster and LGBMClassifier/LGBMRegressor objects)
-> `Boosted` (frontends/boosted.py, which states the exactness argument).

LightGBM predicts in double: `double(x) <= threshold` with the threshold printed in full
(round-trip) precision in the model text, so a float32 x goes left exactly when
x <= the largest float32 <= threshold; but its predict first reads every |x| <= 1e-35 as 0.0
(`zero_snapped` moves thresholds inside that interval to its edge). Missing values, per split (decision_type bits 2-3):
NaN type: NaN follows default_left; None: LightGBM reads NaN as 0.0, so NaN goes where 0.0
goes; Zero (zero_as_missing): NaN and |x| <= 1e-35 follow default_left, reproduced only
where the threshold already sends that interval the default way (refused otherwise).
Leaf values include the shrinkage and the first tree the initial score (boost_from_average):
the margin is the sum of the leaves. Read without LightGBM installed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError, UnsupportedModelError
from .boosted import Boosted, BoostedTree, floor_float32, interleave

SUPPORTED_VERSIONS = ("v2", "v3", "v4")
REGRESSION = ("regression", "regression_l1", "huber", "fair", "quantile", "mape")
LOG_LINK = ("poisson", "gamma", "tweedie")
K_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float, compared in double)


class LightGBMModel:
    """A parsed LightGBM model text (what Booster.model_to_string() writes)."""

    def __init__(self, text: str, source: str, classes: list | None = None) -> None:
        self.text, self.source, self.classes = text, source, classes

    def boosted(self) -> Boosted:
        return from_text(self.text, self.source, self.classes)


def load_file(path: Path) -> LightGBMModel:
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise ModelLoadError(f"{path} is not a LightGBM model text file ({e})") from None
    if not text.startswith("tree\n") and "\nTree=" not in text:
        raise ModelLoadError(f"{path} is not a LightGBM model (no 'tree' header); save it with "
                             "booster.save_model('model.txt')")
    return LightGBMModel(text, str(path))


def booster_model(booster: Any, classes: list | None = None, source: str = "lightgbm.Booster") -> LightGBMModel:
    return LightGBMModel(booster.model_to_string(), source, classes)


def sklearn_model(est: Any) -> LightGBMModel:
    """LGBMClassifier/LGBMRegressor: its booster at best_iteration_ (what its predict uses)."""
    best = getattr(est, "_best_iteration", None) or None
    classes = [c.item() if isinstance(c, np.generic) else c for c in est.classes_] if hasattr(est, "classes_") else None
    return LightGBMModel(est.booster_.model_to_string(num_iteration=best), type(est).__name__, classes)


def _sections(text: str) -> tuple[dict, list[dict], dict]:
    header: dict[str, str] = {}
    trees: list[dict] = []
    params: dict[str, str] = {}
    cur = header
    in_params = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Tree="):
            cur = {}
            trees.append(cur)
        elif line == "end of trees":
            cur = {}
        elif line == "parameters:":
            in_params = True
        elif line == "end of parameters":
            in_params = False
        elif in_params and line.startswith("[") and ": " in line:
            k, v = line[1:-1].split(": ", 1)
            params[k] = v
        elif "=" in line and cur is not None:
            k, v = line.split("=", 1)
            cur.setdefault(k, v)
        elif line and cur is header and not in_params:  # a bare flag such as average_output (boosting='rf')
            header.setdefault(line, "")
    return header, trees, params


def _arr(tree: dict, key: str, dtype) -> np.ndarray:
    v = tree.get(key, "")
    return np.array(v.split(" ") if v else [], dtype=dtype)


def from_text(text: str, source: str, classes: list | None = None) -> Boosted:
    header, trees, params = _sections(text)
    version = header.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedModelError(f"{source}: LightGBM model format {version!r} is not supported (edgekiln reads "
                                    f"{', '.join(SUPPORTED_VERSIONS)}: LightGBM 2.x to 4.x)")
    obj = header.get("objective", "").split(" ")
    name, opts = obj[0], dict(o.split(":", 1) for o in obj[1:] if ":" in o)
    if "average_output" in header:
        raise UnsupportedModelError(f"{source}: boosting='rf' (averaged trees) is not supported; use boosting='gbdt'")
    if params.get("linear_tree", "0") not in ("0", "false") or any(t.get("is_linear", "0") != "0" for t in trees):
        raise UnsupportedModelError(f"{source}: linear trees (linear_tree=True) are not supported; refit with "
                                    "linear_tree=False")
    k = int(header.get("num_tree_per_iteration", "1"))
    if name == "binary":
        task, link, scale = "classify", "sigmoid", float(opts.get("sigmoid", "1"))
    elif name in ("multiclass", "softmax"):
        task, link, scale = "classify", "softmax", 1.0
    elif name in ("cross_entropy", "xentropy"):
        task, link, scale = "regress", "sigmoid", 1.0
    elif name in REGRESSION:
        task, link, scale = "regress", "identity", 1.0
    elif name in LOG_LINK:
        task, link, scale = "regress", "exp", 1.0
    elif name in ("", "custom", "none", "null"):
        raise UnsupportedModelError(f"{source}: the model was trained with a custom objective, whose link the "
                                    "model file does not say; refit with a built-in objective")
    else:
        raise UnsupportedModelError(
            f"{source}: LightGBM objective {name!r} is not supported (binary, multiclass, cross_entropy, "
            f"{', '.join(REGRESSION + LOG_LINK)})")
    if task == "classify" and classes is None:
        classes = list(range(2 if k == 1 else k))
    if task == "classify" and len(classes) != (2 if k == 1 else k):
        raise UnsupportedModelError(f"{source}: {len(classes)} classes but {k} trees per iteration")
    n_features = int(header["max_feature_idx"]) + 1
    per_output: list[list[BoostedTree]] = [[] for _ in range(k)]
    for i, t in enumerate(trees):
        per_output[i % k].append(_tree(t, source, i))
    names = header.get("feature_names", "").split(" ") or None
    return Boosted(trees=interleave(per_output), n_outputs=k, base=np.zeros(k), link=link, task=task,
                   n_features=n_features, estimator=f"LightGBM {name} ({source})", classes=classes,
                   link_scale=scale, input_precision="float64",
                   feature_names=names if names and len(names) == n_features else None)


def zero_snapped(t32: np.ndarray) -> np.ndarray:
    """LightGBM's predict keeps only inputs with |x| > kZeroThreshold (its sparse rows): every
    |x| <= 1e-35 is read as 0.0, so it must go where 0.0 goes. A threshold inside [-1e-35, 1e-35)
    (LightGBM learns ±1.0000000180025095e-35 often) moves to the edge of that interval on 0's side."""
    kz = np.float32(K_ZERO)
    t32 = t32.copy()
    inside = (t32 >= -kz) & (t32 < kz)
    t32[inside & (t32 >= 0)] = kz                                       # 0 goes left: so does all of it
    t32[inside & (t32 < 0)] = np.nextafter(-kz, np.float32(-np.inf))    # 0 goes right: so does all of it
    return t32


def _tree(t: dict, source: str, index: int) -> BoostedTree:
    n_leaves = int(t.get("num_leaves", "1"))
    leaf_value = _arr(t, "leaf_value", np.float64)
    if n_leaves == 1:
        return BoostedTree(np.array([-1]), np.array([-1]), np.array([-1]), np.zeros(1, np.float32),
                           np.zeros(1, bool), leaf_value[:1])
    if int(t.get("num_cat", "0")) > 0:
        raise UnsupportedModelError(f"{source}: tree {index} has categorical splits (categorical_feature), which "
                                    "are not supported; one-hot or ordinal-encode the categories and refit")
    n_int = n_leaves - 1
    feature = _arr(t, "split_feature", np.int64)
    thr = _arr(t, "threshold", np.float64)
    dtype = _arr(t, "decision_type", np.int64)
    kids = [_arr(t, "left_child", np.int64), _arr(t, "right_child", np.int64)]
    if not (len(feature) == len(thr) == len(dtype) == n_int == len(kids[0]) == len(kids[1])) or len(leaf_value) != n_leaves:
        raise UnsupportedModelError(f"{source}: tree {index} is malformed (array lengths do not match num_leaves)")
    n = n_int + n_leaves
    left, right = (np.full(n, -1, np.int64) for _ in range(2))
    for dst, src in zip((left, right), kids):
        dst[:n_int] = np.where(src >= 0, src, n_int + ~src)
    t32 = np.zeros(n, np.float32)
    t32[:n_int] = zero_snapped(floor_float32(thr))
    default_left = (dtype >> 1) & 1 == 1
    missing = (dtype >> 2) & 3
    nan_left = np.zeros(n, bool)
    for j in range(n_int):
        if missing[j] == 0:    # None: NaN is read as 0.0
            nan_left[j] = 0.0 <= thr[j]
        elif missing[j] == 2:  # NaN
            nan_left[j] = default_left[j]
        else:                  # Zero: NaN -> 0.0 -> the default side, and so must every |x| <= 1e-35
            nan_left[j] = default_left[j]
            if (default_left[j] and not K_ZERO <= thr[j]) or (not default_left[j] and not -K_ZERO > thr[j]):
                raise UnsupportedModelError(
                    f"{source}: tree {index} treats zeros as missing (zero_as_missing=True) at a threshold that "
                    "splits the zero interval; refit with zero_as_missing=False")
    value = np.zeros(n)
    value[n_int:] = leaf_value
    feat = np.full(n, -1, np.int64)
    feat[:n_int] = feature
    return BoostedTree(left, right, feat, t32, nan_left, value)
