"""Pieces shared by the multi-view and incomplete-view baselines of the JECL table.

* :func:`kmeans_labels`: k-means++ with restarts (the "+ KM" step);
* :func:`spectral_clustering`: Ng, Jordan & Weiss normalised spectral
  clustering of a symmetric non-negative affinity (dense or sparse), used by
  MultiViewLRSSC and optionally DMF-MVC;
* :func:`require_complete`: the check of the methods that need every view of
  every sample.

Nothing here imports torch, so that the shallow baselines that do not compute
with it (BMVC, PIC, DAIMC) run without its start-up; the networks of the deep
two-view embeddings are in :mod:`mmclust.methods.deep.branches`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans

from mmclust.cluster.spectral import LOOSE, spectral_embedding

log = logging.getLogger(__name__)


def require_complete(masks: Sequence[np.ndarray], method: str) -> None:
    """Raise ``ValueError`` when a sample misses a view: ``method`` needs them all."""
    for v, m in enumerate(masks):
        if not m.all():
            raise ValueError(
                f"{method} needs every view of every sample, but view {v} is missing for "
                f"{int((~m).sum())} samples; use PIC or DAIMC for incomplete views"
            )


def kmeans_labels(
    X: np.ndarray, n_clusters: int, n_init: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ with ``n_init`` restarts; returns (labels, centres)."""
    km = KMeans(n_clusters, n_init=n_init, random_state=random_state)
    labels = km.fit_predict(np.asarray(X, dtype=np.float64))
    return labels, km.cluster_centers_


#: the dense eigensolver's limit of the "+ SC" step for a dense affinity (a sparse one
#: always goes to ARPACK)
SC_DENSE_MAX = 2000


def spectral_clustering(
    affinity: np.ndarray | sp.spmatrix, n_clusters: int, n_init: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised spectral clustering: (labels, row-normalised spectral embedding).

    The Ng-Jordan-Weiss embedding (:func:`mmclust.cluster.spectral.spectral_embedding`:
    dense LAPACK for a dense affinity of up to ``SC_DENSE_MAX`` samples, else
    ARPACK with the ``LOOSE`` settings) clustered by :func:`kmeans_labels`.
    """
    dense_max = 0 if sp.issparse(affinity) else SC_DENSE_MAX
    emb, _ = spectral_embedding(
        affinity, n_clusters, random_state, dense_max=dense_max, arpack=LOOSE
    )
    labels, _ = kmeans_labels(emb, n_clusters, n_init, random_state)
    return labels, emb.astype(np.float32)
