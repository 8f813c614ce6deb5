"""KWS DS-CNN on every target through the public path: the official int8 TFLite (and the float
ONNX on targets with an FPU) exported, built (-O2) and run over the 20 samples of
../shared/models/kws_dscnn, the way a user does it (edgekiln.export, build, run):

    python benchmarks/nn_kws_device.py --json build/bench/nn_kws_device.json [--targets host,cortex-m4] [--cores N]

Per row: bit-exactness with LiteRT's reference kernels (int8; every element of every sample)
or the max abs difference to onnxruntime (float), instructions per inference (QEMU plugin,
summed over the per-layer markers; median of the samples), MACs per instruction (2,656,768
MACs), the critical path with --cores, arena / measured stack / peak RAM (arena + stack), model
flash (code + constants from the link map) and the kernel file of every layer.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import edgekiln
from edgekiln import nn_run
from edgekiln.api import prepare_graph
from edgekiln.targets.registry import all_targets

KWS = Path(__file__).resolve().parents[2] / "shared" / "models" / "kws_dscnn"
if not KWS.is_dir():
    KWS = Path("/work/shared/models/kws_dscnn")
CONFIGS = {"official-int8": "kws_ref_int8.tflite", "float": "kws_dscnn_f32.onnx"}


def row(target: str, config: str, cores: int, tmp: Path) -> dict:
    model = KWS / CONFIGS[config]
    x = np.load(KWS / "kws_samples.npz")["x"]
    out = tmp / f"{target}-{config}"
    edgekiln.export(str(model), target, out, name="kws", options={"cores": cores})
    graph, _ = prepare_graph(model, "kws", None)
    X = nn_run.check_inputs(graph, x)
    report, result, q = nn_run.run_project(out, graph, X)
    kind, ref = nn_run.reference_outputs(model, graph, q, X)
    raw, outputs = nn_run.from_device(graph, result.tensors, nn_run.project_plan(out))
    cmp = nn_run.compare(kind, ref, raw, outputs)
    mem = report["memory"]
    insn = report["instructions"]["per_inference_median"] if report["instructions"] else None
    return {"model": "kws_dscnn", "target": target, "config": config, "cores": cores,
            "bit_exact": cmp.get("reference_bit_exact") == len(x) if kind == "tflite" else None,
            "reference_bit_exact": cmp.get("reference_bit_exact"), "max_abs_diff": cmp.get("max_abs_diff"),
            "instructions_per_inference": insn, "critical_path": report["critical_path_median"],
            "macs_per_instruction": report["macs_per_instruction"], "arena_bytes": mem["arena_bytes"],
            "arena_region": mem["arena_region"], "stack_bytes": mem["stack_bytes"],
            "peak_ram_bytes": mem["peak_ram_bytes"], "flash_bytes": mem["flash_bytes"],
            "kernels": sorted({layer["variant"] for layer in report["layers"] if layer["variant"]})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--targets", default=None, help="comma-separated (default: every target with a simulator here)")
    ap.add_argument("--cores", type=int, default=1, help="cores per inference (capped at each target's)")
    args = ap.parse_args()
    targets = all_targets()
    names = args.targets.split(",") if args.targets else [
        n for n, t in targets.items() if t.simulator.get("name") in ("qemu", "native") and t.compiler_path()
        and (t.simulator.get("name") == "native" or t.simulator_path())]
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekiln-nn-bench-") as tmp:
        for name in names:
            t = targets[name]
            for config in CONFIGS:
                if config == "float" and t.fpu.startswith("none"):
                    continue
                r = row(name, config, min(args.cores, t.cores), Path(tmp))
                rows.append(r)
                print(json.dumps({k: r[k] for k in ("target", "config", "bit_exact", "max_abs_diff",
                                                    "instructions_per_inference", "macs_per_instruction",
                                                    "peak_ram_bytes", "flash_bytes")}))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
