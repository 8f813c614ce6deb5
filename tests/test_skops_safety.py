"""A .skops file must never run code while edgekiln loads it (kiln check/export/run)."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from edgekiln.errors import ModelLoadError
from edgekiln.model_io import load_model

from skops_crafted import array_node, code_payloads, deep_nesting, huge_array_member, write_skops


@pytest.fixture
def sentinel(tmp_path):
    return tmp_path / "pwned.txt"


@pytest.mark.parametrize("case", sorted(code_payloads(__import__("pathlib").Path("x"))))
def test_crafted_file_is_refused_and_runs_nothing(tmp_path, sentinel, case):
    path = write_skops(tmp_path / "evil.skops", code_payloads(sentinel)[case])
    with pytest.raises(ModelLoadError, match=r"evil\.skops") as e:
        load_model(path)
    assert "refused" in str(e.value) or "not a valid" in str(e.value)
    assert not sentinel.exists(), f"{case}: code ran while loading"
    assert "\n" not in str(e.value)


def test_exec_payload_names_the_refused_type(tmp_path, sentinel):
    path = write_skops(tmp_path / "evil.skops", code_payloads(sentinel)["exec"])
    with pytest.raises(ModelLoadError, match=r"builtins\.exec .*not a library"):
        load_model(path)


def test_deep_nesting_is_a_clear_error(tmp_path):
    path = write_skops(tmp_path / "deep.skops", deep_nesting())
    with pytest.raises(ModelLoadError, match="deep.skops"):
        load_model(path)


def test_huge_array_header_is_refused_before_allocation(tmp_path):
    path = write_skops(tmp_path / "huge.skops", array_node("a.npy"), {"a.npy": huge_array_member()})
    with pytest.raises(ModelLoadError, match=r"a\.npy.*claims .* bytes"):
        load_model(path)


def test_zip_bomb_member_is_refused(tmp_path, monkeypatch):
    import edgekiln.model_io as mio

    monkeypatch.setattr(mio, "MAX_UNCOMPRESSED_BYTES", 1 << 20)
    arr = np.zeros(1 << 18)  # 2 MiB of zeros compresses to almost nothing
    path = tmp_path / "bomb.skops"
    sio.dump(arr, path, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelLoadError, match="uncompressed"):
        load_model(path)


@pytest.mark.parametrize("make", [
    lambda X, y: RandomForestClassifier(5, max_depth=3, random_state=0).fit(X, y),
    lambda X, y: make_pipeline(StandardScaler(), SVC(probability=False)).fit(X, y),
])
def test_real_models_still_load(tmp_path, make):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    model = make(X, y)
    sio.dump(model, tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def _mutations():
    """Schemas a fuzzer can reach: any loader, any module/class name, any content."""
    names = st.sampled_from(["builtins", "os", "numpy", "scipy", "sklearn", "sklearn.base", "collections",
                             "subprocess", "numpy.lib", "posix", "functools"])
    attrs = st.sampled_from(["exec", "eval", "system", "open", "getattr", "partial", "dict", "list", "ndarray",
                             "BaseEstimator", "DecisionTreeClassifier", "Popen", "load", "__import__"])
    loaders = st.sampled_from(["ObjectNode", "LossNode", "ReduceNode", "TreeNode", "ConstructorFromReduceNode",
                               "FunctionNode", "TypeNode", "MethodNode", "PartialNode", "DictNode", "ListNode",
                               "JsonNode", "NdArrayNode", "BogusNode"])
    leaf = st.one_of(st.none(), st.integers(), st.text(max_size=8), st.booleans())
    content = st.recursive(leaf, lambda c: st.one_of(st.lists(c, max_size=3),
                                                      st.dictionaries(st.text(max_size=5), c, max_size=3)),
                           max_leaves=8)
    return st.fixed_dictionaries({"__module__": names, "__class__": attrs, "__loader__": loaders,
                                  "content": content, "__reduce__": st.just({"args": {"__class__": "tuple",
                                  "__module__": "builtins", "__loader__": "TupleNode", "content": []}})})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=_mutations())
def test_fuzzed_schemas_never_run_code(tmp_path, schema):
    path = write_skops(tmp_path / "fuzz.skops", schema)
    try:
        load_model(path)
    except ModelLoadError as e:
        assert "\n" not in str(e)
    assert not any(p.name == "pwned.txt" for p in tmp_path.iterdir())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=512))
def test_fuzzed_bytes_are_clear_errors(tmp_path, data):
    path = tmp_path / "junk.skops"
    path.write_bytes(data)
    with pytest.raises(ModelLoadError, match="junk.skops"):
        load_model(path)


def test_schema_not_json_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.skops"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", "{not json")
    with pytest.raises(ModelLoadError, match="not a valid .skops file"):
        load_model(path)


def test_every_zoo_model_loads_through_the_allowlist(tmp_path):
    """The allowlist must not refuse any estimator edgekiln supports (tests/zoo.py)."""
    import zoo

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    for group in (zoo.CLASSIFIERS, zoo.REGRESSORS, getattr(zoo, "CLUSTERERS", [])):
        for name, factory, _ in group:
            model = factory().fit(X, y if group is not getattr(zoo, "CLUSTERERS", None) else None)
            sio.dump(model, tmp_path / f"{name}.skops")
            loaded = load_model(tmp_path / f"{name}.skops")
            np.testing.assert_array_equal(loaded.predict(X), model.predict(X), err_msg=name)


def edit_node_array(src, dst, field: str, value: int, marker: str | None = None) -> None:
    """Copy the .skops archive src to dst with node 0's `field` set to `value` in every
    structured .npy array holding the field `marker` (default: `field`)."""
    import io

    marker = marker or field
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".npy"):
                arr = np.load(io.BytesIO(data))
                if arr.dtype.names and marker in arr.dtype.names:
                    arr[field][0] = value
                    buf = io.BytesIO()
                    np.save(buf, arr)
                    data = buf.getvalue()
            zout.writestr(info, data)


def test_tree_with_out_of_range_child_is_refused(tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, X[:, 0] > 0)
    sio.dump(model, tmp_path / "ok.skops")
    # rewrite the children_left array inside the archive to point past the last node
    src, dst = tmp_path / "ok.skops", tmp_path / "bad.skops"
    edit_node_array(src, dst, "left_child", 10_000)
    with pytest.raises(ModelLoadError, match="out of range"):
        load_model(dst)


@pytest.mark.parametrize("field,value", [("left", 10_000), ("feature_idx", 99), ("feature_idx", -1)])
def test_hist_gradient_boosting_with_malformed_nodes_is_refused(tmp_path, field, value):
    """HistGradientBoosting's TreePredictor is trusted as model state only because its node
    array is checked after loading: indices out of range are refused, not predicted with."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 3))
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, X[:, 0] > 0)
    src, dst = tmp_path / "ok.skops", tmp_path / "bad.skops"
    sio.dump(model, src)
    np.testing.assert_array_equal(load_model(src).predict(X), model.predict(X))
    edit_node_array(src, dst, field, value, marker="feature_idx")  # node 0 is the root split
    with pytest.raises(ModelLoadError, match="malformed nodes or indices out of range"):
        load_model(dst)
