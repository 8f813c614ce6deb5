"""Parallel speedup of the classic zoo on the 8-core PULP cluster (GAP8, PULP-OPEN on QEMU).

    python benchmarks/pulp_parallel.py --json r.json [--samples 48] [--markdown]

For each model (fitted on 75% of digits, seed 0) and target, the same test samples run
1-core, 8-core with parallel kernels (work of one inference split across the cluster) and
8-core batch (whole inferences side by side, samples split across the cluster), plus the
1-core figure on cortex-m4. speedup = instructions of the 1-core run / critical path of
the 8-core run (max over cores of instructions outside spin-waiting), medians over samples.

Number formats (gap8, no FPU, 1 core, predict only: labels, no probabilities): float32 with
every float operation a libgcc soft-float call (`float32-libgcc`), float32 as edgekiln
builds it by default (trees compare integer keys of the float bits), and `--dtype fixed`.
`vs_libgcc` = instructions of the libgcc row / instructions of the row.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).parent))
from classic_models import ZOO as CLASSIC_ZOO  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402

import edgekiln  # noqa: E402

# Sizes with at least 32 work items per inference (trees, centroids) beside the classic zoo's
# (svc_rbf and knn_5 already have hundreds of support vectors and training rows).
ZOO = {**CLASSIC_ZOO,
       "random_forest_32x10": lambda: RandomForestClassifier(n_estimators=32, max_depth=10, random_state=0),
       "random_forest_128x10": lambda: RandomForestClassifier(n_estimators=128, max_depth=10, random_state=0),
       "kmeans_32": lambda: KMeans(n_clusters=32, n_init=3, random_state=0)}
DEFAULT_MODELS = ("random_forest_10x10", "random_forest_32x10", "random_forest_128x10", "decision_tree",
                  "gaussian_nb", "logistic_regression", "svc_rbf", "knn_5", "kmeans", "kmeans_32")

warnings.filterwarnings("ignore")
MODES = [("1-core", {"cores": 1}), ("kernels", {"cores": 8}), ("batch", {"cores": 8, "batch": True})]


def work_items(est) -> int:
    """What kernel mode splits across the cores for one inference: trees, support vectors,
    training rows, centroids, else classes (one tree: 1)."""
    if hasattr(est, "estimators_"):
        return len(est.estimators_)
    if hasattr(est, "support_vectors_"):
        return int(len(est.support_vectors_))
    if hasattr(est, "n_samples_fit_"):
        return int(est.n_samples_fit_)
    if hasattr(est, "cluster_centers_"):
        return int(len(est.cluster_centers_))
    if hasattr(est, "tree_"):
        return 1
    return int(len(getattr(est, "classes_", [1])))


def run_case(model: str, target: str, X_train, y_train, X32, work: Path) -> list[dict]:
    est = ZOO[model]()
    est.fit(X_train, y_train) if not model.startswith("kmeans") else est.fit(X_train)
    ref = est.predict(X32.astype(np.float64))
    rows, one = [], None
    modes = MODES if target != "cortex-m4" else MODES[:1]
    for mode, opts in modes:
        cm = edgekiln.convert(est, target, workdir=work / f"{target}-{mode}", options=opts)
        r = cm.run(X32)
        total = int(np.median([sum(c.values()) for c in r.per_core]))
        crit = int(np.median(r.critical_path))
        one = total if mode == "1-core" else one
        pred = cm.predict(X32)
        rows.append({"model": model, "target": target, "dtype": "float32", "mode": mode, "cores": opts["cores"],
                     "work_items": work_items(est),
                     "instructions_per_inference": total, "critical_path_instructions": crit,
                     "speedup": round(one / crit, 3), "agreement": float(np.mean(pred == ref))})
    return rows


DTYPES = [("float32-libgcc", {"soft_float": False}), ("float32", {}), ("fixed", {"dtype": "fixed"})]


def run_dtypes(model: str, X_train, y_train, X32, work: Path, target: str = "gap8", sim: str | None = None,
               cores: int = 1) -> list[dict]:
    """The same model in each number format (fixed point where offered); gap8 on QEMU by
    default, or pulp-open's soft-float build on GVSoC (`sim="gvsoc"`: real cycles too)."""
    from edgekiln.errors import UnsupportedModelError

    est = ZOO[model]()
    est.fit(X_train, y_train) if not model.startswith("kmeans") else est.fit(X_train)
    ref = est.predict(X32.astype(np.float64))
    rows, libgcc, libgcc_cycles = [], None, None
    name = f"{target} ({sim})" if sim else target
    for dtype, opts in DTYPES:
        try:
            cm = edgekiln.convert(est, target, workdir=work / f"dtype-{dtype}-{sim}-{cores}", sim=sim,
                                  options={"cores": cores, **opts}, calibration=X_train, harness_outputs=False)
        except UnsupportedModelError as e:
            rows.append({"model": model, "target": name, "dtype": dtype, "mode": "dtype", "cores": cores,
                         "not_offered": str(e).split(":")[1].split(".")[0].strip()})
            continue
        r = cm.run(X32)
        total = int(np.median([sum(c.values()) for c in r.per_core]))
        crit = int(np.median(r.critical_path))
        cycles = int(np.median(r.cycles)) if r.cycles is not None else None
        if dtype == "float32-libgcc":
            libgcc, libgcc_cycles = crit, cycles
        rows.append({"model": model, "target": name, "dtype": dtype, "mode": "dtype", "cores": cores,
                     "instructions_per_inference": total, "critical_path_instructions": crit, "speedup": 1.0,
                     "cycles": cycles, "vs_libgcc": round(libgcc / crit, 2),
                     "vs_libgcc_cycles": round(libgcc_cycles / cycles, 2) if cycles else None,
                     "agreement": float(np.mean(cm.predict(X32) == ref))})
    return rows


