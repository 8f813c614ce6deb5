"""scikit-learn's `feature_names_in_` rules for inputs given as DataFrames.

A model fitted on a DataFrame remembers its column names; predicting on a DataFrame whose
columns are reordered or renamed must fail as scikit-learn fails (ValueError), not return
labels computed on the wrong columns. Mixed cases warn as scikit-learn warns.
"""
from __future__ import annotations

import warnings
from typing import Any

from .errors import InputError


def column_names(X: Any) -> list[str] | None:
    """The column names scikit-learn would take from X (all-string columns only), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = list(columns)
    if not names or not all(isinstance(n, str) for n in names):
        return None  # scikit-learn ignores non-string column names (it warns on a mix)
    return names


def check_feature_names(fitted: list[str] | None, X: Any, estimator: str) -> None:
    """Raise InputError or warn exactly where scikit-learn's `_check_feature_names` does."""
    given = column_names(X)
    if fitted is None and given is None:
        return
    if fitted is not None and given is None:
        warnings.warn(f"X does not have valid feature names, but {estimator} was fitted with feature names",
                      UserWarning, stacklevel=3)
        return
    if fitted is None:
        warnings.warn(f"X has feature names, but {estimator} was fitted without feature names", UserWarning,
                      stacklevel=3)
        return
    if list(given) == list(fitted):
        return
    unseen = [n for n in given if n not in fitted]
    missing = [n for n in fitted if n not in given]
    parts = []
    if unseen:
        parts.append(f"seen at predict time, not at fit time: {', '.join(unseen[:5])}")
    if missing:
        parts.append(f"seen at fit time, missing now: {', '.join(missing[:5])}")
    if not parts:
        parts.append("the columns are in another order than at fit time: reorder them as "
                     f"{', '.join(fitted[:8])}{', ...' if len(fitted) > 8 else ''}")
    raise InputError("The feature names should match those that were passed during fit; " + "; ".join(parts))
