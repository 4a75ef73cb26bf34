"""PIC: perturbation-oriented incomplete multi-view clustering.

Wang, Zong, Liu, Yang & Zhou, "Spectral Perturbation Meets Incomplete
Multi-view Data", IJCAI 2019 (arXiv 1906.00098).  The incomplete-view
baseline of the JECL poster ("competitive with the state-of-the-art method,
PIC").

Method (views v = 1..V; a sample may miss views, never all)
    1. Per view, a similarity matrix W_v on the samples present in the view:
       each sample is joined to its k nearest present neighbours with the
       adaptive-neighbour weights of Nie et al. (2014),
       s_ij = (d_i,k+1 - d_ij) / (k d_i,k+1 - sum_{h<=k} d_ih) (d squared
       Euclidean distances, rows sum to one).
    2. Completion: the row of a sample missing in view v is the average of
       its rows in the views where it is present (summed, then normalised to
       sum one); S_v = (W_v + W_v') / 2 after completion; the normalised
       similarity is L_v = D_v^-1/2 S_v D_v^-1/2.
    3. View weights from the perturbation risk: with (U_m, Lambda_m) the top
       eigenpairs of L_m (the spectral embedding of view m), the fused
       L* = sum_v w_v L_v perturbs view m's eigen-system by
       ||L* U_m - U_m Lambda_m||_F; the weights minimise the summed risk plus
       a smoothness term between similar views,

           min_w  1/2 sum_m ||L* U_m - U_m Lambda_m||_F^2 + beta' sum_{i<j} phi_ij (w_i - w_j)^2
           s.t.   w >= 0, sum_v w_v = 1,

       phi_ij = pi - (largest principal angle between span U_i and span U_j),
       beta' = beta ||C||_F / ||Q||_F (C the quadratic form of the risk, Q the
       Laplacian of phi), a convex quadratic programme in V variables solved
       exactly by enumerating the faces of the simplex.
    4. The top ``n_clusters`` eigenvectors of L*, rows normalised to unit
       length, clustered by k-means (``kmeans_n_init`` restarts).

Choices the paper leaves open here (each a parameter)
    * Defaults of the authors' public code: k = 13 neighbours, beta = 0.1,
      every sample standardised across its own features (``normalize=True``).
    * The risk uses the top ``n_eigenvectors`` (default ``n_clusters``)
      eigenpairs of each view; the authors' code uses a full SVD with
      rescaled eigenvectors, O(n^3) time and dense n x n memory, which does
      not scale to the JECL data.  Everything here is sparse (O(n k)) except
      the n x ``n_eigenvectors`` eigenvectors: dense LAPACK up to 1000
      samples, ARPACK (tolerance 1e-8, seeded positive start vector) above.
    * A sample's neighbours are the k + 1 nearest present samples, itself
      among the candidates, with the first dropped (``exclude="nearest"`` of
      :func:`mmclust.cluster.graph.knn`): a sample with an exact duplicate may
      keep itself instead of the duplicate.
    * ``embedding_`` is the row-normalised spectral embedding of L*.

Missing views are handled: a row whose mask is False is never read.  No
label is ever read.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import subspace_angles
from sklearn.base import BaseEstimator, ClusterMixin

from mmclust.cluster.graph import knn
from mmclust.cluster.spectral import LOOSE, normalized_affinity, row_unit, top_eigenpairs
from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.multiview.common import kmeans_labels

log = logging.getLogger(__name__)

__all__ = ["PIC", "adaptive_neighbour_graph", "complete_similarities", "simplex_qp"]


def adaptive_neighbour_graph(X: np.ndarray, k: int) -> sp.csr_matrix:
    """Nie et al.'s adaptive-neighbour similarity of the rows of X (rows sum to one)."""
    n = X.shape[0]
    k = max(1, min(k, n - 2))
    idx, d2 = knn(X, k + 1, squared=True, exclude="nearest")
    dk1 = d2[:, k][:, None]
    denom = k * dk1 - d2[:, :k].sum(axis=1, keepdims=True) + np.finfo(float).eps
    w = (dk1 - d2[:, :k]) / denom
    rows = np.repeat(np.arange(n), k)
    return sp.csr_matrix((w.ravel(), (rows, idx[:, :k].ravel())), shape=(n, n))


def complete_similarities(
    graphs: Sequence[sp.csr_matrix], masks: Sequence[np.ndarray]
) -> list[sp.csr_matrix]:
    """PIC's completion: a sample missing in view v takes the average of its other rows.

    ``graphs[v]`` is n x n with non-zero rows only for the samples present in
    view v.  Returns the symmetrised completed matrices (S + S') / 2.
    """
    out = []
    for v, (W, m) in enumerate(zip(graphs, masks, strict=True)):
        missing = ~m
        fill = sp.csr_matrix(W.shape)
        for u, (Wu, mu) in enumerate(zip(graphs, masks, strict=True)):
            if u != v:
                fill = fill + sp.diags((missing & mu).astype(float)) @ Wu
        sums = np.asarray(fill.sum(axis=1)).ravel()
        fill = sp.diags(np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 0.0)) @ fill
        S = (sp.diags(m.astype(float)) @ W + fill).tocsr()
        out.append(((S + S.T) / 2).tocsr())
    return out


