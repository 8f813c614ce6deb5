"""Public Python API: convert / export / load_model, and CompiledModel that executes the C.

    cm = edgekiln.convert(estimator, target="cortex-m4")
    cm.predict(X); cm.predict_proba(X)

On `host` the generated C runs in-process through cffi; on other targets all rows go
through one firmware run on the target's simulator.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, UnsupportedModelError
from .feature_names import check_feature_names
from .frontends.sklearn import from_sklearn
from .ir import Graph
from .model_io import load_model  # noqa: F401  (public)
from .results import RunResult

__all__ = ["convert", "export", "plan", "load_model", "CompiledModel", "to_graph", "quantize_network"]


def to_graph(model: Any, name: str = "model") -> Graph:
    if isinstance(model, (str, Path)) and Path(model).suffix.lower() in (".onnx", ".tflite"):
        from .model_io import load_model as _load

        model = _load(model)
    if isinstance(model, Graph):
        if model.is_network() and model.name != name:  # the C prefix of a network read from a file
            import dataclasses

            return dataclasses.replace(model, name=name)
        return model
    from .frontends.boosted import from_booster

    graph = from_booster(model, name)  # XGBoost/LightGBM Boosters and model files
    return graph if graph is not None else from_sklearn(model, name=name)


def prepare_graph(model: Any, name: str, options: dict | None, calibration: Any = None) -> tuple[Graph, dict]:
    """The graph to lower and the options with the fixed-point plan when dtype is fixed."""
    from edgekiln.codegen.project import check_option_keys

    check_option_keys(options)
    options = dict(options or {})
    if options.get("dtype") == "int8" and not isinstance(model, (Graph, str, Path)):
        from .mlp_int8 import int8_mlp  # an MLP through the network kernels

        options.pop("dtype")
        return int8_mlp(model, name, calibration), options
    graph = to_graph(model, name)
    if graph.is_network():  # quantize decides the int8 integers (TFLite's Prepare), codegen reads them
        from edgekiln.quantize.nn.requant import prepare_int8

        return prepare_int8(graph), options
    if options.get("dtype", "float32") == "fixed" and "fixed" not in options:
        if calibration is None:
            raise InputError("--dtype fixed chooses its Q formats from the training data ranges: pass the training "
                             "data (calibration=X_train, or --calib X_train.npy)")
        from edgekiln.quantize.fixed_graph import prepare_fixed

        graph, options["fixed"] = prepare_fixed(graph, np.asarray(calibration), int(options.get("fixed_headroom_bits", 1)))
    return graph, options


def plan(model: Any, target: str, *, name: str = "model", options: dict | None = None, calibration: Any = None,
         sim: str | None = None) -> dict:
    """The memory plan `export` would build for these options, without writing anything
    (what `kiln check` prints); raises MemoryBudgetError when the model does not fit."""
    from edgekiln.codegen import plan as codegen_plan
    from edgekiln.targets import get_target

    graph, options = prepare_graph(model, name, options, calibration)
    tgt = get_target(target, sim)
    return _probing_on_target(lambda o: codegen_plan(graph, tgt, o), tgt, options)


def export(model: Any, target: str, out_dir: str | Path, *, name: str = "model", harness_outputs: bool = True,
           options: dict | None = None, calibration: Any = None, sim: str | None = None, force: bool = False):
    """Write the self-contained C project for `model` on `target`; returns ProjectInfo.

    An existing out_dir may hold only files edgekiln wrote (project.json lists them); with
    force=True edgekiln's files are replaced and a user's file in the way is renamed NAME.orig
    (info.kept_aside), never deleted. A failed export leaves nothing behind.

    options: codegen choices, e.g. {"tree_layout": "table"} or {"dtype": "fixed"} (see
    docs/cli.md); fixed point also needs `calibration`, the training data (its ranges)."""
    from edgekiln.codegen import render_project
    from edgekiln.targets import get_target

    graph, options = prepare_graph(model, name, options, calibration)
    tgt = get_target(target, sim)
    return _probing_on_target(lambda o: render_project(graph, tgt, out_dir, harness_outputs=harness_outputs,
                                                       options=o, force=force), tgt, options)


def _probing_on_target(step, target, options: dict):
    """Run a codegen step; when a kernel file's scratch function builds only for the target
    (an override with intrinsics), build the scratch probe for the target, run it on its
    simulator, and run the step again with the answers (options["scratch_probe"]). Answers
    are kept in the user's cache ($XDG_CACHE_HOME/edgekiln/scratch-probe/), keyed by the
    probe's source, the kernel files' bytes, the target and its compiler flags."""
    from edgekiln.codegen.scratch_probe import ScratchProbeNeedsTarget, render_target_probe, target_answers

    try:
        return step(options)
    except ScratchProbeNeedsTarget as err:
        import json
        import os

        ident = hashlib.sha256(json.dumps([err.key, target.name, target.variant, target.cc, target.cflags]).encode())
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgekiln" / "scratch-probe"
        hit = cache / f"{ident.hexdigest()[:24]}.json"
        try:
            answers = json.loads(hit.read_text())
        except (OSError, ValueError):
            from edgekiln.targets.build import build_project
            from edgekiln.targets.simulators.runner import run_network

            with tempfile.TemporaryDirectory(prefix="edgekiln-scratch-") as tmp:
                render_target_probe(err, target, Path(tmp))
                build = build_project(tmp)
                result = run_network(build.elf, target, np.zeros((1, 4), np.uint8), count_instructions=False)
            answers = target_answers(err, result.tensors[0].tobytes())
            try:
                cache.mkdir(parents=True, exist_ok=True)
                tmp_file = hit.with_suffix(f".{os.getpid()}.tmp")
                tmp_file.write_text(json.dumps(answers))
                tmp_file.replace(hit)
            except OSError:
                pass  # a read-only home: probe again next time
        known = {**(options or {}).get("scratch_probe", {}), err.key: answers}
        return step({**(options or {}), "scratch_probe": known})


def convert(model: Any, target: str = "host", *, name: str = "model", workdir: str | Path | None = None,
            opt: str = "-O2", options: dict | None = None, calibration: Any = None,
            harness_outputs: bool = True, sim: str | None = None) -> "CompiledModel":
    """Export, build and return a CompiledModel that executes the generated C.

    Without `workdir` the project goes to a temporary `edgekiln-<target>-*` folder that is
    removed by `close()`, at the end of a `with` block, when the model is garbage collected, or
    at exit; a failed convert removes it at once. A `workdir` is the caller's and is kept."""
    from edgekiln.targets import get_target
    from edgekiln.targets.build import build_project

    graph, options = prepare_graph(model, name, options, calibration)
    tgt = get_target(target, sim)
    tgt.require_toolchain()
    tgt.require_simulator()
    temporary = workdir is None
    out = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"edgekiln-{target}-"))
    try:
        export(graph, target, out, name=name, options=options, harness_outputs=harness_outputs, sim=sim)
        build = build_project(out, opt=opt)
    except BaseException:
        if temporary:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return CompiledModel(graph, tgt, out, build, temporary=temporary)


