"""HistGradientBoosting's categorical splits, without a categorical tree kernel.

With `categorical_features`, scikit-learn puts a ColumnTransformer in front of the trees: an
OrdinalEncoder maps each categorical column's values to codes 0..k-1 (unknown values and NaN
to NaN) and moves those columns first, the numeric columns after. A categorical split sends a
code left when its bit is set in the split's `raw_left_cat_bitsets` row, NaN (missing or
unknown) where `missing_go_to_left` says (sklearn/ensemble/_hist_gradient_boosting/_predictor.pyx).

Here one `category_split` node (runtime_c/include/ek_category.h) reproduces that: it writes
the ColumnTransformer's column order (numeric columns copied; categorical slots 0.0, which no
split reads) followed by one value per distinct categorical split, 0.0 where that split goes
left and 1.0 where it goes right. Each categorical split becomes an ordinary `x <= 0.5` split
on its value, so the tree kernels stay as they are and decide exactly as scikit-learn does.
Category values are matched as scikit-learn's encoder matches them (float64 equality with the
float32 input); a category no float32 equals is stored as NaN (never matched). Non-numeric
categories (strings, pandas categories of strings) cannot be encoded on the target: refused.
A .skops file of such a model is refused by the loader (its encoder holds functools.partial of
check_array, a function, which sdk/skops_guard.py does not trust): convert it in Python.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from . import GraphBuilder


@dataclass
class CategoricalPrelude:
    width: int                                    # features the trees read
    index: dict[tuple[int, bytes, bool], int]     # (slot, bitset, missing left) -> indicator
    n_slots: int

    def rewrite(self, nodes, bitsets: np.ndarray, feature: np.ndarray, t32: np.ndarray, nan_left: np.ndarray) -> None:
        """Categorical splits of one predictor become `x[indicator] <= 0.5` splits (in place)."""
        for n in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~nodes["is_leaf"].astype(bool)):
            key = (int(nodes["feature_idx"][n]), np.asarray(bitsets[nodes["bitset_idx"][n]], np.uint32).tobytes(),
                   bool(nodes["missing_go_to_left"][n]))
            j = self.index.setdefault(key, len(self.index))
            feature[n] = self.width + j
            t32[n] = np.float32(0.5)
            nan_left[n] = False


def _categories(values: np.ndarray, column: int) -> np.ndarray:
    cats = list(values)
    if cats and isinstance(cats[-1], float) and np.isnan(cats[-1]):
        cats = cats[:-1]  # OrdinalEncoder lists NaN last; it is the missing value
    try:
        c64 = np.asarray(cats, dtype=np.float64)
    except (TypeError, ValueError):
        raise UnsupportedModelError(
            f"categorical feature {column} has non-numeric categories ({cats[:3]!r}...), which the target cannot "
            "encode: its input is float32. Map the categories to numbers (e.g. OrdinalEncoder) before fitting "
            "HistGradientBoosting") from None
    c32 = c64.astype(np.float32)
    with np.errstate(invalid="ignore"):
        exact = c32.astype(np.float64) == c64
    return np.where(exact, c32, np.float32(np.nan)).astype(np.float32)


def start(est) -> CategoricalPrelude | None:
    """None without categorical features; else the prelude to fill while reading the trees."""
    pre = getattr(est, "_preprocessor", None)
    if pre is None:
        return None
    width = int(sum(s.stop - s.start for s in pre.output_indices_.values()))
    return CategoricalPrelude(width=width, index={}, n_slots=pre.output_indices_["encoder"].stop)


def add_node(est, b: GraphBuilder, prelude: CategoricalPrelude) -> None:
    """The `category_split` node in front of the trees (after every predictor was rewritten)."""
    pre = est._preprocessor
    n_in = b.current_length
    # input columns of each part (boolean masks or indices), placed at its output slice
    columns = {name: np.arange(n_in)[cols] for name, _, cols in pre.transformers_ if name in ("encoder", "numerical")}
    copy_from = np.full(prelude.width, -1, dtype=np.int32)
    if "numerical" in columns:
        copy_from[pre.output_indices_["numerical"]] = columns["numerical"]
    cat_cols = columns["encoder"]
    encoder = pre.named_transformers_["encoder"]
    tables = [_categories(c, int(col)) for c, col in zip(encoder.categories_, cat_cols)]
    if any(len(t) > 256 for t in tables):
        raise UnsupportedModelError("a categorical feature has more than 256 categories")
    starts = np.r_[0, np.cumsum([len(t) for t in tables])].astype(np.int32)
    keys = sorted(prelude.index, key=prelude.index.get)
    consts = {
        "copy_from": copy_from,
        "cat_column": np.asarray(cat_cols, dtype=np.int32),
        "cat_start": starts,
        "categories": np.concatenate(tables).astype(np.float32) if tables else np.zeros(0, np.float32),
        "split_slot": np.asarray([k[0] for k in keys], dtype=np.int32),
        "split_bits": np.asarray([np.frombuffer(k[1], np.uint32) for k in keys], dtype=np.uint32).reshape(-1, 8),
        "split_missing_left": np.asarray([k[2] for k in keys], dtype=np.uint8),
    }
    b.add_transform("category_split", prelude.width + len(keys), {"n_slots": prelude.n_slots}, consts)
