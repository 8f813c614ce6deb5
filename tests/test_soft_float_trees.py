"""Inline trees without an FPU (gap8): splits compare integer keys of the float bits
(runtime_c/include/ek_float_key.h) instead of calling libgcc. They must decide exactly as
scikit-learn and as the float build, on thresholds, both signs, ±0.0, ±inf and NaN of either
sign; options {"soft_float": True} runs the same code on the host."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import edgekiln
from conftest import assert_parity, dataset, require_target, target_params, targets_where
from edgekiln.api import to_graph
from edgekiln.codegen.project import lower_graph
from edgekiln.errors import InputError
from edgekiln.frontends.sklearn.trees import floor_float32
from edgekiln.targets import get_target
from edgekiln.targets.host_lib import load_model_library
from edgekiln.targets.simulators import run_firmware
from test_generated_data import make_data

MODELS = {
    "dt": lambda: DecisionTreeClassifier(random_state=0),
    "rf": lambda: RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0),
    "dtr": lambda: DecisionTreeRegressor(max_depth=10, random_state=0),
    "rfr": lambda: RandomForestRegressor(n_estimators=10, max_depth=10, random_state=0),
}
DATA = ["iris", "digits", "nan_ints"]
KEYS = ["per_split", "per_inference"]
# scikit-learn's input check sums rows holding signalling NaNs
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
F32 = np.float32
NANS = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF], dtype=np.uint32).view(F32)  # ± quiet, signalling


def fitted(model: str, data: str):
    """A model on a shipped data set, or on small integers (both signs, many values equal to
    thresholds) with missing values, so that scikit-learn learns NaN going left and right."""
    if data == "nan_ints":
        X, y = make_data(5, 8, 4, n_samples=300, integer=True)
        rng = np.random.default_rng(1)
        X[:, 1:6][rng.random((len(X), 5)) < 0.15] = np.nan
    else:
        X, y = dataset(data)
    target = y if model in ("dt", "rf") else y * 1.5 + np.nan_to_num(X[:, 1])
    est = MODELS[model]().fit(X, target)
    return est, X


def probe_rows(est, X: np.ndarray, limit: int = 3000) -> np.ndarray:
    """Rows of X with one feature set to every float32 threshold, the floats just below and
    above it, their negations (with at most `limit` such rows), then ±0.0, ±inf and NaNs of
    both signs in every feature, and rows with a tenth of their features missing."""
    rng = np.random.default_rng(0)
    X32 = X.astype(F32)
    base = lambda: X32[rng.integers(len(X32))].copy()  # noqa: E731
    feats, values = [], []
    for t in getattr(est, "estimators_", [est]):
        split = t.tree_.children_left != -1
        thr = floor_float32(t.tree_.threshold[split])
        for v in (thr, np.nextafter(thr, F32(np.inf)), np.nextafter(thr, F32(-np.inf))):
            feats += [t.tree_.feature[split]] * 2
            values += [v, -v]
    feats, values = np.concatenate(feats), np.concatenate(values)
    keep = rng.permutation(len(values))[:limit]
    rows = []
    for f, v in zip(feats[keep], values[keep]):
        rows.append(base())
        rows[-1][f] = v
    for f in range(X.shape[1]):
        for v in np.concatenate([np.array([0.0, -0.0, np.inf, -np.inf], dtype=F32), NANS]):
            rows.append(base())
            rows[-1][f] = v
    for _ in range(200):
        rows.append(base())
        rows[-1][rng.random(X.shape[1]) < 0.1] = NANS[rng.integers(len(NANS))]
    return np.vstack([X32, np.array(rows, dtype=F32)])


def sklearn_reference(est, X32: np.ndarray):
    """scikit-learn's own tree code on float32 rows (classes as indices, probabilities or
    values). check_input=False: its input check refuses ±inf, which trees still decide by
    `x <= threshold`; a forest averages its trees exactly as RandomForest*.predict* does."""
    trees = getattr(est, "estimators_", [est])
    if is_classifier(est):
        proba = sum(t.predict_proba(X32, check_input=False) for t in trees) / len(trees)
        return np.argmax(proba, axis=1), proba
    return None, (sum(t.predict(X32, check_input=False) for t in trees) / len(trees))[:, None]


def device_run(cm, X32: np.ndarray):
    """(labels, outputs) for raw float32 rows, NaN payloads and ±inf included."""
    if cm.target.kind == "host":
        return load_model_library(cm.project).run(X32)
    r = run_firmware(cm.build.elf, cm.target, X32)
    return r.labels, r.outputs


def check_exact(est, X: np.ndarray, soft, float_build) -> None:
    """soft: (labels, outputs) of the integer-key build; float_build: of the float build."""
    X32 = probe_rows(est, X)
    finite = np.isfinite(X32).all(axis=1)
    labels, out = device_run(soft, X32)
    ref_labels, ref_out = sklearn_reference(est, X32)
    # The reference is scikit-learn's predict wherever scikit-learn accepts the input.
    if is_classifier(est):
        assert np.array_equal(est.classes_[ref_labels[finite]], est.predict(X32[finite]))
        # Votes tied in exact arithmetic (0.45 + 0.45 + 0.1) are split by rounding, float64 in
        # scikit-learn and float32 on the device (as in the float build): either class is right.
        tie = ref_out[np.arange(len(ref_out)), labels] >= ref_out.max(axis=1) - 1e-6
        bad = np.flatnonzero((labels != ref_labels) & ~tie)
        assert bad.size == 0, f"{bad.size} labels differ from scikit-learn, rows {X32[bad[:3]]}"
        assert np.abs(out - ref_out).max() <= 1e-6
    else:
        assert np.allclose(ref_out[finite, 0], est.predict(X32[finite]), rtol=1e-12)
        rel = np.abs(out - ref_out) / np.maximum(np.abs(ref_out), 1.0)
        assert rel.max() <= 1e-6, f"values differ from scikit-learn by {rel.max():.3g}"
    # The same leaves as the float build, so the same bits.
    f_labels, f_out = device_run(float_build, X32)
    assert np.array_equal(labels, f_labels)
    assert np.array_equal(out.view(np.uint32), f_out.view(np.uint32))


def test_generated_data_has_both_nan_directions():
    for model in ("dt", "rf", "dtr", "rfr"):
        est, _ = fitted(model, "nan_ints")
        go_left = np.concatenate([t.tree_.missing_go_to_left[t.tree_.children_left != -1]
                                  for t in getattr(est, "estimators_", [est])])
        assert go_left.any() and not go_left.all(), model


@pytest.mark.parametrize("keys", KEYS)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model", list(MODELS))
def test_host_soft_float_trees_are_exact(model, data, keys, tmp_path):
    """The integer-key template on the host: fast, and the same C as on gap8."""
    est, X = fitted(model, data)
    soft = edgekiln.convert(est, "host", workdir=tmp_path / "soft",
                            options={"tree_layout": "inline", "soft_float": True, "tree_keys": keys})
    assert "ek_f32_key(" in (soft.project / "model.c").read_text()
    hard = edgekiln.convert(est, "host", workdir=tmp_path / "float", options={"tree_layout": "inline"})
    assert "ek_f32_key(" not in (hard.project / "model.c").read_text()
    if data != "nan_ints":
        assert_parity(soft, est, X, exact=True)
    check_exact(est, X, soft, hard)


@pytest.mark.parametrize("keys", KEYS)
def test_host_special_thresholds(keys, tmp_path):
    """Thresholds scikit-learn rarely learns (±0.0, subnormals, ±FLT_MAX, ±inf) against every
    special input, checked leaf by leaf against `x <= t` with NaN following nan_left."""
    X = np.random.default_rng(0).normal(size=(400, 3))
    est = DecisionTreeRegressor(max_leaf_nodes=40, random_state=0).fit(X, np.arange(400.0))
    graph = to_graph(est)
    c = graph.nodes[0].consts
    tiny, big = np.finfo(F32).smallest_subnormal, np.finfo(F32).max
    special = np.array([0.0, -0.0, tiny, -tiny, np.finfo(F32).tiny, -np.finfo(F32).tiny, 1.0, -1.0,
                        big, -big, np.inf, -np.inf], dtype=F32)
    c["threshold"] = special[np.arange(len(c["threshold"])) % len(special)]
    c["nan_left"] = (np.arange(len(c["nan_left"])) // len(special) % 2).astype(np.uint8)
    leaf_value = c["leaves"][:, 0]

    def reference(x: np.ndarray) -> float:
        n = int(c["roots"][0])
        while n >= 0:
            v, t = x[c["feature"][n]], c["threshold"][n]
            n = int(c["left"][n] if (np.isnan(v) and c["nan_left"][n]) or v <= t else c["right"][n])
        return leaf_value[~n]

    with np.errstate(over="ignore"):  # next to ±FLT_MAX: ±inf
        values = np.concatenate([special, np.nextafter(special, F32(np.inf)), np.nextafter(special, F32(-np.inf)), NANS])
    rng = np.random.default_rng(1)
    X32 = values[rng.integers(len(values), size=(4000, 3))]
    soft = edgekiln.convert(graph, "host", workdir=tmp_path / "soft",
                            options={"tree_layout": "inline", "soft_float": True, "tree_keys": keys})
    hard = edgekiln.convert(graph, "host", workdir=tmp_path / "float", options={"tree_layout": "inline"})
    _, out = device_run(soft, X32)
    _, f_out = device_run(hard, X32)
    assert np.array_equal(out[:, 0], np.array([reference(x) for x in X32], dtype=F32))
    assert np.array_equal(out, f_out)


def test_keys_once_per_inference_only_where_they_pay():
    """auto: per split for one deep tree on 64 features, once per inference for a forest of
    many trees over 4 features (most splits then test an input another split also tests)."""
    X, y = dataset("digits")
    dt = to_graph(DecisionTreeClassifier(random_state=0).fit(X, y))
    X, y = dataset("iris")
    rf = to_graph(RandomForestClassifier(30, random_state=0).fit(X, y))
    [n], _ = lower_graph(dt, {"soft_float": True})
    assert n["int_keys"] and not n["key_slots"]
    [n], _ = lower_graph(rf, {"soft_float": True})
    assert n["int_keys"] and 0 < len(n["key_slots"]) <= 8
    [n], _ = lower_graph(rf, {"soft_float": True, "tree_keys": "per_split"})
    assert not n["key_slots"]
    [n], _ = lower_graph(rf)
    assert not n["int_keys"]
    with pytest.raises(InputError, match="tree_keys"):
        lower_graph(rf, {"soft_float": True, "tree_keys": "sometimes"})


# Soft-float targets on QEMU (gap8), each checked against a hard-float cluster target built
# by the same compiler family (pulp-open: float compares in hardware).
SOFT = target_params(targets_where(fpu=False, simulator=("qemu",)))
HARD = (targets_where(fpu=True, parallel=("cluster",), simulator=("qemu",)) or ["host"])[0]


@pytest.mark.parametrize("target", SOFT)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model", list(MODELS))
def test_gap8_integer_keys_match_sklearn_and_pulp_open(model, data, target, tmp_path):
    """gap8 (integer keys, both placements) against scikit-learn and against the same model
    built for pulp-open (float compares in hardware): identical labels and output bits."""
    require_target(HARD)
    est, X = fitted(model, data)
    hard = edgekiln.convert(est, HARD, workdir=tmp_path / HARD)
    assert "ek_f32_key(" not in (hard.project / "model.c").read_text()
    for keys in KEYS:
        soft = edgekiln.convert(est, target, workdir=tmp_path / keys, options={"tree_keys": keys})
        assert "ek_f32_key(" in (soft.project / "model.c").read_text()
        check_exact(est, X, soft, hard)


@pytest.mark.parametrize("target", target_params(targets_where(fpu=False, simulator=("qemu",), min_cores=2)))
@pytest.mark.parametrize("keys", KEYS)
def test_gap8_cluster_team_with_integer_keys(keys, target, tmp_path):
    """cores=8: the trees of a forest run on the cluster harts, reading the keys core 0
    computed (or their own); same bits as one pulp-open core."""
    require_target(HARD)
    est, X = fitted("rf", "nan_ints")
    hard = edgekiln.convert(est, HARD, workdir=tmp_path / HARD)
    soft = edgekiln.convert(est, target, workdir=tmp_path / target,
                            options={"tree_keys": keys, "cores": get_target(target).cores})
    check_exact(est, X, soft, hard)


@pytest.mark.parametrize("target", SOFT)
@pytest.mark.parametrize("model,most", [("dt", 0.5), ("rf", 0.7)])
def test_gap8_integer_keys_save_instructions(model, most, target, tmp_path):
    """Instructions per inference on digits, integer keys vs libgcc float compares
    (soft_float=False) on the same gap8: measured 0.39 (tree) and 0.58 (forest)."""
    est, X = fitted(model, "digits")
    X32 = X[::4].astype(F32)
    median = {}
    for soft in (True, False):
        cm = edgekiln.convert(est, target, workdir=tmp_path / str(soft), options={"soft_float": soft})
        r = run_firmware(cm.build.elf, cm.target, X32)
        assert np.array_equal(est.classes_[r.labels], est.predict(X32))
        median[soft] = np.median(r.instructions)
    assert median[True] <= most * median[False], median
