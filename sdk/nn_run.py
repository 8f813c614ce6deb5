"""Running networks on a device (shell): float inputs in the model's input shape with a
leading sample axis, quantized on the way in by the input scale (int8 models) and sent as
raw tensor bytes (harness protocol 2); outputs back as stored integers (`outputs_raw`) and
dequantized floats (`outputs`); comparisons with the golden models and with the oracles
(LiteRT's reference kernels for .tflite, onnxruntime for .onnx)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .ir import Graph, ValueInfo

NP_DTYPES = {"int8": np.int8, "int16": np.int16, "float32": np.float32, "int32": np.int32}


def sample_shape(v: ValueInfo) -> tuple[int, ...]:
    """One sample's shape: the tensor's dims without the batch of 1."""
    dims = tuple(v.dims)
    return dims[1:] if len(dims) > 1 and dims[0] == 1 else dims


def check_inputs(graph: Graph, X: Any) -> np.ndarray:
    """X as float32 (n, *input shape): the sample axis first, then the model's input shape
    (with or without its batch of 1). One clear error otherwise."""
    v = graph.inputs[0]
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"inputs must be numeric: {e}") from None
    want = sample_shape(v)
    if X.shape[1:] == tuple(v.dims) and len(v.dims) > len(want):
        X = X.reshape((X.shape[0],) + want)
    if X.ndim != len(want) + 1 or X.shape[1:] != want:
        raise InputError(f"inputs must have shape (n_samples, {', '.join(map(str, want))}) for input {v.name!r} "
                         f"{list(v.dims)}; got {X.shape}")
    if X.shape[0] == 0:
        raise InputError("the inputs hold no samples")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise InputError(f"inputs contain NaN or infinity (sample {int(bad[0])}); networks take finite floats")
    return X.astype(np.float32)


def stored(graph: Graph, X: np.ndarray) -> np.ndarray:
    """Each sample's input as stored, in the model's own layout: (n, *input dims)."""
    from edgekiln.quantize.nn.requant import quantize_input

    v = graph.inputs[0]
    if v.dtype == "float32":
        q = X.astype(np.float32)
    elif v.quant is not None:
        q = quantize_input(X, v.quant, v.dtype)
    else:
        raise InputError(f"input {v.name!r} is {v.dtype} without quantization; cannot quantize float inputs for it")
    return np.ascontiguousarray(q).reshape((len(X),) + tuple(v.dims))


def to_device(graph: Graph, X: np.ndarray, plan: dict | None = None) -> np.ndarray:
    """(n, input bytes) uint8: each sample's input tensor as the device stores it (permuted
    to the device's layout where the plan says so)."""
    q = stored(graph, X)
    perm = (plan or {}).get("input", {}).get("permutation")
    if perm:
        q = np.stack([np.transpose(s, perm) for s in q])
    return np.ascontiguousarray(q.astype(q.dtype.newbyteorder("<"))).reshape(len(X), -1).view(np.uint8)


