"""Gaussian naive Bayes: one `gaussian_nb` node computing the joint log-likelihood.

jll_c = k_c - sum_f (x_f - theta_cf)^2 * h_cf, with k_c = log prior_c - 0.5 sum log(2 pi var_cf)
and h_cf = 0.5 / var_cf folded at export time.
"""
from __future__ import annotations

import numpy as np
from sklearn.naive_bayes import GaussianNB

from . import GraphBuilder, class_list, converter


@converter(GaussianNB, alternative_for=("MultinomialNB", "BernoulliNB", "ComplementNB", "CategoricalNB"))
def convert_gaussian_nb(est, b: GraphBuilder) -> None:
    var = np.asarray(est.var_, dtype=np.float64)
    const = np.log(est.class_prior_) - 0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1)
    consts = {
        "theta": est.theta_.astype(np.float32),
        "half_inv_var": (0.5 / var).astype(np.float32),
        "log_const": const.astype(np.float32),
    }
    n_classes = len(est.classes_)
    b.add_final("gaussian_nb", "classify", {"n_classes": n_classes}, consts, classes=class_list(est),
                n_scores=n_classes, score_kind="proba")
