"""The DS-CNN figure rows of issue 11 (benchmarks/nn_kws.py --json): W8A8 / W4A8 from
`edgekiln.quantize_network` (calibrated on the `train` split only) and the official int8 TFLite,
each measured twice:

- on every held-out `eval` clip by the golden model (agreement with the float model's top-1,
  logit SQNR): the int8 golden model of the QDQ file that `kiln quantize` writes, read back by
  the ONNX frontend exactly as `kiln export` reads it;
- on the device (QEMU) for a subset of the clips: the exported, -O2 built firmware's raw int8
  outputs == the golden model's (`bit_exact`; for official-int8 also the golden model ==
  LiteRT BUILTIN_REF on every clip), instructions per inference (QEMU plugin, median; with
  several cores the critical path), MACs per instruction, peak RAM (planned arena + measured
  stack), flash (the model's objects in the link map = code + constants, and the constants
  alone: weights, biases, per-node parameter structs).

Because the device is bit-exact with the golden model on the clips it runs, the agreement of
the golden model over all clips is the device's agreement."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

QUANT = [("W8A8", 8, "rtn"), ("W4A8", 4, "rtn")]


def quant_configs(methods_wanted: tuple[str, ...] = ("rtn", "adaround")) -> list[tuple[str, int, str]]:
    """W8A8 and W4A8 for each wanted weight method that is registered here (rtn always;
    adaround where quantize/nn has it)."""
    import importlib

    from edgekiln.quantize.nn import methods

    for mod in ("rtn", "adaround"):
        try:
            importlib.import_module(f"edgekiln.quantize.nn.{mod}")  # registers its methods
        except ImportError:
            pass
    names = methods.WEIGHT_METHODS.names()
    return [(c, b, m) for m in methods_wanted if m in names for c, b, _ in QUANT]


def calib_features(n: int = 256, seed: int = 0) -> np.ndarray:
    """n clips of the `train` split (seeded choice), featurised by the numpy MFCC."""
    from edgekiln.audio import build_set
    from edgekiln.audio.features import KWS_MFCC
    from edgekiln.quantize.nn.mfcc import mfcc

    train = build_set("train")
    pick = np.random.default_rng(seed).choice(len(train), min(n, len(train)), replace=False)
    train = train.select(np.isin(np.arange(len(train)), pick))
    return mfcc(train.float_audio(), KWS_MFCC)[..., None].astype(np.float32)


def golden_logits(graph, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(raw int8 outputs [n, k], dequantized softmax inputs [n, k]) of the int8 golden model."""
    from edgekiln import nn_run
    from edgekiln.quantize.nn.qreport import logits_name
    from edgekiln.quantize.nn.requant import dequantize

    q = nn_run.stored(graph, feats)
    lname, out = logits_name(graph), graph.outputs[0].name
    raws, lgs = [], []
    for r in nn_run.golden(graph, q, keep_all=True):
        raws.append(np.asarray(r[out]).reshape(-1))
        lgs.append(np.asarray(dequantize(r[lname], graph.value(lname).quant), np.float64).reshape(-1))
    return np.stack(raws), np.stack(lgs)


def device_run(model: Path, target: str, cores: int, feats: np.ndarray, work: Path, tag: str) -> dict:
    """Export `model` (a file, as the CLI does), build, run `feats` on the simulator."""
    import edgekiln
    from edgekiln import nn_run
    from edgekiln.api import prepare_graph

    out = work / f"{tag}-{target}-{cores}"
    edgekiln.export(str(model), target, out, name="kws", options={"cores": cores})
    graph, _ = prepare_graph(model, "kws", None)
    X = nn_run.check_inputs(graph, feats)
    report, result, q = nn_run.run_project(out, graph, X)
    raw, _ = nn_run.from_device(graph, result.tensors, nn_run.project_plan(out))
    gold = np.stack([np.asarray(r[graph.outputs[0].name]) for r in nn_run.golden(graph, q)]).reshape(raw.shape)
    mem = report["memory"]
    insn = report["critical_path_median"] if cores > 1 and report["critical_path_median"] else (
        report["instructions"]["per_inference_median"] if report["instructions"] else None)
    dtype = graph.outputs[0].dtype
    same = bool(np.array_equal(raw, gold)) if dtype != "float32" else None
    return {"device_clips": int(len(X)), "device_equals_golden": same,
            "max_abs_diff": None if dtype != "float32" else float(np.abs(raw.astype(np.float64) - gold).max()),
            "instructions_per_inference": insn,
            "macs_per_instruction": round(report["macs"] / insn, 4) if insn else None,
            "macs_per_instruction_per_core": round(report["macs"] / insn / cores, 4) if insn else None,
            "macs": report["macs"], "cores": cores, "arena_bytes": mem["arena_bytes"],
            "arena_region": mem["arena_region"], "stack_bytes": mem["stack_bytes"],
            "peak_ram_bytes": mem["peak_ram_bytes"], "flash_bytes": mem["flash_bytes"],
            "constants_flash_bytes": mem["constants_flash_bytes"],
            "kernels": sorted({layer["variant"] for layer in report["layers"] if layer["variant"]})}


def parse_targets(spec: str) -> list[tuple[str, int]]:
    """'cortex-m4,gap8:8' -> [('cortex-m4', 1), ('gap8', 8)]."""
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if item:
            name, _, cores = item.partition(":")
            out.append((name, int(cores or 1)))
    return out


