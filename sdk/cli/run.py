"""`kiln run`: run a project's firmware on its simulator over a data file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import click

from ..errors import InputError
from ._app import main
from ._console import console, echo
from ._inputs import load_model_file, read_data
from ._options import data_option, json_option, sim_option, timeout_option, trust_pickle_option
from .board import board_run_options


def _exported_target(path: Path, meta: dict, sim: str | None):
    """The project's target; --sim, if given, must name the simulator it was exported for."""
    from edgekiln.targets import get_target, project_target

    target = project_target(meta)
    if sim is not None and sim != target.simulator.get("name"):
        get_target(meta["target"], sim)  # an unknown variant gets its own error first
        raise InputError(f"{path} was built for {target.name} on {target.simulator.get('name')}, not {sim}: "
                         f"export it again with `kiln export ... --sim {sim}`")
    return target


@main.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@data_option
@json_option("write the report here")
@click.option("--reference", type=click.Path(dir_okay=False), help="model file to compare predictions with")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False),
              help="true labels / targets of --data (.npy or .csv), to report accuracy beside agreement")
@trust_pickle_option
@timeout_option
@sim_option("the simulator the project was exported for (checked; default: that one)")
@board_run_options
def run(project: str, data: str, json_path: str | None, reference: str | None, labels_path: str | None,
        trust_pickle: bool, timeout: float | None, sim: str | None, board_name: str | None, port: str | None,
        one_by_one: bool, resume: bool) -> None:
    """Run PROJECT's firmware on its simulator (or on --board, over its serial port) over the rows of --data."""
    if board_name is not None:  # boards: sdk/cli/board.py (docs/boards.md)
        if reference or labels_path or sim:
            raise InputError("--reference, --labels and --sim are for the simulator path, not --board")
        from .board import run_board

        return run_board(project, board_name, data, port, json_path, timeout or 2.0, one_by_one, resume)
    from edgekiln.targets.build import ensure_built, load_project
    from edgekiln.targets.simulators import run_firmware

    from ..api import validate_input
    from ..ir import Graph
    from ..report import (add_knn_ties, as_reference, check_reference, label_scores, print_run_summary,
                          reference_agreement, run_report)

    path = Path(project)
    meta = load_project(path)
    target = _exported_target(path, meta, sim)
    graph = Graph.from_json((path / "graph.json").read_text())
    if graph.is_network():
        return _run_network(path, graph, data, json_path, reference, labels_path, timeout, trust_pickle)
    X32 = validate_input(graph, read_data(data))
    y_true = read_data(labels_path).reshape(-1) if labels_path else None
    if y_true is not None and len(y_true) != len(X32):
        raise InputError(f"--labels has {len(y_true)} values but --data has {len(X32)} samples")
    ref_model = as_reference(load_model_file(reference, trust_pickle)) if reference else None
    is_exported = check_reference(graph, ref_model) if ref_model is not None else None
    build, how = ensure_built(path)
    echo(how, err=True)
    built = build.to_dict()
    result = run_firmware(path / "fw.elf", target, X32, timeout=timeout)
    report = run_report(graph, result, built)
    add_knn_ties(report, graph, X32)
    if ref_model is not None:
        report["reference_agreement"] = {**reference_agreement(graph, report["predictions"], ref_model, X32),
                                         "is_exported_model": is_exported}
        if "knn_ties" in report and "mismatches" in report["reference_agreement"]:
            tied = set(report["knn_ties"]["rows"])
            for m in report["reference_agreement"]["mismatches"]:
                m["knn_tie"] = m["index"] in tied
    if y_true is not None:
        report["labels"] = label_scores(graph, report["predictions"], y_true)
    print_run_summary(report, console)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
        console.print(f"report written to {json_path}")


def _run_network(path: Path, graph, data: str, json_path: str | None, reference: str | None,
                 labels_path: str | None, timeout: float | None, trust_pickle: bool = False) -> None:
    """Networks: --data holds float inputs (n_samples, *input shape); --reference a .tflite
    (bit-exact count against LiteRT's reference kernels) or .onnx (float comparison); an
    int8 scikit-learn MLP takes the scikit-learn model (top-1 agreement / regression error)."""
    from .. import nn_run

    X = nn_run.check_inputs(graph, read_data(data))
    if labels_path:
        raise InputError("--labels is for classic models; compare a network's predictions in the JSON report")
    report, result, stored = nn_run.run_project(path, graph, X, timeout=timeout, echo=lambda m: echo(m, err=True))
    if "sklearn_mlp" in graph.meta:
        report["sklearn_mlp"] = _mlp_summary(graph, report)
    if reference and "sklearn_mlp" in graph.meta:
        from ..frontends.sklearn.mlp_network import agreement

        report["reference"] = {"file": str(reference), **agreement(graph, np.asarray(report["outputs"]),
                                                                   load_model_file(reference, trust_pickle), X)}
    elif reference:
        kind, ref = nn_run.reference_outputs(reference, graph, stored, X)
        raw, outputs = nn_run.from_device(graph, result.tensors, nn_run.project_plan(path))
        report["reference"] = {"file": str(reference), "kind": kind, **nn_run.compare(kind, ref, raw, outputs)}
    nn_run.print_network_summary(report, console)
    if "sklearn_mlp" in report:
        mlp = report["sklearn_mlp"]
        agree = report.get("reference", {})
        figure = (f", top-1 agreement with scikit-learn {agree['top1_agreement']:.4f}" if "top1_agreement" in agree else
                  f", max |error| vs scikit-learn {agree['max_abs_error']:.4g}" if "max_abs_error" in agree else "")
        console.print(f"int8 MLP: constants {mlp['constants_flash_bytes']} bytes vs float32 "
                      f"{mlp['float32_constants_bytes']}{figure}", highlight=False)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
        console.print(f"report written to {json_path}")


def _mlp_summary(graph, report: dict) -> dict:
    """An int8 MLP's predictions as scikit-learn's and its constants beside float32's."""
    from ..frontends.sklearn.mlp_network import head_predictions

    head = graph.meta["sklearn_mlp"]
    preds = head_predictions(graph, np.asarray(report["outputs"]))
    return {"estimator": head["estimator"], "task": head["task"], "predictions": preds.tolist(),
            "constants_flash_bytes": report["memory"]["constants_flash_bytes"],
            "float32_constants_bytes": head["float32_constants_bytes"],
            "calibration_samples": head.get("calibration_samples")}
