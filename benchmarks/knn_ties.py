"""kNN under exact distance ties: how often scikit-learn's own neighbour choice changes with its
algorithm, thread count and batch size, and how often edgekiln's device rules match it.

    python benchmarks/knn_ties.py --json build/bench/knn_ties.json

Data: digits // 6 (integer features with few levels: many equal distances), 600 training rows,
200 queries, k = 5. A row counts as equal when the two neighbour *sets* are equal. The device
rules run on the host target (the same C as every target).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

import edgekiln
from edgekiln.report import knn_boundary_ties


def _sets(nb: np.ndarray) -> list[frozenset]:
    return [frozenset(r) for r in nb]


def _same(a: np.ndarray, b: np.ndarray) -> int:
    return sum(x == y for x, y in zip(_sets(a), _sets(b)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json")
    args = ap.parse_args()
    X, y = load_digits(return_X_y=True)
    X = X // 6
    Xtr, ytr, Xte = X[:600], y[:600], X[600:800]
    rows = {}
    brute = KNeighborsClassifier(5, algorithm="brute").fit(Xtr, ytr)
    with threadpool_limits(1):
        one = brute.kneighbors(Xte, return_distance=False)
        p_one = brute.predict_proba(Xte)
    with threadpool_limits(2):
        two = brute.kneighbors(Xte, return_distance=False)
    big = brute.kneighbors(np.repeat(Xte, 20, axis=0), return_distance=False)[::20]
    kd = KNeighborsClassifier(5, algorithm="kd_tree").fit(Xtr, ytr).kneighbors(Xte, return_distance=False)
    ball = KNeighborsClassifier(5, algorithm="ball_tree").fit(Xtr, ytr).kneighbors(Xte, return_distance=False)
    rows["sklearn brute: 1 thread vs 2 threads (batch of 200)"] = _same(one, two)
    rows["sklearn brute: 1 thread vs a batch of 4000 (any threads)"] = _same(one, big)
    rows["sklearn brute (1 thread) vs kd_tree"] = _same(one, kd)
    rows["sklearn brute (1 thread) vs ball_tree"] = _same(one, ball)
    cm = edgekiln.convert(brute, "host")
    rows["device (brute fit: sklearn heap) proba == sklearn 1 thread"] = int(
        (np.abs(cm.predict_proba(Xte) - p_one).max(axis=1) <= 1e-6).sum())
    d = ((Xtr[None, :, :] - Xte[:, None, :]) ** 2).sum(axis=2)
    low = np.argsort(d, axis=1, kind="stable")[:, :5]
    rows["lower-index rule vs sklearn brute 1 thread"] = _same(low, one)
    rows["rows with a 5th/6th distance tie (kiln run knn_ties)"] = knn_boundary_ties(cm.graph, Xte)["n_tied"]
    kd_est = KNeighborsClassifier(5, algorithm="kd_tree").fit(Xtr[:, ::8], ytr)
    cm_kd = edgekiln.convert(kd_est, "host")
    rows["device (kd_tree fit, 8 features: its tree walk) proba == sklearn"] = int(
        (np.abs(cm_kd.predict_proba(Xte[:, ::8]) - kd_est.predict_proba(Xte[:, ::8])).max(axis=1) <= 1e-6).sum())
    for k, v in rows.items():
        print(f"{v:4d} / {len(Xte)}  {k}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"n_queries": len(Xte), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