def network_rows(shared: Path, feats: np.ndarray, labels: np.ndarray, ref_top1: np.ndarray, ref_logits: np.ndarray,
                 targets: list[tuple[str, int]], device_clips: int, n_calib: int = 256,
                 official_golden_equals_litert: bool | None = None, float_targets: list[str] = (),
                 methods_wanted: tuple[str, ...] = ("rtn", "adaround")) -> list[dict]:
    """One row per (config, target); `ref_top1` / `ref_logits` are the float model's on `feats`."""
    import edgekiln
    from edgekiln.frontends.onnx import from_onnx
    from edgekiln.quantize.nn.requant import prepare_int8

    from benchmarks.nn_kws import DEVICE_FIELDS, sqnr_db

    onnx_path, tfl_path = shared / "kws_dscnn_f32.onnx", shared / "kws_ref_int8.tflite"
    pick = np.linspace(0, len(feats) - 1, device_clips).astype(int) if device_clips else np.zeros(0, int)
    rows = []
    cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def emit(config, method, model_file, golden_graph, target, cores, work, extra):
        if (config, method) not in cache:
            cache[(config, method)] = golden_logits(golden_graph, feats)
        raw, lg = cache[(config, method)]
        top = lg.argmax(1)
        r = {"model": "kws_dscnn", "target": target if cores == 1 else f"{target} ({cores} cores)", "config": config,
             "method": method, "agreement": round(float(np.mean(top == ref_top1)), 4),
             "accuracy": round(float(np.mean(top == labels)), 4),
             "logit_sqnr_db": round(sqnr_db(ref_logits, lg), 2), "clips": int(len(feats)),
             **{k: None for k in DEVICE_FIELDS}, **extra}
        if target != "golden" and len(pick):
            d = device_run(model_file, target, cores, feats[pick], work, f"{config}-{method}")
            r.update(d)
            ok = d["device_equals_golden"]
            if config == "official-int8":
                r["golden_equals_litert"] = official_golden_equals_litert
                ok = bool(ok and official_golden_equals_litert)
            r["bit_exact"] = ok
        rows.append(r)
        return raw

    with tempfile.TemporaryDirectory(prefix="ek-nn-kws-") as tmp:
        work = Path(tmp)
        if onnx_path.is_file():
            calib = calib_features(n_calib)
            for config, wbits, method in quant_configs(methods_wanted):
                qfile = work / f"kws_{config}_{method}.q.onnx"
                rep = edgekiln.quantize_network(str(onnx_path), calib, wbits=wbits, method=method,
                                                output=qfile)["report"]
                g = prepare_int8(from_onnx(qfile, "kws"))  # the QDQ file, read as kiln export reads it
                extra = {"calibration_clips": int(len(calib)), "qdq_file_bytes": qfile.stat().st_size,
                         "report_agreement_on_calibration": round(rep["agreement"], 4)}
                for target, cores in targets or [("golden", 1)]:
                    emit(config, method, qfile, g, target, cores, work, dict(extra))
        if tfl_path.is_file():
            from edgekiln.frontends.tflite import from_tflite

            g = prepare_int8(from_tflite(tfl_path, "kws"))
            for target, cores in targets or [("golden", 1)]:
                emit("official-int8", "-", tfl_path, g, target, cores, work, {})
        for target in float_targets if onnx_path.is_file() and len(pick) else ():
            d = device_run(onnx_path, target, 1, feats[pick], work, "float")
            rows.append({"model": "kws_dscnn", "target": target, "config": "float", "method": "-",
                         "agreement": 1.0, "accuracy": None, "logit_sqnr_db": None, "clips": int(len(feats)),
                         **{k: None for k in DEVICE_FIELDS}, **d, "bit_exact": None})
    return rows


BEST = {"agreement": max, "logit_sqnr_db": max, "macs_per_instruction": max, "peak_ram_bytes": min,
        "constants_flash_bytes": min, "flash_bytes": min, "instructions_per_inference": min}
COLUMNS = [("config", "config"), ("method", "method"), ("agreement", "agreement"), ("logit_sqnr_db", "logit SQNR dB"),
           ("bit_exact", "bit-exact"), ("macs_per_instruction", "MACs/insn"),
           ("instructions_per_inference", "instructions"), ("peak_ram_bytes", "peak RAM B"),
           ("constants_flash_bytes", "flash: constants B"), ("flash_bytes", "flash: code+constants B")]


def _fmt(key, v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if key == "agreement":
        return f"{v:.3f}"
    if key == "logit_sqnr_db":
        return f"{v:.2f}"
    if key == "macs_per_instruction":
        return f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def markdown(rows: list[dict]) -> str:
    """One table, rows grouped by target, the best value of each column within a group in bold."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["target"], []).append(r)
    lines = ["| target | " + " | ".join(h for _, h in COLUMNS) + " |",
             "|---|" + "|".join("---" if k in ("config", "method", "bit_exact") else "---:" for k, _ in COLUMNS) + "|"]
    for target, rs in groups.items():
        best = {}
        for k, pick in BEST.items():
            # the float model's agreement with itself is no figure to win
            cand = [r for r in rs if not (k == "agreement" and r["config"] == "float")]
            vals = [r.get(k) for r in cand if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
            if len(vals) > 1:
                best[k] = (_fmt(k, pick(vals)), {id(r) for r in cand})
        for r in rs:
            cells = []
            for k, _ in COLUMNS:
                s = _fmt(k, r.get(k))
                cells.append(f"**{s}**" if k in best and s == best[k][0] and id(r) in best[k][1] else s)
            lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