def validate_input(graph: Graph, X: Any) -> np.ndarray:
    """Shape and value checks with scikit-learn's rules, before anything runs."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"X must be numeric: {e}") from None
    if X.ndim == 1:
        raise InputError(f"X must be 2-D (n_samples, {graph.n_features}); got a 1-D array. "
                         "Use X.reshape(1, -1) for a single sample.")
    if X.ndim != 2:
        raise InputError(f"X must be 2-D (n_samples, {graph.n_features}); got shape {X.shape}. "
                         f"Reshape it to (n_samples, {graph.n_features}).")
    if X.shape[1] != graph.n_features:
        raise InputError(f"X has {X.shape[-1] if X.ndim else 0} features, but the model expects {graph.n_features} "
                         f"(shape {X.shape}).")
    if X.shape[0] == 0:
        raise InputError("X has no samples")
    if np.isfinite(X).all() and not np.isfinite(X.astype(np.float32)).all():
        raise InputError("X has values beyond the float32 range (|x| > 3.4e38) that the device cannot represent")
    policy = graph.meta.get("nan_policy", {"nan": "NaN not allowed", "inf": "inf not allowed"})
    if policy.get("nan") and np.isnan(X).any():
        raise InputError(f"X contains NaN at row {int(np.argwhere(np.isnan(X))[0][0])}: {policy['nan']}")
    if policy.get("inf") and np.isinf(X).any():
        raise InputError(f"X contains infinity at row {int(np.argwhere(np.isinf(X))[0][0])}: {policy['inf']}")
    return X.astype(np.float32)


class CompiledModel:
    """A model compiled for a target; its methods run the generated C on that target."""

    def __init__(self, graph: Graph, target, project: Path, build, *, temporary: bool = False) -> None:
        self.graph, self.target, self.project, self.build = graph, target, project, build
        self.last_run: RunResult | None = None
        self._cache: tuple[bytes, RunResult] | None = None
        self._lib = None
        self._closed = False
        # a temporary project goes with the model: at close(), garbage collection or exit
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(project), True) if temporary else None

    def close(self) -> None:
        """Remove the temporary project folder (a `workdir` is kept); the model cannot run after."""
        self._closed = True
        self._lib = None
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> "CompiledModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def classes_(self) -> np.ndarray | None:
        return None if self.graph.classes is None else np.asarray(self.graph.classes)

    def run(self, X: Any) -> RunResult:
        if self._closed:
            raise InputError("this CompiledModel was closed (its firmware is gone); convert the model again")
        if self.graph.is_network():
            return self._run_network(X)
        # DataFrame column names as scikit-learn checks them (files on the CLI carry none)
        check_feature_names(self.graph.meta.get("feature_names"), X, self.graph.meta.get("estimator", "the model"))
        X32 = validate_input(self.graph, X)
        key = hashlib.sha1(X32.tobytes()).digest()
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        if self.target.kind == "host":
            result = self._run_in_process(X32)
        else:
            from edgekiln.targets.simulators import run_firmware

            result = run_firmware(self.build.elf, self.target, X32)
        self._cache = (key, result)
        self.last_run = result
        return result

    def _run_network(self, X: Any) -> RunResult:
        """Networks: X of shape (n_samples, *input shape), floats (quantized on the way in)."""
        from . import nn_run
        from edgekiln.targets.simulators.runner import run_network

        X32 = nn_run.check_inputs(self.graph, X)
        key = hashlib.sha1(X32.tobytes()).digest()
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        plan = nn_run.project_plan(self.project)
        result = run_network(self.build.elf, self.target, nn_run.to_device(self.graph, X32, plan))
        raw, outputs = nn_run.from_device(self.graph, result.tensors, plan)
        result.outputs, result.extra["outputs_raw"] = outputs, raw
        result.labels = outputs.reshape(len(outputs), -1).argmax(axis=1).astype(np.int32)
        self._cache = (key, result)
        self.last_run = result
        return result

    def predict_raw(self, X: Any) -> np.ndarray:
        """Networks: each sample's output tensor as the device stores it (int8 for int8 models)."""
        if not self.graph.is_network():
            raise UnsupportedModelError("predict_raw is for networks; use predict")
        return self.run(X).extra["outputs_raw"]

    def _run_in_process(self, X32: np.ndarray) -> RunResult:
        from edgekiln.targets.host_lib import load_model_library

        if self._lib is None:
            self._lib = load_model_library(self.project)
        labels, outputs = self._lib.run(X32)
        return RunResult(target="host", simulator="in-process", labels=labels, outputs=outputs,
                         task={"classify": 0, "regress": 1, "cluster": 2}[self.graph.task])

    def predict(self, X: Any) -> np.ndarray:
        """Classic models: labels or values. Networks: the output tensor per sample, as floats
        (dequantized for int8 models), shape (n_samples, *output shape)."""
        r = self.run(X)
        if self.graph.is_network():
            if "sklearn_mlp" in self.graph.meta:  # an int8 MLP answers as scikit-learn does
                from .frontends.sklearn.mlp_network import head_predictions

                return head_predictions(self.graph, r.outputs)
            return r.outputs
        if self.graph.task == "regress":
            return r.outputs[:, 0].astype(np.float64)
        if self.graph.task == "classify":
            return self.classes_[r.labels]
        return r.labels.astype(np.int64)

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.graph.score_kind != "proba":
            raise UnsupportedModelError(f"{self.graph.meta.get('estimator')} has no predict_proba on device")
        return self.run(X).outputs.astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        if self.graph.score_kind != "decision":
            raise UnsupportedModelError(f"{self.graph.meta.get('estimator')} has no decision_function on device")
        out = self.run(X).outputs.astype(np.float64)
        return out[:, 0] if out.shape[1] == 1 else out

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly detectors (IsolationForest, OneClassSVM): scikit-learn's score_samples,
        the device's decision_function + offset_ (decision_function = score_samples - offset_)."""
        offset = self.graph.nodes[-1].attrs.get("score_offset") if self.graph.nodes else None
        if offset is None:
            raise UnsupportedModelError(f"{self.graph.meta.get('estimator')} has no score_samples on device")
        return self.decision_function(X) + float(offset)


