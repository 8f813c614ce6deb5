"""XGBoost models (JSON/UBJSON model files, Booster and XGBClassifier/XGBRegressor objects)
-> `Boosted` (frontends/boosted.py, which states the exactness argument).

XGBoost compares float32 `x < split_condition` (float32): the device compares
`x <= nextafter(split_condition, -inf)`, the same decision for every float32 x; NaN (the
`missing` value) follows default_left. Leaf values are float32 and XGBoost adds them in
float32 to the base margin (base_score taken to margin space by the objective's link).
Read without XGBoost installed: JSON by the standard library, UBJSON by `read_ubjson` below.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError, UnsupportedModelError
from .boosted import Boosted, BoostedTree, below_float32, interleave

SUPPORTED_MAJOR = (1, 2, 3)
# objective -> (task, link)
OBJECTIVES = {
    "reg:squarederror": ("regress", "identity"), "reg:squaredlogerror": ("regress", "identity"),
    "reg:pseudohubererror": ("regress", "identity"), "reg:absoluteerror": ("regress", "identity"),
    "reg:quantileerror": ("regress", "identity"), "reg:linear": ("regress", "identity"),
    "reg:logistic": ("regress", "sigmoid"), "binary:logistic": ("classify", "sigmoid"),
    "multi:softprob": ("classify", "softmax"), "multi:softmax": ("classify", "softmax"),
    "count:poisson": ("regress", "exp"), "reg:gamma": ("regress", "exp"), "reg:tweedie": ("regress", "exp"),
}


class XGBoostModel:
    """A parsed XGBoost model document (what Booster.save_raw("json") writes)."""

    def __init__(self, doc: dict, source: str, classes: list | None = None) -> None:
        self.doc, self.source, self.classes = doc, source, classes

    def boosted(self) -> Boosted:
        return from_doc(self.doc, self.source, self.classes)


def load_file(path: Path) -> XGBoostModel:
    try:
        raw = path.read_bytes()
        doc = json.loads(raw) if path.suffix.lower() == ".json" else read_ubjson(raw)
    except (ValueError, UnicodeDecodeError, struct.error, IndexError, RecursionError) as e:
        raise ModelLoadError(f"{path} is not a valid XGBoost model file ({type(e).__name__}: {e})") from None
    if not isinstance(doc, dict) or "learner" not in doc or "version" not in doc:
        raise ModelLoadError(f"{path} is not an XGBoost model (no 'learner'/'version'); save it with "
                             "booster.save_model('model.json')")
    return XGBoostModel(doc, str(path))


def booster_doc(booster: Any) -> dict:
    return json.loads(booster.save_raw("json"))


def sklearn_model(est: Any) -> XGBoostModel:
    """XGBClassifier/XGBRegressor: its booster, cut at best_iteration as its predict does."""
    booster = est.get_booster()
    best = getattr(est, "best_iteration", None) if getattr(est, "early_stopping_rounds", None) else None
    if best is not None:
        booster = booster[: int(best) + 1]
    classes = [c.item() if isinstance(c, np.generic) else c for c in est.classes_] if hasattr(est, "classes_") else None
    return XGBoostModel(booster_doc(booster), type(est).__name__, classes)


def _floats(v: Any) -> list[float]:
    """base_score: '5E-1' (XGBoost 1.x/2.x) or '[5E-1,...]' (3.x, one per target/class)."""
    s = str(v).strip()
    return [float(x) for x in s.strip("[]").split(",")] if s.startswith("[") else [float(s)]


def from_doc(doc: dict, source: str, classes: list | None = None) -> Boosted:
    version = doc.get("version", [0])
    if not version or int(version[0]) not in SUPPORTED_MAJOR:
        raise UnsupportedModelError(f"{source}: written by XGBoost {'.'.join(map(str, version))}; edgekiln reads "
                                    f"XGBoost {SUPPORTED_MAJOR[0]}.x to {SUPPORTED_MAJOR[-1]}.x model files")
    learner = doc["learner"]
    obj = learner.get("objective", {}).get("name")
    if obj not in OBJECTIVES:
        raise UnsupportedModelError(
            f"{source}: XGBoost objective {obj!r} is not supported (supported: {', '.join(OBJECTIVES)}); a custom "
            "objective's link is unknown to the model file")
    task, link = OBJECTIVES[obj]
    gb = learner["gradient_booster"]
    weights = None
    if gb["name"] == "dart":
        weights = [float(w) for w in gb.get("weight_drop", [])]
        gb = gb["gbtree"]
    elif gb["name"] != "gbtree":
        raise UnsupportedModelError(f"{source}: XGBoost booster {gb['name']!r} is not supported (only gbtree and "
                                    "dart tree models; gblinear is a linear model: refit with booster='gbtree')")
    model = gb["model"]
    param = learner["learner_model_param"]
    n_features = int(param["num_feature"])
    n_class = int(param.get("num_class", 0) or 0)
    if int(param.get("num_target", 1) or 1) != 1:
        raise UnsupportedModelError(f"{source}: multi-target XGBoost models are not supported; fit one model per target")
    n_out = n_class if n_class > 1 else 1
    if task == "classify" and link == "softmax" and n_class < 2:
        raise UnsupportedModelError(f"{source}: {obj} without num_class")
    base = np.asarray(_floats(param.get("base_score", "0.5")), np.float64)
    base = np.broadcast_to(base, (n_out,)).copy() if base.size in (1, n_out) else base
    if link == "sigmoid":
        base = np.array([math.log(p / (1.0 - p)) if 0.0 < p < 1.0 else _refuse_base(source, p) for p in base])
    elif link == "exp":
        base = np.array([math.log(p) if p > 0.0 else _refuse_base(source, p) for p in base])
    base = base.astype(np.float32).astype(np.float64)  # XGBoost keeps its base margin in float32
    trees = model["trees"]
    info = [int(g) for g in model.get("tree_info", [0] * len(trees))]
    per_output: list[list[BoostedTree]] = [[] for _ in range(n_out)]
    for i, (tree, group) in enumerate(zip(trees, info)):
        per_output[group].append(_tree(tree, source, 1.0 if weights is None else weights[i]))
    if task == "classify" and classes is None:
        classes = list(range(max(n_class, 2)))
    if task == "classify" and len(classes) != (2 if n_out == 1 else n_out):
        raise UnsupportedModelError(f"{source}: {len(classes)} classes but {n_out} margins")
    names = learner.get("feature_names") or None
    return Boosted(trees=interleave(per_output), n_outputs=n_out, base=base, link=link, task=task,
                   n_features=n_features, estimator=f"XGBoost {obj} ({source})", classes=classes,
                   feature_names=names if names and len(names) == n_features else None,
                   nan_policy={"nan": None, "inf": None})


def _refuse_base(source: str, p: float) -> float:
    raise UnsupportedModelError(f"{source}: base_score {p} has no margin under the objective's link")


def _tree(t: dict, source: str, weight: float) -> BoostedTree:
    left = np.asarray(t["left_children"], np.int64)
    right = np.asarray(t["right_children"], np.int64)
    if any(int(s) != 0 for s in t.get("split_type", [])):
        raise UnsupportedModelError(f"{source}: categorical splits (enable_categorical) are not supported; "
                                    "one-hot or ordinal-encode the categories and refit")
    if int(t.get("tree_param", {}).get("size_leaf_vector", "1") or 1) > 1:
        raise UnsupportedModelError(f"{source}: vector-leaf trees (multi_strategy='multi_output_tree') are not "
                                    "supported; refit with multi_strategy='one_output_per_tree'")
    cond = np.asarray(t["split_conditions"], np.float32)
    split = left != -1
    t32 = cond.copy()
    t32[split] = below_float32(cond[split])
    value = cond.astype(np.float64)  # a leaf's split_condition is its value (learning rate included)
    if weight != 1.0:  # dart: XGBoost multiplies each leaf by the tree's weight in float32
        value = (cond * np.float32(weight)).astype(np.float64)
    return BoostedTree(left, right, np.asarray(t["split_indices"], np.int64), t32,
                       np.asarray(t["default_left"], bool) & split, value)


# --- UBJSON (the subset XGBoost writes: draft 12, big-endian, optimized typed arrays) ----
_NUM = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f", b"D": ">d"}


def read_ubjson(data: bytes) -> Any:
    value, pos = _value(memoryview(data), 0, None, 0)
    return value


def _value(buf: memoryview, pos: int, marker: bytes | None, depth: int):
    if depth > 64:
        raise ValueError("UBJSON nests deeper than any model does")
    if marker is None:
        marker, pos = bytes(buf[pos:pos + 1]), pos + 1
    if marker in _NUM:
        fmt = _NUM[marker]
        return struct.unpack_from(fmt, buf, pos)[0], pos + struct.calcsize(fmt)
    if marker == b"S" or marker == b"H":
        n, pos = _value(buf, pos, None, depth + 1)
        return bytes(buf[pos:pos + n]).decode(), pos + n
    if marker == b"C":
        return bytes(buf[pos:pos + 1]).decode(), pos + 1
    if marker in (b"T", b"F", b"Z"):
        return {b"T": True, b"F": False, b"Z": None}[marker], pos
    if marker in (b"[", b"{"):
        return _container(buf, pos, marker == b"{", depth)
    raise ValueError(f"unknown UBJSON marker {marker!r} at byte {pos - 1}")


def _container(buf: memoryview, pos: int, is_obj: bool, depth: int):
    typ = count = None
    if bytes(buf[pos:pos + 1]) == b"$":
        typ, pos = bytes(buf[pos + 1:pos + 2]), pos + 2
    if bytes(buf[pos:pos + 1]) == b"#":
        count, pos = _value(buf, pos + 1, None, depth + 1)
    if not is_obj and typ in _NUM and count is not None:  # typed array: one block of numbers
        fmt = _NUM[typ]
        size = struct.calcsize(fmt)
        arr = np.frombuffer(buf[pos:pos + size * count], dtype=np.dtype(fmt)).tolist()
        return arr, pos + size * count
    out: Any = {} if is_obj else []
    i = 0
    while count is None or i < count:
        if count is None and bytes(buf[pos:pos + 1]) == (b"}" if is_obj else b"]"):
            return out, pos + 1
        if is_obj:
            n, pos = _value(buf, pos, None, depth + 1)
            key, pos = bytes(buf[pos:pos + n]).decode(), pos + n
            out[key], pos = _value(buf, pos, typ, depth + 1)
        else:
            v, pos = _value(buf, pos, typ, depth + 1)
            out.append(v)
        i += 1
    return out, pos
