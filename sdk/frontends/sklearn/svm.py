"""Kernel SVMs (SVC, NuSVC, SVR, NuSVR): one `svc` node over the support vectors.

Multiclass SVC is one-vs-one as libsvm does it: kernel values against every support vector
once, a decision per class pair, votes, first class with most votes wins.
"""
from __future__ import annotations

import numpy as np
from sklearn.svm import SVC, SVR, NuSVC, NuSVR

from ...errors import UnsupportedModelError
from . import GraphBuilder, class_list, converter

KERNELS = ("linear", "rbf", "poly", "sigmoid")


def _kernel_attrs(est) -> dict:
    if est.kernel not in KERNELS:
        raise UnsupportedModelError(
            f"SVM kernel {est.kernel!r} is not supported; use one of {', '.join(KERNELS)} "
            "(a callable or precomputed kernel cannot be exported)."
        )
    return {"kernel": est.kernel, "gamma": float(est._gamma), "coef0": float(est.coef0), "degree": int(est.degree)}


@converter(SVC, NuSVC)
def convert_svc(est, b: GraphBuilder) -> None:
    attrs = _kernel_attrs(est)
    n_classes = len(est.classes_)
    if est.break_ties and n_classes > 2:
        raise UnsupportedModelError("SVC(break_ties=True) is not supported; refit with break_ties=False (the default).")
    n_pairs = n_classes * (n_classes - 1) // 2
    attrs.update(n_classes=n_classes, n_sv=int(est.support_vectors_.shape[0]), mode="classify",
                 # 'ovr' outputs are libsvm's ovo decisions transformed as sklearn does.
                 decision_shape="binary" if n_classes == 2 else est.decision_function_shape)
    consts = {
        "support_vectors": est.support_vectors_.astype(np.float32),
        "dual_coef": np.asarray(est.dual_coef_, dtype=np.float32),
        "intercept": np.asarray(est.intercept_, dtype=np.float32),
        "sv_start": np.r_[0, np.cumsum(est.n_support_)].astype(np.int32),
    }
    if est.kernel == "linear":
        _to_primal(est, attrs, consts)
    n_scores = 1 if n_classes == 2 else (n_pairs if est.decision_function_shape == "ovo" else n_classes)
    b.add_final("svc", "classify", attrs, consts, classes=class_list(est), n_scores=n_scores, score_kind="decision")


def _to_primal(est, attrs: dict, consts: dict) -> None:
    """A linear kernel collapses to one weight vector per class pair, summed in float64:
    fewer operations and no float32 cancellation over many support vectors."""
    sv = np.asarray(est.support_vectors_, dtype=np.float64)
    dual = np.asarray(est.dual_coef_, dtype=np.float64)
    start = consts["sv_start"]
    n_classes = len(start) - 1
    rows = []
    if n_classes <= 2:
        rows.append(dual[0] @ sv)
    else:
        for i in range(n_classes):
            for j in range(i + 1, n_classes):
                si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
                rows.append(dual[j - 1, si] @ sv[si] + dual[i, sj] @ sv[sj])
    consts["support_vectors"] = np.asarray(rows, dtype=np.float32)
    consts["dual_coef"] = np.ones((1, len(rows)), dtype=np.float32)
    attrs.update(kernel="linear_primal", n_sv=len(rows))


@converter(SVR, NuSVR)
def convert_svr(est, b: GraphBuilder) -> None:
    attrs = _kernel_attrs(est)
    attrs.update(n_classes=0, n_sv=int(est.support_vectors_.shape[0]), mode="regress", decision_shape="binary")
    consts = {
        "support_vectors": est.support_vectors_.astype(np.float32),
        "dual_coef": np.asarray(est.dual_coef_, dtype=np.float32),
        "intercept": np.asarray(est.intercept_, dtype=np.float32),
        "sv_start": np.array([0, est.support_vectors_.shape[0]], dtype=np.int32),
    }
    if est.kernel == "linear":
        _to_primal(est, attrs, consts)
    b.add_final("svc", "regress", attrs, consts, n_values=1)
