"""scikit-learn MLPs through the int8 network kernels (dtype int8, lossy, opt-in).

The device's int8 outputs equal the network golden model (quantize/nn/int8_reference.py) on
every element (host and, under qemu, cortex-m4); predictions agree with scikit-learn's on a
real dataset above the measured bound (digits: 0.990 measured with MinMaxScaler + 32 relu
units, bound 0.97); `kiln export --dtype int8 --calib` + `kiln run --reference model.skops`
reports the agreement and the constants beside float32's; activations without an int8
kernel are refused by name."""
from __future__ import annotations

import json

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_diabetes, load_digits
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import edgekiln
from conftest import require_target, target_params
from edgekiln import nn_run
from edgekiln.codegen.lowering import find_lowering
from edgekiln.errors import InputError, UnsupportedModelError
from test_cli import kiln

TARGETS = target_params(["host", "cortex-m4"])
DIGITS_BOUND = 0.97  # measured 0.990 (MinMaxScaler, 32 relu units, 1200 train / 597 test rows)


@pytest.fixture(scope="module")
def digits_mlp():
    X, y = load_digits(return_X_y=True)
    est = make_pipeline(MinMaxScaler(), MLPClassifier((32,), max_iter=300, random_state=0)).fit(X[:1200], y[:1200])
    return est, X[:1200], X[1200:].astype(np.float32)


def _golden(graph, X) -> np.ndarray:
    q = nn_run.stored(graph, nn_run.check_inputs(graph, X))
    return np.stack([g[graph.outputs[0].name].reshape(-1) for g in nn_run.golden(graph, q)])


@pytest.mark.parametrize("target", TARGETS)
def test_int8_mlp_classifier_golden_and_sklearn(target, digits_mlp, tmp_path):
    require_target(target)
    est, Xtr, Xt = digits_mlp
    rows = Xt if target == "host" else Xt[::6]
    cm = edgekiln.convert(est, target, options={"dtype": "int8"}, calibration=Xtr, workdir=tmp_path)
    assert [n.op for n in cm.graph.nodes] == ["fully_connected", "fully_connected"]  # relu fused, scaler folded
    raw = cm.predict_raw(rows).reshape(len(rows), -1)
    assert raw.dtype == np.int8 and np.array_equal(raw, _golden(cm.graph, rows))
    agree = float((cm.predict(rows) == est.predict(rows)).mean())
    assert agree >= DIGITS_BOUND, f"top-1 agreement {agree:.3f} below {DIGITS_BOUND}"


def test_int8_mlp_binary_and_regressor_host(tmp_path):
    X, y = load_digits(n_class=2, return_X_y=True)
    est = make_pipeline(MinMaxScaler(), MLPClassifier((8,), max_iter=400, random_state=0)).fit(X, y)
    cm = edgekiln.convert(est, "host", options={"dtype": "int8"}, calibration=X, workdir=tmp_path / "b")
    assert cm.graph.outputs[0].dims == (1, 2)  # one logit written as two rows
    assert np.array_equal(cm.predict_raw(X).reshape(len(X), -1), _golden(cm.graph, X))
    assert (cm.predict(X) == est.predict(X.astype(np.float32))).mean() >= 0.98
    Xd, yd = load_diabetes(return_X_y=True)
    reg = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), activation="relu", max_iter=500,
                                                       random_state=0)).fit(Xd, yd)
    cr = edgekiln.convert(reg, "host", options={"dtype": "int8"}, calibration=Xd, workdir=tmp_path / "r")
    assert np.array_equal(cr.predict_raw(Xd).reshape(len(Xd), -1), _golden(cr.graph, Xd))
    ref = reg.predict(Xd.astype(np.float32))
    err = np.abs(cr.predict(Xd) - ref).max() / np.ptp(ref)
    assert err <= 0.05, f"max error {err:.3%} of the prediction range"


def test_int8_mlp_cli_reports_agreement_and_flash(digits_mlp, tmp_path):
    est, Xtr, Xt = digits_mlp
    sio.dump(est, tmp_path / "mlp.skops")
    np.save(tmp_path / "calib.npy", Xtr)
    np.save(tmp_path / "X.npy", Xt[:100])
    out = tmp_path / "out"
    kiln("export", str(tmp_path / "mlp.skops"), "--target", "host", "-o", str(out), "--dtype", "int8",
         "--calib", str(tmp_path / "calib.npy"))
    kiln("run", str(out), "--data", str(tmp_path / "X.npy"), "--json", str(tmp_path / "r.json"),
         "--reference", str(tmp_path / "mlp.skops"))
    rep = json.loads((tmp_path / "r.json").read_text())
    mlp, ref = rep["sklearn_mlp"], rep["reference"]
    assert ref["kind"] == "sklearn" and ref["n_samples"] == 100
    same = np.mean(np.asarray(mlp["predictions"]) == est.predict(Xt[:100]))
    assert ref["top1_agreement"] == pytest.approx(same) and same >= DIGITS_BOUND
    # int8 weights: about a quarter of float32's constants (int32 biases and scales on top)
    assert mlp["constants_flash_bytes"] < 0.4 * mlp["float32_constants_bytes"]


@pytest.mark.parametrize("activation,op", [("tanh", "tanh"), ("logistic", "sigmoid")])
def test_int8_mlp_activation_needs_its_kernel(activation, op, tmp_path):
    """Refused by name while the LUT kernel is missing; exported once it is registered."""
    X, y = load_digits(return_X_y=True)
    est = MLPClassifier((4,), activation=activation, max_iter=5).fit(X[:100], y[:100])
    if find_lowering(op, "s8") is None:
        with pytest.raises(UnsupportedModelError, match=f"'{activation}' has no int8 kernel"):
            edgekiln.export(est, "host", tmp_path, options={"dtype": "int8"}, calibration=X[:100])
    else:
        info = edgekiln.export(est, "host", tmp_path, options={"dtype": "int8"}, calibration=X[:100])
        assert op in [layer["op"] for layer in info.plan["layers"]]


def test_int8_bad_input():
    X, y = load_digits(return_X_y=True)
    est = MLPClassifier((4,), max_iter=5).fit(X[:100], y[:100])
    with pytest.raises(InputError, match="pass the training data"):
        edgekiln.export(est, "host", "unused", options={"dtype": "int8"})
    with pytest.raises(InputError, match="calibration data has shape"):
        edgekiln.export(est, "host", "unused", options={"dtype": "int8"}, calibration=X[:, :10])
    from sklearn.tree import DecisionTreeClassifier

    with pytest.raises(UnsupportedModelError, match="DecisionTreeClassifier has no int8 path"):
        edgekiln.export(DecisionTreeClassifier().fit(X, y), "host", "unused", options={"dtype": "int8"}, calibration=X)
