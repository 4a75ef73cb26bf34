"""k-means on a feature matrix, as the papers' "+KM" baselines."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans as _SKKMeans

from mmclust.methods.base import check_input


class KMeansBaseline(ClusterMixin, BaseEstimator):
    """scikit-learn's k-means (k-means++ initialisation, Lloyd iterations).

    Parameters
    ----------
    n_clusters : int, default 10
    n_init : int, default 20
        Restarts; the run with the lowest inertia is kept (no labels used).
    max_iter : int, default 300
    tol : float, default 1e-4
    random_state : int, default 0

    Attributes
    ----------
    labels_, cluster_centers_, inertia_, embedding_ (the input itself)
    """

    def __init__(
        self,
        n_clusters: int = 10,
        n_init: int = 20,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> KMeansBaseline:
        check_input(X, self.n_clusters, type(self).__name__)
        km = _SKKMeans(
            n_clusters=self.n_clusters,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
        ).fit(X)
        self.model_ = km
        self.labels_ = km.labels_
        self.cluster_centers_ = km.cluster_centers_
        self.inertia_ = float(km.inertia_)
        self.embedding_ = np.asarray(X, dtype=np.float32)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)
