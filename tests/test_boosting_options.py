"""Boosting options beyond the defaults: the ones whose saved model fully defines the
prediction run and match the library (XGBoost custom objectives, whose file records the
built-in link the wrapper set; LightGBM dart and goss, plain summed trees); the ones it does
not are refused by name (LightGBM boosting='rf' averages its trees: its bare `average_output`
header flag used to be missed, giving sums 3x too large)."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer

import edgekiln
from edgekiln.api import to_graph
from edgekiln.errors import UnsupportedModelError

F32 = np.float32


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X.astype(F32), y


def _logistic(y_true, y_pred):
    p = 1 / (1 + np.exp(-y_pred))
    return p - y_true, p * (1 - p)


@pytest.mark.parametrize("make", [
    lambda: xgb.XGBClassifier(objective=_logistic, n_estimators=3, max_depth=2),
    lambda: lgb.LGBMClassifier(boosting_type="dart", n_estimators=6, verbose=-1),
    lambda: lgb.LGBMClassifier(boosting_type="goss", n_estimators=4, verbose=-1),
], ids=["xgb-custom-objective", "lgb-dart", "lgb-goss"])
def test_options_whose_file_defines_the_prediction(make, data, tmp_path):
    X, y = data
    est = make().fit(X, y)
    cm = edgekiln.convert(est, "host", workdir=tmp_path)
    assert np.abs(cm.predict_proba(X) - est.predict_proba(X)).max() <= 1e-5
    assert np.array_equal(cm.predict(X), est.predict(X))


def test_lightgbm_rf_is_refused(data, tmp_path):
    X, y = data
    est = lgb.LGBMRegressor(boosting_type="rf", n_estimators=3, bagging_freq=1, bagging_fraction=0.5,
                            verbose=-1).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="boosting='rf'"):
        to_graph(est)
    path = tmp_path / "rf.txt"
    est.booster_.save_model(str(path))
    with pytest.raises(UnsupportedModelError, match="averaged trees"):
        to_graph(edgekiln.load_model(path))