def quantize_network(model: Any, calibration: Any, *, wbits: int = 8, abits: int = 8, method: str = "rtn",
                     granularity: str = "per-channel", observer: str = "minmax", percentile: float = 99.99,
                     output: str | Path | None = None, int4: str = "onnx", evaluate: Any = None,
                     input_shapes: dict | None = None) -> dict:
    """Post-training quantization of a float ONNX network (path or ModelProto).

    calibration: float inputs (n, *input shape) (a leading sample axis). Returns a dict with
    `graph` (the int8 IR), `qdq` (the QDQ ModelProto), `report` (per-layer scales, bits and
    SQNR vs float on `evaluate`, default the calibration set) and `notes`. With `output`, the
    QDQ model is written there (atomically). 4-bit weights are INT4 initializers (opset 21)
    when onnxruntime runs them, else int8 initializers holding the int4 values (a note says so).
    input_shapes ({input name: shape}, `--input-shape`) fixes dynamic input dimensions, in the
    QDQ model too."""
    import onnx

    from edgekiln.quantize.nn.qdq_export import to_qdq
    from edgekiln.quantize.nn.qreport import evaluate as evaluate_network
    from edgekiln.quantize.nn.quantizer import QuantConfig, calibration_samples, check_config, quantize_graph

    from .frontends.onnx import from_onnx
    from .frontends.onnx._load import load_model as load_onnx

    config = QuantConfig(wbits, abits, method, granularity, observer, percentile)
    check_config(config)
    proto = load_onnx(model) if isinstance(model, (str, Path)) else model
    if input_shapes:
        from .frontends.onnx import fix_input_shapes

        fixed = onnx.ModelProto()
        fixed.CopyFrom(proto)
        fix_input_shapes(fixed, input_shapes)
        proto = fixed
    folder = Path(model).resolve().parent if isinstance(model, (str, Path)) else None
    graph = from_onnx(proto, Path(str(model)).stem if isinstance(model, (str, Path)) else "model", folder)
    if graph.meta.get("source") == "onnx-qdq":
        raise InputError("this model is already quantized (QDQ); give the float ONNX model")
    qn = quantize_graph(graph, calibration, config)
    notes = []
    qdq = to_qdq(proto, qn.graph, qn.aliases, int4=int4)
    if wbits == 4 and int4 == "onnx" and not _onnxruntime_runs(qdq):
        qdq = to_qdq(proto, qn.graph, qn.aliases, int4="int8")
        notes.append("onnxruntime does not run INT4 DequantizeLinear here: int4 weights are stored as int8 initializers "
                     "holding values in [-7, 7]")
    if wbits == 4 and int4 == "int8":
        notes.append("int4 weights stored as int8 initializers holding values in [-7, 7]")
    samples = calibration_samples(graph, calibration if evaluate is None else evaluate)
    report = evaluate_network(qn, samples)
    report["notes"] = notes
    if output is not None:
        out = Path(output)
        tmp = out.with_name(out.name + ".tmp")
        onnx.save(qdq, str(tmp))
        tmp.replace(out)
    return {"graph": qn.graph, "qdq": qdq, "report": report, "notes": notes, "network": qn}


def _onnxruntime_runs(model) -> bool:
    try:
        import onnxruntime as ort

        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return True
    except Exception:  # noqa: BLE001  (any failure to load means: not runnable here)
        return False
