"""Classic-model benchmark: edgekiln vs emlearn vs m2cgen on the same QEMU Cortex-M4.

    python benchmarks/classic_models.py --json results.json [--target cortex-m4] [--quick]

For each model of a fixed zoo on digits and breast_cancer (75/25 split, seed 0), every tool
that supports the model is built into the same harness and run over the whole test split:
instructions per inference (median, QEMU plugin between the harness markers), flash and RAM
bytes (firmware minus the empty-model firmware; RAM adds the measured stack) and agreement
with scikit-learn's predict on the same float32 inputs.
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
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import (GradientBoostingClassifier, HistGradientBoostingClassifier, IsolationForest,
                              RandomForestClassifier)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

sys.path.insert(0, str(Path(__file__).parent))
from harness_projects import edgekiln_project, null_project, peer_project  # noqa: E402
from peers import PEERS  # noqa: E402

from edgekiln.targets import get_target  # noqa: E402
from edgekiln.targets.build import build_project  # noqa: E402
from edgekiln.targets.simulators import run_firmware  # noqa: E402

warnings.filterwarnings("ignore")

ZOO = {
    "random_forest_10x10": lambda: RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0),
    "decision_tree": lambda: DecisionTreeClassifier(random_state=0),
    "gaussian_nb": lambda: GaussianNB(),
    "logistic_regression": lambda: LogisticRegression(max_iter=5000),
    "svc_rbf": lambda: SVC(),
    "knn_5": lambda: KNeighborsClassifier(),
    "kmeans": lambda: KMeans(n_clusters=8, n_init=3, random_state=0),
    # gradient boosting: 20 rounds (one tree per class and round on digits)
    "gradient_boosting_20x3": lambda: GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0),
    "hist_gradient_boosting_20": lambda: HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=8, random_state=0),
    "xgboost_20x3": lambda: __import__("xgboost").XGBClassifier(n_estimators=20, max_depth=3),
    "lightgbm_20x8": lambda: __import__("lightgbm").LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1),
    # MLP (float32, raw features so every tool sees the same inputs) and anomaly detection
    "mlp_32": lambda: MLPClassifier((32,), max_iter=500, random_state=0),
    "mlp_32x16_tanh": lambda: MLPClassifier((32, 16), activation="tanh", max_iter=500, random_state=0),
    "isolation_forest_50": lambda: IsolationForest(n_estimators=50, random_state=0),
}
DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer}


def measure(project: Path, target: str, X32: np.ndarray) -> dict:
    build = build_project(project)
    run = run_firmware(build.elf, get_target(target), X32)
    return {"build": build, "run": run}


def bench_case(model: str, dataset: str, target: str, work: Path, tools: list[str]) -> list[dict]:
    X, y = DATASETS[dataset](return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    est = ZOO[model]()
    est.fit(X_train, y_train) if model != "kmeans" else est.fit(X_train)
    X32 = X_test.astype(np.float32)
    reference = est.predict(X32.astype(np.float64))
    if hasattr(est, "classes_"):
        labels_ref = np.searchsorted(est.classes_, reference)
    else:  # clusters; an outlier detector's -1/1 is class index 0/1
        labels_ref = (reference > 0).astype(int) if model.startswith("isolation") else reference
    base = measure(null_project(est, target, work / "null"), target, X32)
    rows = []
    for tool in tools:
        if tool == "edgekiln":
            project, method = edgekiln_project(est, target, work / tool), "edgekiln"
        else:
            peer = PEERS[tool]
            if not peer.supports(est):
                continue
            project, spec = peer_project(peer, est, target, work / tool)
            method = f"{tool} ({spec['method']})"
        m = measure(project, target, X32)
        b, r = m["build"], m["run"]
        rows.append({
            "model": model, "dataset": dataset, "tool": tool, "method": method, "target": target,
            "instructions_per_inference": int(np.median(r.instructions)),
            "instructions_max": int(np.max(r.instructions)),
            "flash_bytes": b.firmware_flash_bytes - base["build"].firmware_flash_bytes,
            "ram_bytes": (b.firmware_ram_bytes - base["build"].firmware_ram_bytes) + (r.stack_bytes or 0),
            "stack_bytes": r.stack_bytes,
            "agreement": float(np.mean(r.labels == labels_ref)),
            "n_samples": int(len(X32)),
        })
    return rows


def print_table(rows: list[dict]) -> None:
    t = Table(title="classic models on QEMU " + (rows[0]["target"] if rows else ""))
    for col in ("dataset", "model", "tool", "instructions/inference", "flash bytes", "RAM bytes", "agreement"):
        t.add_column(col, justify="right" if col not in ("dataset", "model", "tool") else "left")
    for r in rows:
        t.add_row(r["dataset"], r["model"], r["tool"], f"{r['instructions_per_inference']:,}", f"{r['flash_bytes']:,}",
                  f"{r['ram_bytes']:,}", f"{r['agreement'] * 100:.2f}%")
    Console().print(t)


def markdown_table(rows: list[dict]) -> str:
    """The table for docs/benchmarks.md; best figure per case in bold."""
    lines = ["| dataset | model | tool | instructions / inference | flash bytes | RAM bytes | agreement |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        case = [x for x in rows if x["dataset"] == r["dataset"] and x["model"] == r["model"]]

        def fmt(key: str, r=r, case=case) -> str:
            v = f"{r[key]:,}"
            return f"**{v}**" if len(case) > 1 and r[key] == min(x[key] for x in case) else v

        lines.append(f"| {r['dataset']} | {r['model']} | {r['method']} | {fmt('instructions_per_inference')} | "
                     f"{fmt('flash_bytes')} | {fmt('ram_bytes')} | {r['agreement'] * 100:.2f}% |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--models", default=",".join(ZOO), help="comma-separated subset of the zoo")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--tools", default="edgekiln,emlearn,m2cgen")
    ap.add_argument("--workdir", help="keep the projects here (default: a temporary folder)")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = ap.parse_args()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ek-bench-") as tmp:
        root = Path(args.workdir or tmp)
        for dataset in args.datasets.split(","):
            for model in args.models.split(","):
                print(f"[bench] {dataset} / {model}", file=sys.stderr, flush=True)
                rows += bench_case(model, dataset, args.target, root / dataset / model, args.tools.split(","))
    print_table(rows)
    if args.markdown:
        print(markdown_table(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
