"""Forest classifiers vote in integers (codegen/ops/tree_ensemble.py, docs/architecture.md
"Exactness rules"): the vote tables, and kernel mode on the 8-core PULP cluster, where trees
and then classes are split across the team: labels identical to scikit-learn, outputs
bit-identical to one core, and a real speedup."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

import edgekiln
from conftest import assert_parity, dataset, require_target, target_params, targets_where
from edgekiln.codegen.ops.tree_ensemble import vote_shift, vote_tables
from edgekiln.frontends.sklearn import from_sklearn
from edgekiln.targets import get_target

CLUSTER = targets_where(parallel=("cluster",), simulator=("qemu",))


@pytest.mark.parametrize("n_trees", [1, 2, 10, 15, 16, 32, 100])
def test_vote_shift_keeps_totals_below_2_31(n_trees):
    assert n_trees * (1 << vote_shift(n_trees)) < 2 ** 31
    assert 2 * n_trees * (1 << vote_shift(n_trees)) >= 2 ** 31  # and uses every bit it can


def test_vote_tables_pure_leaves_are_classes_and_impure_rows_are_rounded():
    X, y = dataset("digits")
    est = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    node = from_sklearn(est).nodes[-1]
    v = vote_tables(node)
    leaves = node.consts["leaves"].astype(np.float64)
    k = leaves.shape[1]
    pure = (np.count_nonzero(leaves, axis=1) == 1) & (leaves.max(axis=1) == 1.0)
    assert pure.any() and (~pure).any()
    assert np.array_equal(v["codes"][pure], leaves[pure].argmax(axis=1))
    assert (v["codes"][~pure] >= k).all()
    rows = v["rows"][v["codes"][~pure] - k]
    assert np.array_equal(rows, np.round(leaves[~pure] * v["one"]).astype(np.int32))
    assert v["denom"] == 10 * v["one"]


def _digits_rows():
    X, y = dataset("digits")
    return X, y, X[::12]


@pytest.mark.qemu
@pytest.mark.parametrize("target", target_params(CLUSTER))
@pytest.mark.parametrize("case", ["rf32-table", "et12-table", "rf12-inline", "rf3-inline", "rf3-table"])
def test_forest_kernel_mode_matches_one_core(target, case, tmp_path):
    """32 trees (table layout: power-of-two denominator), 12 trees in both layouts (a
    division), 3 trees (fewer trees than cores: the team is cut to one core per tree): 8
    cores give the 1-core outputs bit for bit and scikit-learn's labels."""
    require_target(target)
    X, y, rows = _digits_rows()
    kind, layout = case.split("-")
    n = int(kind[2:])
    cls = RandomForestClassifier if kind.startswith("rf") else ExtraTreesClassifier
    est = cls(n_estimators=n, max_depth=8, random_state=0).fit(X, y)
    opts = {"tree_layout": layout}
    one = edgekiln.convert(est, target, workdir=tmp_path / "one", options=opts)
    cores = get_target(target).cores
    team = edgekiln.convert(est, target, workdir=tmp_path / "team", options={**opts, "cores": cores})
    assert_parity(team, est, rows, exact=True)
    r1, r8 = one.run(rows), team.run(rows)
    assert np.array_equal(r1.labels, r8.labels) and np.array_equal(r1.outputs, r8.outputs)
    if n >= 32:
        # trees, then classes, split: the old serial float reduction gave 1.5-2x here
        assert np.median(r1.instructions) / np.median(r8.critical_path) > 4.0


@pytest.mark.qemu
@pytest.mark.parametrize("target", target_params(CLUSTER))
def test_nearest_centroid_kernel_mode_matches_one_core(target, tmp_path):
    """32 centroids: each core's nearest of its slice, core 0 picks among 8 candidates (first
    on ties, as the 1-core loop): the same labels as one core and scikit-learn."""
    require_target(target)
    X, _, rows = _digits_rows()
    est = KMeans(n_clusters=32, n_init=2, random_state=0).fit(X)
    one = edgekiln.convert(est, target, workdir=tmp_path / "one")
    team = edgekiln.convert(est, target, workdir=tmp_path / "team", options={"cores": get_target(target).cores})
    r1, r8 = one.run(rows), team.run(rows)
    assert np.array_equal(r1.labels, r8.labels)
    assert np.array_equal(r8.labels, est.predict(rows.astype(np.float32).astype(np.float64)))
    assert np.median(r1.instructions) / np.median(r8.critical_path) > 5.0
