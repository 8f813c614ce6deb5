"""scikit-learn frontend: estimator -> IR Graph.

Each family lives in its own module and registers its converters with `@converter`;
modules in this folder are imported on first use, so adding an estimator is a new file.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...errors import InputError, UnsupportedModelError
from ...fingerprint import graph_fingerprint
from ...ir import Graph, Node, ValueInfo

Converter = Callable[[Any, "GraphBuilder"], None]
_CONVERTERS: dict[type, Converter] = {}
_ALTERNATIVES: dict[str, str] = {}
_PASSES: list[Callable[["GraphBuilder"], None]] = []
_loaded = False


def converter(*classes: type, alternative_for: tuple[str, ...] = ()) -> Callable[[Converter], Converter]:
    """Register `fn(estimator, builder)` for the given estimator classes.

    `alternative_for` names unsupported estimators for which the first class here is the
    closest supported choice (used in the error message).
    """

    def wrap(fn: Converter) -> Converter:
        for cls in classes:
            _CONVERTERS[cls] = fn
        for name in alternative_for:
            _ALTERNATIVES[name] = classes[0].__name__
        return fn

    return wrap


def graph_pass(fn: Callable[["GraphBuilder"], None]) -> Callable[["GraphBuilder"], None]:
    """Register a rewrite run on every converted graph (e.g. folding scalers into trees)."""
    _PASSES.append(fn)
    return fn


def _load_modules() -> None:
    global _loaded
    if _loaded:
        return
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    _loaded = True


def supported_estimators() -> list[str]:
    _load_modules()
    return sorted(cls.__name__ for cls in _CONVERTERS)


def find_converter(est: Any) -> Converter:
    _load_modules()
    for cls in type(est).__mro__:
        if cls in _CONVERTERS:
            return _CONVERTERS[cls]
    name = type(est).__name__
    near = _ALTERNATIVES.get(name) or next(iter(difflib.get_close_matches(name, supported_estimators(), 1, 0.5)), None)
    hint = f" The nearest supported alternative is {near}." if near else ""
    raise UnsupportedModelError(
        f"{name} is not supported by edgekiln.{hint} Supported estimators: {', '.join(supported_estimators())}."
    )


@dataclass
class GraphBuilder:
    """Accumulates nodes while converters walk an estimator (or a pipeline of them)."""

    name: str
    n_features: int
    nodes: list[Node] = field(default_factory=list)
    intermediates: list[ValueInfo] = field(default_factory=list)
    current: str = "x"
    current_length: int = 0
    final: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.current_length = self.n_features

    def add_transform(self, op: str, out_length: int, attrs: dict, consts: dict) -> None:
        """A float vector -> float vector step (scalers, PCA)."""
        out = f"t{len(self.nodes)}"
        self.intermediates.append(ValueInfo(out, out_length))
        self.nodes.append(Node(op, f"{op}{len(self.nodes)}", [self.current], [out], attrs, consts))
        self.current, self.current_length = out, out_length

    def add_final(self, op: str, task: str, attrs: dict, consts: dict, *, classes: Any = None,
                  n_scores: int = 0, score_kind: str | None = None, n_values: int = 0) -> None:
        """The estimator step: writes `label` (classify/cluster), `scores` and/or `value`."""
        outputs = []
        if task in ("classify", "cluster"):
            outputs.append(ValueInfo("label", 1, "int32"))
        if n_scores:
            outputs.append(ValueInfo("scores", n_scores))
        if n_values:
            outputs.append(ValueInfo("value", n_values))
        self.nodes.append(Node(op, f"{op}{len(self.nodes)}", [self.current], [o.name for o in outputs], attrs, consts))
        self.final = dict(task=task, outputs=outputs, classes=classes, score_kind=score_kind)

    def graph(self) -> Graph:
        if self.final is None:
            raise UnsupportedModelError("the model has no final estimator (a pipeline of transformers only?)")
        g = Graph(
            name=self.name, task=self.final["task"], inputs=[ValueInfo("x", self.n_features)],
            outputs=self.final["outputs"], nodes=self.nodes, classes=self.final["classes"],
            score_kind=self.final["score_kind"], intermediates=self.intermediates,
        )
        return g


def check_fitted(est: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except NotFittedError as e:
        raise InputError(f"{type(est).__name__} is not fitted: call .fit(X, y) before exporting it ({e})") from None


def n_features_of(est: Any) -> int:
    n = getattr(est, "n_features_in_", None)
    if n is None:
        raise UnsupportedModelError(f"{type(est).__name__} does not record n_features_in_; refit it with scikit-learn >= 1.0")
    return int(n)


def from_sklearn(est: Any, name: str = "model") -> Graph:
    """Convert a fitted estimator (or Pipeline) into an IR Graph."""
    if not name.isidentifier():
        raise InputError(f"model name {name!r} must be a C identifier (letters, digits, underscore)")
    check_fitted(est)
    builder = GraphBuilder(name=name, n_features=n_features_of(est))
    find_converter(est)(est, builder)
    for rewrite in _PASSES:
        rewrite(builder)
    g = builder.graph()
    names = getattr(est, "feature_names_in_", None)
    g.meta.update(estimator=type(est).__name__, nan_policy=_probe_nonfinite(est, builder.n_features),
                  feature_names=None if names is None else [str(n) for n in names])
    g.meta["fingerprint"] = graph_fingerprint(g)
    return g


def convert_step(est: Any, builder: GraphBuilder) -> None:
    """Used by Pipeline to convert one step."""
    check_fitted(est)
    find_converter(est)(est, builder)


def _probe_nonfinite(est: Any, n_features: int) -> dict[str, str | None]:
    """Ask scikit-learn itself whether it defines a result for NaN / inf inputs.

    None means it does (the device reproduces it); a string is scikit-learn's own error.
    """
    policy: dict[str, str | None] = {}
    for label, value in (("nan", np.nan), ("inf", np.inf)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.predict(np.full((1, n_features), value))
            policy[label] = None
        except Exception as e:  # scikit-learn raises ValueError; keep its words
            policy[label] = str(e).split("\n")[0]
    return policy


def class_list(est: Any) -> list:
    return [c.item() if isinstance(c, np.generic) else c for c in est.classes_]