def simplex_qp(H: np.ndarray, f: np.ndarray) -> np.ndarray:
    """argmin 1/2 w'Hw + f'w over the probability simplex (H symmetric PSD, small).

    Every face of the simplex is tried: the stationary point of the problem
    restricted to the face's affine hull is kept when it lies in the face;
    the best of those is the minimiser (convexity).
    """
    V = H.shape[0]
    best, best_val = None, np.inf
    for size in range(1, V + 1):
        for S in itertools.combinations(range(V), size):
            idx = list(S)
            K = np.zeros((size + 1, size + 1))
            K[:size, :size] = H[np.ix_(idx, idx)]
            K[:size, size] = 1.0
            K[size, :size] = 1.0
            rhs = np.concatenate([-f[idx], [1.0]])
            sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
            ws = sol[:size]
            if np.any(ws < -1e-12) or abs(ws.sum() - 1) > 1e-9:
                continue
            w = np.zeros(V)
            w[idx] = np.clip(ws, 0, None)
            w /= w.sum()
            val = 0.5 * w @ H @ w + f @ w
            if val < best_val - 1e-15:
                best, best_val = w, val
    assert best is not None
    return best


#: PIC solves eigenproblems of up to this many samples densely
DENSE_MAX = 1000


class PIC(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Perturbation-oriented incomplete multi-view clustering.

    Parameters
    ----------
    n_clusters : int, default 10
    n_neighbors : int, default 13
    beta : float, default 0.1
        Relative weight of the view-smoothness term.
    normalize : bool, default True
        Standardise every sample across its own features (per view).
    n_eigenvectors : int or None, default None
        Eigenpairs per view in the perturbation risk (None: n_clusters).
    kmeans_n_init : int, default 20
    random_state : int, default 0
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, n_clusters), row-normalised spectral embedding of L*
    view_weights_ : ndarray (V,)
    angles_ : ndarray (V,), largest principal angle between each view's and the fused embedding
    """

    def __init__(
        self,
        n_clusters: int = 10,
        n_neighbors: int = 13,
        beta: float = 0.1,
        normalize: bool = True,
        n_eigenvectors: int | None = None,
        kmeans_n_init: int = 20,
        random_state: int = 0,
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.beta = beta
        self.normalize = normalize
        self.n_eigenvectors = n_eigenvectors
        self.kmeans_n_init = kmeans_n_init
        self.random_state = random_state
        self.verbose = verbose

    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> PIC:
        views, masks = check_views(views, masks)
        n, V = views[0].shape[0], len(views)
        k = self.n_eigenvectors or self.n_clusters
        graphs = []
        for X, m in zip(views, masks, strict=True):
            idx = np.flatnonzero(m)
            if idx.size < 3:
                raise ValueError("PIC needs at least three samples present in every view")
            Xp = X[idx].astype(np.float64)
            if self.normalize:
                sd = Xp.std(axis=1, keepdims=True)
                Xp = (Xp - Xp.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
            Wp = adaptive_neighbour_graph(Xp, self.n_neighbors).tocoo()
            graphs.append(sp.csr_matrix((Wp.data, (idx[Wp.row], idx[Wp.col])), shape=(n, n)))
        S = complete_similarities(graphs, masks)
        Ls = [normalized_affinity(Sv)[0] for Sv in S]
        pairs = [
            top_eigenpairs(L, k, self.random_state, dense_max=DENSE_MAX, arpack=LOOSE) for L in Ls
        ]
        # perturbation risk: 1/2 w'Cw - d'w + const
        C = np.zeros((V, V))
        d = np.zeros(V)
        for vals_m, U_m in pairs:
            P = [L @ U_m for L in Ls]
            target = U_m * vals_m
            for i in range(V):
                d[i] += np.sum(P[i] * target)
                for j in range(V):
                    C[i, j] += np.sum(P[i] * P[j])
        phi = np.zeros((V, V))
        for i in range(V):
            for j in range(V):
                if i != j:
                    phi[i, j] = np.pi - subspace_angles(pairs[i][1], pairs[j][1]).max()
        Q = np.diag(phi.sum(axis=1)) - phi
        qn = np.linalg.norm(Q)
        beta = self.beta * np.linalg.norm(C) / qn if qn > 0 else 0.0
        Hq = C + beta * Q
        w = simplex_qp((Hq + Hq.T) / 2, -d)
        Lstar = sum(wv * L for wv, L in zip(w, Ls, strict=True))
        _, U = top_eigenpairs(
            Lstar.tocsr(), self.n_clusters, self.random_state, dense_max=DENSE_MAX, arpack=LOOSE
        )
        emb = row_unit(U)
        self.view_weights_ = w
        self.angles_ = np.array(
            [subspace_angles(p[1][:, : self.n_clusters], U).max() for p in pairs]
        )
        self.embedding_ = emb.astype(np.float32)
        self.labels_, _ = kmeans_labels(emb, self.n_clusters, self.kmeans_n_init, self.random_state)
        return self
