"""`kiln estimators`: every estimator the scikit-learn frontend registry converts, with the
ops it becomes, the dtypes those ops are lowered for, the targets each dtype runs on, and the
`kiln export` options that change its code. Nothing here is a hand list: the estimators come
from the converter registry, the ops and dtypes from converting and planning a small fitted
default instance of each (so the table says what a conversion really produces), the
targets from the target registry and the options from the lowerings' own code."""
from __future__ import annotations

import inspect
import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.table import Table

from ._app import main
from ._console import console
from ._options import json_option

# Options every lowering honours or that the generator sets itself (not per-estimator choices).
_GENERIC_OPTIONS = {"cores", "batch", "dtype", "fixed", "soft_float"}
# Smallest settings of the probe fits: they change how long fitting takes, not the ops.
_SMALL = {"n_estimators": 3, "max_iter": 3, "n_init": 1}


@main.command()
@json_option("write the estimators here as JSON")
def estimators(json_path: str | None) -> None:
    """List the supported estimators, their ops, dtypes, targets and export options."""
    rows = estimator_rows()
    t = Table(title="edgekiln estimators", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
    for col in ("estimator", "ops", "dtypes", "options"):
        t.add_column(col, no_wrap=col in ("estimator", "dtypes"))
    for r in rows:
        dtypes = ", ".join(r["dtypes"]) if r["ops"] is not None else "[red]probe failed[/]"
        t.add_row(r["estimator"], ", ".join(dict.fromkeys(r["ops"] or [])), dtypes, " ".join(r["options"]) or "-")
    console.print(t)
    targets = target_float_support()
    soft = [n for n, hw in targets.items() if not hw]
    console.print(f"float32 runs on every target ({', '.join(targets)}), in soft float on {', '.join(soft) or 'none'}; "
                  "fixed runs on every target. Every model also takes --cores N / --batch. "
                  "XGBoost (.json/.ubj) and LightGBM (.txt) model files and Boosters convert as their "
                  "scikit-learn wrappers do. `--json` has the targets per dtype and the outputs.")
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))


def target_float_support() -> dict[str, bool]:
    """Target name -> True where float32 runs on a hardware FPU."""
    from edgekiln.targets import all_targets

    return {name: not t.fpu.startswith("none") for name, t in all_targets().items()}


def estimator_rows() -> list[dict[str, Any]]:
    from edgekiln.frontends.sklearn import _CONVERTERS, _load_modules

    _load_modules()
    targets = target_float_support()
    export_params = _export_option_names()
    rows = []
    for cls, fn in sorted(_CONVERTERS.items(), key=lambda kv: (kv[1].__module__, kv[0].__name__)):
        p = _probe(cls)
        ops, dtypes = p["ops"], p["dtypes"]
        rows.append({
            "estimator": cls.__name__, "library": cls.__module__.split(".")[0], "module": cls.__module__,
            "family": fn.__module__.rsplit(".", 1)[-1], "task": p["task"], "ops": ops, "outputs": p["outputs"],
            "dtypes": dtypes, "dtype_errors": p["dtype_errors"],
            "targets": {d: [{"target": n, "float": "hardware" if hw else "soft"} if d == "float32" else {"target": n}
                            for n, hw in targets.items()] for d in dtypes},
            "options": sorted({o for op in (ops or []) for o in _op_options(op)} & export_params),
            "notes": (inspect.getdoc(fn) or inspect.getdoc(inspect.getmodule(fn)) or "").split("\n")[0],
            "probe_error": p["error"],
        })
    return rows


def _export_option_names() -> set[str]:
    from .export import export

    return {p.name for p in export.params} - _GENERIC_OPTIONS


def _op_options(op: str) -> set[str]:
    """Option names the lowering of `op` (any dtype) reads from its codegen options."""
    from edgekiln.codegen import lowering

    names: set[str] = set()
    for (o, _), cls in lowering._LOWERINGS.items():
        if o == op:
            src = inspect.getsource(inspect.getmodule(cls))
            names |= set(re.findall(r"options(?:\.get\(|\[)\"(\w+)\"", src))
    return names - _GENERIC_OPTIONS


def _probe_data(est) -> tuple[str, np.ndarray, np.ndarray | None]:
    from sklearn.base import ClusterMixin, OutlierMixin, TransformerMixin, is_classifier, is_regressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    if is_classifier(est):
        return "classify", X, np.argsort(np.argsort(X[:, 0])) * 3 // len(X)  # three equal classes
    if is_regressor(est):
        return "regress", X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(scale=0.1, size=60)
    if isinstance(est, OutlierMixin):
        return "anomaly", X, None
    if isinstance(est, ClusterMixin):
        return "cluster", X, None
    if isinstance(est, TransformerMixin):
        return "transform", X, None
    return "container", X, None


def _probe(cls: type) -> dict[str, Any]:
    """Fit a small default instance, convert it and plan it for each dtype:
    {task, ops, outputs, dtypes, dtype_errors, error}."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline, make_pipeline

    from edgekiln.api import plan, to_graph

    if issubclass(cls, Pipeline):
        return {"task": "container", "ops": [], "outputs": [], "dtypes": ["float32", "fixed"], "dtype_errors": {},
                "error": None}
    try:
        est = cls()
        est.set_params(**{k: v for k, v in _SMALL.items() if k in est.get_params()})
        if cls.__module__.startswith("lightgbm"):
            est.set_params(verbose=-1)  # LightGBM prints its training log to stdout otherwise
        task, X, y = _probe_data(est)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if task == "transform":  # a step: what it adds in front of an estimator
                est = make_pipeline(est, LinearRegression()).fit(X, X[:, 0])
            else:
                est.fit(X, y) if y is not None else est.fit(X)
            g = to_graph(est, "probe")
    except Exception as e:  # an estimator the probe cannot fit with defaults: say so, list it anyway
        return {"task": "?", "ops": None, "outputs": [], "dtypes": [], "dtype_errors": {},
                "error": f"{type(e).__name__}: {e}".split("\n")[0]}
    nodes = g.nodes[:-1] if task == "transform" else g.nodes
    dtypes, dtype_errors = [], {}
    for dtype in ("float32", "fixed"):
        try:  # the real planner decides (e.g. fixed SVMs take linear kernels only)
            plan(est, "host", name="probe", options={"dtype": dtype}, calibration=X)
            dtypes.append(dtype)
        except Exception as e:
            dtype_errors[dtype] = str(e).split("\n")[0]
    if task == "transform":
        outputs = ["transform"]
    else:
        outputs = ["predict"] + {"proba": ["predict_proba"], "decision": ["decision_function"]}.get(g.score_kind, [])
        if g.nodes and "score_offset" in g.nodes[-1].attrs:
            outputs.append("score_samples")
    return {"task": task, "ops": [n.op for n in nodes], "outputs": outputs, "dtypes": dtypes,
            "dtype_errors": dtype_errors, "error": None}
