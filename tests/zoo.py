"""The estimators every parity test runs: (id, factory, exact?) per task."""
from __future__ import annotations

from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import (ExtraTreesClassifier, IsolationForest, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, OneClassSVM
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor



def _boosting_libraries(kind: str) -> list:
    """XGBoost and LightGBM (the test extra installs them; absent, their rows are absent)."""
    rows = []
    try:
        import xgboost as xgb
    except ImportError:
        pass
    else:
        rows.append((f"xgb{'r' if kind == 'regressor' else ''}",
                     (lambda: xgb.XGBRegressor(n_estimators=8, max_depth=3)) if kind == "regressor" else
                     (lambda: xgb.XGBClassifier(n_estimators=5, max_depth=3)), True))
    try:
        import lightgbm as lgb
    except ImportError:
        pass
    else:
        rows.append((f"lgbm{'r' if kind == 'regressor' else ''}",
                     (lambda: lgb.LGBMRegressor(n_estimators=8, num_leaves=8, verbose=-1)) if kind == "regressor" else
                     (lambda: lgb.LGBMClassifier(n_estimators=5, num_leaves=8, verbose=-1)), True))
    return rows


CLASSIFIERS = [
    ("dt", lambda: DecisionTreeClassifier(random_state=0), True),
    ("rf", lambda: RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0), True),
    ("et", lambda: ExtraTreesClassifier(n_estimators=8, random_state=0), True),
    ("scaled_dt", lambda: make_pipeline(StandardScaler(), DecisionTreeClassifier(random_state=0)), True),
    ("minmax_rf", lambda: make_pipeline(MinMaxScaler(), RandomForestClassifier(5, random_state=0)), True),
    ("gbc", lambda: GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0), True),
    ("hgb", lambda: HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=8, random_state=0), True),
    *_boosting_libraries("classifier"),
    ("gnb", lambda: GaussianNB(), False),
    ("logreg", lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)), False),
    ("linsvc", lambda: make_pipeline(StandardScaler(), LinearSVC(max_iter=5000)), False),
    ("svc_rbf", lambda: make_pipeline(StandardScaler(), SVC()), False),
    ("svc_linear", lambda: make_pipeline(MinMaxScaler(), SVC(kernel="linear")), False),
    ("svc_poly", lambda: make_pipeline(StandardScaler(), SVC(kernel="poly", degree=3)), False),
    ("svc_sigmoid", lambda: make_pipeline(StandardScaler(), SVC(kernel="sigmoid", gamma=0.01)), False),
    ("knn", lambda: KNeighborsClassifier(), False),
    ("knn_dist_l1", lambda: KNeighborsClassifier(weights="distance", metric="manhattan"), False),
    ("pca_logreg", lambda: make_pipeline(StandardScaler(), PCA(n_components=3), LogisticRegression()), False),
    ("mlp_relu", lambda: make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=300, random_state=0)), False),
    ("mlp_tanh", lambda: make_pipeline(MinMaxScaler(), MLPClassifier((12, 8), activation="tanh", max_iter=300,
                                                                     random_state=0)), False),
]

REGRESSORS = [
    ("dtr", lambda: DecisionTreeRegressor(max_depth=8, random_state=0), True),
    ("rfr", lambda: RandomForestRegressor(n_estimators=8, max_depth=8, random_state=0), True),
    ("etr", lambda: ExtraTreesRegressor(n_estimators=5, max_depth=8, random_state=0), True),
    ("gbr", lambda: GradientBoostingRegressor(n_estimators=8, max_depth=3, random_state=0), True),
    ("hgbr", lambda: HistGradientBoostingRegressor(max_iter=8, max_leaf_nodes=8, random_state=0), True),
    *_boosting_libraries("regressor"),
    ("linreg", lambda: LinearRegression(), False),
    ("ridge", lambda: make_pipeline(StandardScaler(), Ridge()), False),
    ("lasso", lambda: Lasso(alpha=0.1), False),
    ("svr", lambda: make_pipeline(StandardScaler(), SVR()), False),
    ("knnr", lambda: KNeighborsRegressor(weights="distance"), False),
    ("mlpr", lambda: make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), max_iter=500,
                                                                  random_state=0)), False),
]

# Boosted rows: their table layout runs in tests/test_boosting.py (keeps the parity sweep short).
BOOSTED = {"gbc", "hgb", "xgb", "lgbm", "gbr", "hgbr", "xgbr", "lgbmr"}

CLUSTERERS = [
    ("kmeans", lambda: KMeans(n_clusters=4, n_init=3, random_state=0), False),
]

# Anomaly detectors (classes -1/1, decision_function and score_samples): tests/test_anomaly.py.
# exact: labels identical for every sample (IsolationForest's path sums are scikit-learn's bit
# for bit); otherwise mismatches only where the decision is within the float32 tolerance of 0.
ANOMALY = [
    ("iforest", lambda: IsolationForest(n_estimators=20, random_state=0), True),
    ("iforest_sub", lambda: IsolationForest(n_estimators=12, max_samples=64, max_features=0.5, contamination=0.1,
                                            random_state=0), True),
    ("iforest_scaled", lambda: make_pipeline(StandardScaler(), IsolationForest(n_estimators=15, random_state=0)), True),
    ("ocsvm_rbf", lambda: OneClassSVM(nu=0.2, gamma="scale"), False),
    ("ocsvm_linear", lambda: make_pipeline(MinMaxScaler(), OneClassSVM(kernel="linear", nu=0.2)), False),
    ("ocsvm_poly", lambda: make_pipeline(MinMaxScaler(), OneClassSVM(kernel="poly", degree=3, nu=0.2)), False),
    ("ocsvm_sigmoid", lambda: make_pipeline(MinMaxScaler(), OneClassSVM(kernel="sigmoid", gamma=0.05, nu=0.2)), False),
]
