"""Reports: the JSON written by `kiln run --json` (schema in docs/cli.md) and its tables."""
from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from .ir import Graph
from .results import RunResult


def labels_to_predictions(graph: Graph, result: RunResult) -> list:
    if graph.task == "regress":
        return [float(v) for v in result.outputs[:, 0]]
    if graph.task == "classify" and graph.classes is not None:
        return [graph.classes[i] for i in result.labels]
    return [int(v) for v in result.labels]


def run_report(graph: Graph, result: RunResult, build: dict | None) -> dict[str, Any]:
    """The `kiln run --json` document."""
    outputs = None
    if graph.score_kind is not None:
        outputs = [[float(v) for v in row] for row in result.outputs]
    mem = None
    if build is not None:
        mem = {
            "flash_bytes": build["model_flash_bytes"],
            "ram_bytes": build["model_ram_bytes"] + (result.stack_bytes or 0),
            "static_ram_bytes": build["model_ram_bytes"],
            "stack_bytes": result.stack_bytes,
            "firmware_flash_bytes": build["firmware_flash_bytes"],
            "firmware_ram_bytes": build["firmware_ram_bytes"],
            "regions": build["regions"],
        }
    return {
        "target": result.target,
        "simulator": result.simulator,
        "model": graph.name,
        "estimator": graph.meta.get("estimator"),
        "task": graph.task,
        "n_samples": result.n_samples,
        "predictions": labels_to_predictions(graph, result),
        "outputs": outputs,
        "output_kind": graph.score_kind,
        "instructions": result.instruction_summary(),
        "cycles": None if not result.cycles else {"per_inference_median": int(np.median(result.cycles))},
        "memory": mem,
    }


def add_knn_ties(report: dict[str, Any], graph: Graph, X32: np.ndarray) -> None:
    """`knn_ties` in the run report (kNN models only)."""
    ties = knn_boundary_ties(graph, X32)
    if ties is not None:
        report["knn_ties"] = ties


def knn_boundary_ties(graph: Graph, X32: np.ndarray) -> dict[str, Any] | None:
    """kNN graphs: the rows whose k-th and (k+1)-th nearest training rows are equally far, where
    which of them counts is arbitrary: the device keeps the lower row index; scikit-learn's
    choice depends on its algorithm (kd_tree, ball_tree, brute) and, for brute, on its thread
    count and batch size (docs/architecture.md, "kNN ties"). None for other models.

    A row is flagged when the distances tie as the device computes them (float32, in feature
    order, after the float32 transforms in front of the kNN node) or exactly (float64)."""
    node = graph.nodes[-1] if graph.nodes else None
    if node is None or node.op != "knn":
        return None
    x32 = np.asarray(X32, dtype=np.float32)
    for n in graph.nodes[:-1]:  # the transforms in front, as the device computes them
        if n.op == "affine":
            x32 = x32 * n.consts["scale"].astype(np.float32) + n.consts["shift"].astype(np.float32)
        elif n.op == "dense":
            x32 = (x32 @ n.consts["weight"].astype(np.float32).T + n.consts["bias"].astype(np.float32)).astype(np.float32)
        else:
            return None
    pts = node.consts["points"].astype(np.float32)
    k, manhattan = int(node.attrs["k"]), node.attrs["metric"] == "manhattan"
    if k >= len(pts):
        return {"k": k, "n_tied": 0, "rows": []}
    rows = []
    for i, x in enumerate(x32):
        acc = np.zeros(len(pts), dtype=np.float32)
        for f in range(pts.shape[1]):  # float32, feature by feature, like ek_distance_f32.c
            d = pts[:, f] - x[f]
            acc = acc + (np.abs(d) if manhattan else d * d)
        diff = pts.astype(np.float64) - x.astype(np.float64)
        exact = np.abs(diff).sum(axis=1) if manhattan else (diff * diff).sum(axis=1)
        if any(np.partition(dd, (k - 1, k))[k - 1] == np.partition(dd, (k - 1, k))[k] for dd in (acc, exact)):
            rows.append(i)
    return {"k": k, "n_tied": len(rows), "rows": rows}


