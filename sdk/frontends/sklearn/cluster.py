"""KMeans (and MiniBatchKMeans) predict: nearest centroid, one `nearest_centroid` node."""
from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import NearestCentroid

from ...errors import UnsupportedModelError
from . import GraphBuilder, class_list, converter


@converter(KMeans, MiniBatchKMeans, alternative_for=("BisectingKMeans",))
def convert_kmeans(est, b: GraphBuilder) -> None:
    centers = est.cluster_centers_.astype(np.float32)
    b.add_final("nearest_centroid", "cluster", {"n_centroids": int(centers.shape[0]), "metric": "euclidean"},
                {"centroids": centers}, n_scores=0)


@converter(NearestCentroid)
def convert_nearest_centroid(est, b: GraphBuilder) -> None:
    if est.metric not in ("euclidean", "manhattan"):
        raise UnsupportedModelError(f"NearestCentroid(metric={est.metric!r}) is not supported; use euclidean or manhattan")
    centers = est.centroids_.astype(np.float32)
    b.add_final("nearest_centroid", "classify", {"n_centroids": int(centers.shape[0]), "metric": est.metric},
                {"centroids": centers}, classes=class_list(est))