def from_device(graph: Graph, tensors: np.ndarray, plan: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(outputs_raw as stored, outputs as float32), each (n, *output shape) in the model's layout."""
    from edgekiln.quantize.nn.requant import dequantize

    v = graph.outputs[0]
    n = len(tensors)
    out = (plan or {}).get("output", {})
    dims = tuple(out.get("shape") or v.dims)
    raw = np.ascontiguousarray(tensors).view(np.dtype(NP_DTYPES[v.dtype]).newbyteorder("<")).reshape((n,) + dims)
    if out.get("permutation"):
        raw = np.stack([np.transpose(r, out["permutation"]) for r in raw])
    raw = np.ascontiguousarray(raw).astype(NP_DTYPES[v.dtype]).reshape((n,) + sample_shape(v))
    if v.dtype == "float32" or v.quant is None:
        return raw.copy(), raw.astype(np.float32)
    return raw.copy(), dequantize(raw, v.quant)


def golden(graph: Graph, q: np.ndarray, keep_all: bool = False) -> list[dict[str, np.ndarray]]:
    """The golden model (int8 TFLite arithmetic or float32) per sample, on the stored inputs
    (`stored(graph, X)`)."""
    from edgekiln.quantize.nn import float_reference, int8_reference

    v = graph.inputs[0]
    run = float_reference.run if v.dtype == "float32" else int8_reference.run  # int16: audio into an int8 mfcc
    return [run(graph, {v.name: q[i]}, keep_all=keep_all) for i in range(len(q))]


def reference_outputs(path: str | Path, graph: Graph, q: np.ndarray, X: np.ndarray) -> tuple[str, np.ndarray]:
    """The oracle's outputs: ("tflite", stored integers from LiteRT BUILTIN_REF) or
    ("onnx", float32 from onnxruntime, optimisations off)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"reference model {p} does not exist")
    v = graph.inputs[0]
    if p.suffix.lower() == ".tflite":
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise InputError("--reference .tflite needs LiteRT: pip install 'edgekiln[nn]'") from None
        it = Interpreter(str(p), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        x = np.ascontiguousarray(q).astype(inp["dtype"]).reshape((len(q),) + tuple(inp["shape"]))
        res = []
        for i in range(len(x)):
            it.set_tensor(inp["index"], x[i])
            it.invoke()
            res.append(it.get_tensor(out["index"]).copy())
        return "tflite", np.stack(res).reshape((len(x),) + sample_shape(graph.outputs[0]))
    if p.suffix.lower() == ".onnx":
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError("--reference .onnx needs onnxruntime: pip install 'edgekiln[nn]'") from None
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
        i0 = sess.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in i0.shape]
        res = [sess.run(None, {i0.name: X[i].reshape(shape).astype(np.float32)})[0] for i in range(len(X))]
        return "onnx", np.stack(res).reshape((len(X),) + sample_shape(graph.outputs[0])).astype(np.float32)
    raise InputError(f"--reference for a network takes a .tflite or .onnx file, not {p.suffix!r}")


def compare(kind: str, ref: np.ndarray, raw: np.ndarray, outputs: np.ndarray) -> dict:
    """reference_bit_exact (int8 oracle) or a float comparison (onnx)."""
    n = len(raw)
    if kind == "tflite":
        same = [bool(np.array_equal(ref[i], raw[i])) for i in range(n)]
        return {"reference_bit_exact": int(sum(same)), "n_samples": n,
                "differing_samples": [i for i, s in enumerate(same) if not s],
                "max_abs_lsb": int(np.abs(ref.astype(np.int64) - raw.astype(np.int64)).max())}
    diff = np.abs(ref.astype(np.float64) - outputs.astype(np.float64))
    top = [bool(np.argmax(ref[i]) == np.argmax(outputs[i])) for i in range(n)]
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()), "top1_agreement": sum(top) / n,
            "n_samples": n}


def run_project(path: Path, graph: Graph, X: np.ndarray, *, trace: bool = False, timeout: float | None = None,
                echo=None) -> tuple[dict, Any, np.ndarray]:
    """Build if needed and run a network project over X: (report, RunResult, stored inputs)."""
    from edgekiln.targets.build import ensure_built, load_project
    from edgekiln.targets import project_target
    from edgekiln.targets.simulators.runner import run_network

    meta = load_project(path)
    target = project_target(meta)
    build, how = ensure_built(path)
    if echo is not None:
        echo(how)
    result = run_network(path / "fw.elf", target, to_device(graph, X, meta["plan"]), trace=trace, timeout=timeout)
    return network_report(graph, meta["plan"], result, build.to_dict()), result, stored(graph, X)


def network_report(graph: Graph, plan: dict, result, build: dict) -> dict:
    """The `kiln run --json` document of a network (docs/cli.md)."""
    raw, outputs = from_device(graph, result.tensors, plan)
    n = len(raw)
    flat = outputs.reshape(n, -1)
    layers = []
    per_layer = np.asarray(result.layer_instructions) if result.layer_instructions else None
    crit = result.extra.get("layer_critical_path")
    crit = np.asarray(crit) if crit else None
    for j, layer in enumerate(plan["layers"]):
        insn = int(np.median(per_layer[:, j])) if per_layer is not None else None
        layers.append({**{k: layer[k] for k in ("index", "name", "op", "dtype", "kernel", "variant", "macs")},
                       "instructions": insn,
                       "critical_path": int(np.median(crit[:, j])) if crit is not None else None,
                       "macs_per_instruction": (layer["macs"] / insn) if insn and layer["macs"] else None})
    insn = int(np.median(result.instructions)) if result.instructions else None
    stack = result.stack_bytes
    return {
        "target": result.target, "simulator": result.simulator, "model": graph.name, "task": "network",
        "n_samples": n, "predictions": [int(np.argmax(r)) for r in flat],
        "outputs": outputs.tolist(), "outputs_raw": raw.tolist(), "output_dtype": graph.outputs[0].dtype,
        "instructions": result.instruction_summary(),
        "critical_path_median": int(np.median(result.critical_path)) if result.critical_path else None,
        "cores": plan["cores"],
        "macs": plan["macs"], "macs_per_instruction": (plan["macs"] / insn) if insn else None,
        "layers": layers,
        "memory": {"arena_bytes": plan["arena_bytes"], "arena_region": plan["arena_region"], "stack_bytes": stack,
                   "peak_ram_bytes": plan["arena_bytes"] + (stack or 0), "flash_bytes": build["model_flash_bytes"],
                   "constants_flash_bytes": plan["constants_flash_bytes"],
                   "static_ram_bytes": build["model_ram_bytes"], "regions": build["regions"]},
    }


def print_network_summary(report: dict, console) -> None:
    from rich.table import Table

    t = Table(title=f"{report['model']} on {report['target']} ({report['simulator']}), {report['n_samples']} samples")
    for col in ("layer", "op", "kernel file", "MACs", "instructions", "MACs/insn"):
        t.add_column(col, justify="right" if col in ("MACs", "instructions", "MACs/insn") else "left")
    for layer in report["layers"]:
        t.add_row(f"{layer['index']} {layer['name']}", layer["op"], layer["variant"] or "(alias)", f"{layer['macs']:,}",
                  "-" if layer["instructions"] is None else f"{layer['instructions']:,}",
                  "-" if layer["macs_per_instruction"] is None else f"{layer['macs_per_instruction']:.3f}")
    console.print(t)
    mem = report["memory"]
    stack = mem["stack_bytes"] if mem["stack_bytes"] is not None else "?"
    line = f"arena {mem['arena_bytes']:,} B in {mem['arena_region']}, stack {stack} B, flash {mem['flash_bytes']:,} B"
    if report["instructions"]:
        line += (f"; {report['instructions']['per_inference_median']:,} instructions per inference (median), "
                 f"{report['macs_per_instruction']:.3f} MACs per instruction")
    console.print(line, highlight=False)
    if "reference" in report:
        console.print("reference: " + ", ".join(f"{k}={v}" for k, v in report["reference"].items()
                                                 if k != "differing_samples"), highlight=False)


def debug_layers(graph: Graph, plan: dict, traces: dict[int, bytes], q: np.ndarray, atol: float = 1e-5) -> list[dict]:
    """Every layer's output on the device (traced) vs the golden model, for one sample:
    per layer the count of differing elements and the first one (index, device, golden)."""
    gold = golden(graph, q, keep_all=True)[0]
    values = {v.name: v for v in graph.all_values()}
    rows = []
    for layer in plan["layers"]:
        v = values[layer["output"]]
        want = np.asarray(gold[v.name]).reshape(v.dims)
        got_bytes = traces.get(layer["index"])
        if got_bytes is None:
            rows.append({**_layer_id(layer), "status": "missing"})
            continue
        got = np.frombuffer(got_bytes[:v.nbytes], dtype=NP_DTYPES[v.dtype]).reshape(v.dims)
        if v.dtype == "float32":
            bad = ~np.isclose(got, want, rtol=1e-5, atol=atol)
            diff = float(np.abs(got.astype(np.float64) - want).max())
        else:
            bad = got != want
            diff = int(np.abs(got.astype(np.int64) - want.astype(np.int64)).max())
        row = {**_layer_id(layer), "shape": list(v.dims), "dtype": v.dtype, "differing": int(bad.sum()),
               "elements": int(bad.size), "max_abs_diff": diff, "status": "same" if not bad.any() else "DIFFERS"}
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            row["first_difference"] = {"index": list(idx), "device": got[idx].item(), "golden": want[idx].item()}
        rows.append(row)
    return rows


def _layer_id(layer: dict) -> dict:
    return {k: layer[k] for k in ("index", "name", "op", "variant", "output")}


def project_plan(path: Path) -> dict:
    from edgekiln.targets.build import load_project

    return load_project(Path(path))["plan"]
