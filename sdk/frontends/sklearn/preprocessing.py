"""Transformers in front of an estimator: StandardScaler, MinMaxScaler (`affine` node, y = x*scale
+ shift per feature) and PCA (`dense` node, y = W x + b)."""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from ...errors import UnsupportedModelError
from . import GraphBuilder, converter


def add_affine(b: GraphBuilder, scale: np.ndarray, shift: np.ndarray) -> None:
    b.add_transform("affine", len(scale), {}, {"scale": np.asarray(scale, dtype=np.float64),
                                               "shift": np.asarray(shift, dtype=np.float64)})


@converter(StandardScaler, alternative_for=("RobustScaler", "MaxAbsScaler", "Normalizer"))
def convert_standard_scaler(est, b: GraphBuilder) -> None:
    n = b.current_length
    mean = est.mean_ if est.with_mean else np.zeros(n)
    std = est.scale_ if est.with_std else np.ones(n)
    add_affine(b, 1.0 / std, -mean / std)


@converter(MinMaxScaler)
def convert_minmax_scaler(est, b: GraphBuilder) -> None:
    if est.clip:
        raise UnsupportedModelError("MinMaxScaler(clip=True) is not supported; refit with clip=False")
    add_affine(b, est.scale_, est.min_)


@converter(PCA, alternative_for=("TruncatedSVD", "KernelPCA", "IncrementalPCA"))
def convert_pca(est, b: GraphBuilder) -> None:
    w = np.asarray(est.components_, dtype=np.float64)
    if est.whiten:
        w = w / np.sqrt(est.explained_variance_)[:, None]
    bias = -w @ est.mean_
    b.add_transform("dense", w.shape[0], {}, {"weight": w.astype(np.float32), "bias": bias.astype(np.float32)})
