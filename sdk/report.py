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


def check_reference(graph: Graph, estimator: Any) -> bool | None:
    """Before running: is `estimator` the model that was exported? True/False by fingerprint
    (None for projects exported before fingerprints); a different input width is an error."""
    from .errors import InputError
    from .frontends.sklearn import from_sklearn

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