def dtype_markdown(rows: list[dict]) -> str:
    lines = ["| model | target | cores | number format | critical path instructions | vs libgcc soft float | "
             "cycles | vs libgcc (cycles) | agreement |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "not_offered" in r:
            lines.append(f"| {r['model']} | {r['target']} | {r['cores']} | {r['dtype']} | not offered: "
                         f"{r['not_offered']} | | | | |")
        else:
            cyc = f"{r['cycles']:,} | {r['vs_libgcc_cycles']:.2f}x" if r["cycles"] else "- | -"
            lines.append(f"| {r['model']} | {r['target']} | {r['cores']} | {r['dtype']} | "
                         f"{r['critical_path_instructions']:,} | {r['vs_libgcc']:.2f}x | {cyc} | "
                         f"{r['agreement'] * 100:.2f}% |")
    for target, cores in sorted({(r["target"], r["cores"]) for r in rows}):
        fixed = [r for r in rows if r["dtype"] == "fixed" and "vs_libgcc" in r and (r["target"], r["cores"]) == (target, cores)]
        if fixed:
            ratios = [r["vs_libgcc"] for r in fixed]
            lines += ["", f"fixed point vs libgcc soft float on {target}, {cores} core(s): mean {np.mean(ratios):.2f}x fewer "
                          f"instructions (lowest {min(ratios):.2f}x) over {len(fixed)} models"]
            if fixed[0]["cycles"]:
                lines[-1] += f"; mean {np.mean([r['vs_libgcc_cycles'] for r in fixed]):.2f}x fewer cycles"
    return "\n".join(lines)


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for target in sorted({r["target"] for r in rows if r["cores"] == 8 and r["mode"] != "dtype"}):
        for mode in ("kernels", "batch"):
            s = [r["speedup"] for r in rows if r["target"] == target and r["mode"] == mode]
            out.append({"target": target, "mode": mode, "mean_speedup": round(float(np.mean(s)), 2),
                        "min_speedup": round(float(np.min(s)), 2), "models": len(s)})
            big = [r["speedup"] for r in rows if r["target"] == target and r["mode"] == mode and
                   r.get("work_items", 0) >= 32]
            if big:
                out.append({"target": target, "mode": f"{mode}, >= 32 work items",
                            "mean_speedup": round(float(np.mean(big)), 2), "min_speedup": round(float(np.min(big)), 2),
                            "models": len(big)})
    return out


def markdown(rows: list[dict], summary: list[dict]) -> str:
    lines = ["| model | work items | target | mode | cores | instructions / inference | critical path | speedup | agreement |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r.get('work_items', '')} | {r['target']} | {r['mode']} | {r['cores']} | "
                     f"{r['instructions_per_inference']:,} | {r['critical_path_instructions']:,} | "
                     f"{r['speedup']:.2f}x | {r['agreement'] * 100:.2f}% |")
    lines += ["", "| target | mode | mean 8-core speedup | lowest | models |", "|---|---|---:|---:|---:|"]
    lines += [f"| {s['target']} | {s['mode']} | {s['mean_speedup']:.2f}x | {s['min_speedup']:.2f}x | {s['models']} |"
              for s in summary]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write {rows, summary} here")
    ap.add_argument("--samples", type=int, default=256, help="test samples (batch runs take 128 per fork on 8 cores)")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"comma-separated, of: {', '.join(ZOO)}")
    ap.add_argument("--targets", default="gap8,pulp-open,cortex-m4")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--parts", default="speedup,dtypes", help="speedup (cores) and/or dtypes (number formats)")
    ap.add_argument("--dtype-samples", type=int, default=48, help="test samples for the number-format rows")
    ap.add_argument("--dtype-gvsoc", action="store_true",
                    help="also the number-format rows on GVSoC (pulp-open soft-float build, 1 and 8 cores, cycles)")
    args = ap.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    X32 = X_test[: args.samples].astype(np.float32)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ek-pulp-") as tmp:
        for model in args.models.split(","):
            for target in args.targets.split(",") if "speedup" in args.parts else []:
                print(f"[bench] {model} on {target}", file=sys.stderr, flush=True)
                rows += run_case(model, target, X_train, y_train, X32, Path(tmp) / model)
        dtype_rows = []
        for model in args.models.split(",") if "dtypes" in args.parts else []:
            print(f"[bench] {model} number formats on gap8", file=sys.stderr, flush=True)
            dtype_rows += run_dtypes(model, X_train, y_train, X32[: args.dtype_samples], Path(tmp) / model)
            for cores in (1, 8) if args.dtype_gvsoc else ():
                print(f"[bench] {model} number formats on GVSoC, {cores} core(s)", file=sys.stderr, flush=True)
                dtype_rows += run_dtypes(model, X_train, y_train, X32[: args.dtype_samples], Path(tmp) / model,
                                         "pulp-open", "gvsoc", cores)
    summary = summarize(rows)
    t = Table(title=f"parallel speedup on digits ({len(X32)} samples)")
    for col in ("model", "target", "mode", "cores", "instr/inference", "critical path", "speedup", "agreement"):
        t.add_column(col, justify="left" if col in ("model", "target", "mode") else "right")
    for r in rows:
        t.add_row(r["model"], r["target"], r["mode"], str(r["cores"]), f"{r['instructions_per_inference']:,}",
                  f"{r['critical_path_instructions']:,}", f"{r['speedup']:.2f}x", f"{r['agreement'] * 100:.2f}%")
    Console().print(t)
    for s in summary:
        print(f"{s['target']} {s['mode']}: mean 8-core speedup {s['mean_speedup']}x (lowest {s['min_speedup']}x)")
    if dtype_rows:
        print(dtype_markdown(dtype_rows))
    if args.markdown and rows:
        print(markdown(rows, summary))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows + dtype_rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
