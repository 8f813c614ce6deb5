"""`kiln run`: run a project's firmware on its simulator over a data file."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError
from ._app import main
from ._console import console, echo
from ._inputs import load_model_file, read_data
from ._options import data_option, json_option, sim_option, timeout_option, trust_pickle_option


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
def run(project: str, data: str, json_path: str | None, reference: str | None, labels_path: str | None,
        trust_pickle: bool, timeout: float | None, sim: str | None) -> None:
    """Run PROJECT's firmware on its simulator over the rows of --data."""
    from edgekiln.targets.build import ensure_built, load_project
    from edgekiln.targets.simulators import run_firmware

    from ..api import validate_input
    from ..ir import Graph
    from ..report import check_reference, label_scores, print_run_summary, reference_agreement, run_report

    path = Path(project)
    meta = load_project(path)
    target = _exported_target(path, meta, sim)
    graph = Graph.from_json((path / "graph.json").read_text())
    if graph.is_network():
        return _run_network(path, graph, data, json_path, reference, labels_path, timeout)
    X32 = validate_input(graph, read_data(data))
    y_true = read_data(labels_path).reshape(-1) if labels_path else None
    if y_true is not None and len(y_true) != len(X32):
        raise InputError(f"--labels has {len(y_true)} values but --data has {len(X32)} samples")
    ref_model = load_model_file(reference, trust_pickle) if reference else None
    is_exported = check_reference(graph, ref_model) if ref_model is not None else None
    build, how = ensure_built(path)
    echo(how, err=True)
    built = build.to_dict()
    result = run_firmware(path / "fw.elf", target, X32, timeout=timeout)
    report = run_report(graph, result, built)
    if ref_model is not None:
        report["reference_agreement"] = {**reference_agreement(graph, report["predictions"], ref_model, X32),
                                         "is_exported_model": is_exported}
    if y_true is not None:
        report["labels"] = label_scores(graph, report["predictions"], y_true)
    print_run_summary(report, console)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
        console.print(f"report written to {json_path}")


def _run_network(path: Path, graph, data: str, json_path: str | None, reference: str | None,
                 labels_path: str | None, timeout: float | None) -> None:
    """Networks: --data holds float inputs (n_samples, *input shape); --reference a .tflite
    (bit-exact count against LiteRT's reference kernels) or .onnx (float comparison)."""
    from .. import nn_run

    X = nn_run.check_inputs(graph, read_data(data))
    if labels_path:
        raise InputError("--labels is for classic models; compare a network's predictions in the JSON report")
    report, result, stored = nn_run.run_project(path, graph, X, timeout=timeout, echo=lambda m: echo(m, err=True))
    if reference:
        kind, ref = nn_run.reference_outputs(reference, graph, stored, X)
        raw, outputs = nn_run.from_device(graph, result.tensors, nn_run.project_plan(path))
        report["reference"] = {"file": str(reference), "kind": kind, **nn_run.compare(kind, ref, raw, outputs)}
    nn_run.print_network_summary(report, console)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
        console.print(f"report written to {json_path}")
