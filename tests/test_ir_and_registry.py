"""The IR round-trips through JSON; registries find targets, converters and lowerings."""
from __future__ import annotations

import numpy as np
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from edgekiln.codegen.project import lower_graph
from edgekiln.frontends.sklearn import from_sklearn, supported_estimators
from edgekiln.ir import Graph
from edgekiln.targets import all_targets


def test_graph_json_round_trip():
    X, y = load_wine(return_X_y=True)
    g = from_sklearn(make_pipeline(StandardScaler(), PCA(4), SVC()).fit(X, y), name="wine_svc")
    assert [n.op for n in g.nodes] == ["affine", "dense", "svc"]
    g2 = Graph.from_json(g.to_json())
    assert g2.name == "wine_svc" and g2.task == "classify" and g2.classes == [0, 1, 2]
    for a, b in zip(g.nodes, g2.nodes):
        assert a.op == b.op and a.inputs == b.inputs and a.attrs == b.attrs
        for k in a.consts:
            assert np.array_equal(a.consts[k], b.consts[k]) and a.consts[k].dtype == b.consts[k].dtype
    assert [v.name for v in g2.intermediates] == ["t0", "t1"]


def test_every_target_folder_is_registered_with_memory():
    targets = all_targets()
    assert {"host", "cortex-m4", "arm"} <= set(targets)
    m4 = targets["cortex-m4"]
    assert m4.region_bytes("flash") == 1 << 20 and m4.linker_template and m4.cores == 1


def test_supported_estimators_cover_the_foundation_families():
    names = set(supported_estimators())
    for n in ("DecisionTreeClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "GaussianNB",
              "LogisticRegression", "LinearSVC", "Lasso", "SVC", "KNeighborsRegressor", "KMeans", "Pipeline",
              "StandardScaler", "MinMaxScaler", "PCA"):
        assert n in names


def test_scalers_fold_into_tree_thresholds():
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_wine(return_X_y=True)
    g = from_sklearn(make_pipeline(StandardScaler(), DecisionTreeClassifier(random_state=0)).fit(X, y))
    assert [n.op for n in g.nodes] == ["tree_ensemble"] and g.nodes[0].inputs == ["x"]
    nodes, facts = lower_graph(g, {"tree_layout": "table"})
    assert nodes[0]["widths"] == "i16_u8"  # 13 features: one byte per split (kernel ek_tree_*_f32_i16_u8)
    assert nodes[0]["a"]["feature"].ctype == "uint8_t"
    nodes, facts = lower_graph(g)
    assert nodes[0]["template"] == "tree_inline.c.j2"  # auto: small trees become if/else code