class LibraryReference:
    """An XGBoost (.json/.ubj) or LightGBM (.txt) model file as `kiln run --reference`: the
    library itself predicts (its optional extra, `pip install edgekiln[boost]`), with the labels
    chosen as its scikit-learn wrappers choose them (binary: margin > 0; multiclass: argmax)."""

    def __init__(self, model: Any) -> None:
        from .errors import InputError

        self.model, self.boosted = model, model.boosted()
        kind = type(model).__name__
        try:
            if kind == "XGBoostModel":
                import json

                import xgboost as xgb

                self._booster = xgb.Booster()
                self._booster.load_model(bytearray(json.dumps(model.doc).encode()))
            else:
                import lightgbm as lgb

                self._booster = lgb.Booster(model_str=model.text)
        except ImportError as e:
            raise InputError(f"--reference {model.source}: comparing with a {kind[:-5]} model file needs the library "
                             f"itself ({e.name} is not installed: pip install edgekiln[boost])") from None
        self._xgb = kind == "XGBoostModel"

    def _raw(self, X: np.ndarray, margin: bool) -> np.ndarray:
        X32 = np.asarray(X, dtype=np.float32)
        if self._xgb:
            import xgboost as xgb

            out = self._booster.predict(xgb.DMatrix(X32), output_margin=margin)
        else:
            out = self._booster.predict(X32.astype(np.float64), raw_score=margin)
        return np.asarray(out, dtype=np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        m = self.boosted
        if m.task != "classify":
            return self._raw(X, margin=False).reshape(len(X))
        z = self._raw(X, margin=True).reshape(len(X), -1)
        index = (z[:, 0] > 0).astype(int) if z.shape[1] == 1 else z.argmax(axis=1)
        return np.asarray(m.classes)[index]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.boosted.task != "classify":
            raise AttributeError("predict_proba")
        p = self._raw(X, margin=False).reshape(len(X), -1)
        return np.c_[1.0 - p, p] if p.shape[1] == 1 else p


def as_reference(model: Any) -> Any:
    """What `kiln run --reference` compares with: the estimator, or the library of a model file."""
    return LibraryReference(model) if type(model).__name__ in ("XGBoostModel", "LightGBMModel") else model


def check_reference(graph: Graph, estimator: Any) -> bool | None:
    """Before running: is `estimator` the model that was exported? True/False by fingerprint
    (None for projects exported before fingerprints); a different input width is an error."""
    from .errors import InputError
    from .frontends.boosted import graph_from_boosted
    from .frontends.sklearn import from_sklearn

    if isinstance(estimator, LibraryReference):
        ref = graph_from_boosted(estimator.boosted, graph.name)
    else:
        ref = from_sklearn(estimator, name=graph.name)
    if ref.n_features != graph.n_features:
        raise InputError(f"the reference model takes {ref.n_features} features but the exported model takes "
                         f"{graph.n_features}: it is not the model in this project")
    exported = graph.meta.get("fingerprint")
    return None if exported is None else exported == ref.meta["fingerprint"]


def reference_agreement(graph: Graph, predictions: list, estimator: Any, X32: np.ndarray) -> dict[str, Any]:
    """Compare device predictions with scikit-learn run on the same float32 inputs."""
    Xr = X32.astype(np.float64)
    ref = estimator.predict(Xr)
    dev = np.asarray(predictions)
    if graph.task == "regress":
        err = np.abs(dev.astype(np.float64) - ref)
        rel = err / np.maximum(np.abs(ref), 1e-12)
        return {"kind": "regression", "max_abs_error": float(err.max()), "max_rel_error": float(rel.max()),
                "within_1e-5_rel": float(np.mean(rel <= 1e-5))}
    same = dev == ref
    mismatches = []
    margins = reference_margins(estimator, Xr)
    for i in np.flatnonzero(~same)[:100]:
        mismatches.append({"index": int(i), "device": _py(dev[i]), "reference": _py(ref[i]),
                           "reference_margin": None if margins is None else float(margins[i])})
    return {"kind": "labels", "agreement": float(same.mean()), "n_mismatches": int((~same).sum()),
            "mismatches": mismatches}


def label_scores(graph: Graph, predictions: list, y_true: np.ndarray) -> dict[str, Any]:
    """Device predictions against the true labels (classification) or targets (regression)."""
    dev = np.asarray(predictions)
    if graph.task == "regress":
        y = y_true.astype(np.float64)
        err = dev.astype(np.float64) - y
        ss = float(((y - y.mean()) ** 2).sum())
        return {"kind": "regression", "mae": float(np.abs(err).mean()),
                "r2": None if ss == 0 else 1.0 - float((err ** 2).sum()) / ss}
    if dev.dtype.kind in "iuf" and y_true.dtype.kind in "iuf":
        same = dev.astype(np.float64) == y_true.astype(np.float64)
    else:
        same = dev.astype(str) == y_true.astype(str)
    return {"kind": "accuracy", "accuracy": float(same.mean()), "n_correct": int(same.sum())}


def reference_margins(estimator: Any, X: np.ndarray) -> np.ndarray | None:
    """Gap between the two best scores in scikit-learn: how close a sample is to a tie."""
    for method in ("predict_proba", "decision_function"):
        fn = getattr(estimator, method, None)
        if fn is None:
            continue
        try:
            s = np.asarray(fn(X), dtype=np.float64)
        except Exception:
            continue
        if s.ndim == 1:
            return np.abs(s)
        top = np.sort(s, axis=1)
        return top[:, -1] - top[:, -2]
    return None


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def print_run_summary(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(title=f"{report['model']} ({report['estimator']}) on {report['target']} [{report['simulator']}]")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_row("samples", str(report["n_samples"]))
    ins = report.get("instructions")
    if ins:
        t.add_row("instructions / inference (min / median / max)",
                  f"{ins['per_inference_min']} / {ins['per_inference_median']} / {ins['per_inference_max']}")
        t.add_row("instructions, all inferences", str(ins["total"]))
    if report.get("cycles"):
        t.add_row("cycles / inference (median, performance counters)", str(report["cycles"]["per_inference_median"]))
    mem = report.get("memory")
    if mem:
        t.add_row("model flash bytes (code + constants)", str(mem["flash_bytes"]))
        t.add_row("model RAM bytes (static + stack)", f"{mem['ram_bytes']} ({mem['static_ram_bytes']} + "
                  f"{mem['stack_bytes'] if mem['stack_bytes'] is not None else 'n/a'})")
        t.add_row("firmware flash / RAM bytes", f"{mem['firmware_flash_bytes']} / {mem['firmware_ram_bytes']}")
    truth = report.get("labels")
    if truth and truth["kind"] == "accuracy":
        t.add_row("accuracy on --labels", f"{truth['accuracy'] * 100:.2f}% ({truth['n_correct']} of {report['n_samples']})")
    elif truth:
        t.add_row("MAE / R^2 on --labels", f"{truth['mae']:.4g} / {truth['r2'] if truth['r2'] is None else round(truth['r2'], 4)}")
    ties = report.get("knn_ties")
    if ties and ties["n_tied"]:
        t.add_row("kNN rows with a k-th / (k+1)-th distance tie", f"{ties['n_tied']} (the neighbour that counts is "
                  "arbitrary there: rows in knn_ties of --json)")
    ref = report.get("reference_agreement")
    if ref and ref.get("is_exported_model") is False:
        t.add_row("[bold red]reference[/]", "[bold red]NOT the exported model[/] (different fingerprint): the "
                  "agreement below compares two different models")
    if ref and ref["kind"] == "labels":
        t.add_row("agreement with scikit-learn", f"{ref['agreement'] * 100:.2f}% ({ref['n_mismatches']} differ)")
    elif ref:
        t.add_row("max relative error vs scikit-learn", f"{ref['max_rel_error']:.2e}")
    console.print(t)


def print_build_summary(build: dict, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(title=f"build for {build['target']}: {build['elf']}")
    for col in ("region", "used bytes", "size bytes", "use"):
        t.add_column(col, justify="right" if col != "region" else "left")
    for name, r in build["regions"].items():
        t.add_row(name, str(r["used"]), str(r["size"]), f"{100.0 * r['used'] / r['size']:.2f}%")
    t.add_row("model flash (code+const)", str(build["model_flash_bytes"]), "", "")
    t.add_row("model static RAM", str(build["model_ram_bytes"]), "", "")
    console.print(t)
