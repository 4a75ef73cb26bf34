"""DAIMC: doubly aligned incomplete multi-view clustering.

Hu & Chen, "Doubly Aligned Incomplete Multi-view Clustering", IJCAI 2018
(arXiv 1903.02785).  The incomplete-view baseline of the JECL poster ("JECL
outperforms DAIMC by a large margin").

Model (views v = 1..V, X_v is d_v x n, c = n_clusters)
    Weighted semi-NMF with a common non-negative representation V (n x c),
    aligned by the instances, plus an l2,1-regularised regression that aligns
    the basis matrices U_v (d_v x c) of the views:

        min  sum_v ||(X_v - U_v V') W_v||_F^2 + alpha ( ||B_v' U_v - I||_F^2 + beta ||B_v||_2,1 )
        s.t. V >= 0,

    where W_v = diag(presence of each sample in view v): a missing sample's
    column of X_v is multiplied by 0 and never enters any update.

Updates (one iteration; each does not increase the objective)
    * U_v: the exact minimiser, solution of the Sylvester equation
      alpha B_v B_v' U_v + U_v (V' W_v V) = X_v W_v V + alpha B_v, solved in the
      range of B_v (rank <= c) and its complement, O(d_v c^2);
    * V: ``v_iter`` multiplicative semi-NMF steps
      V <- V * sqrt( sum_v W_v ([X_v'U_v]^+ + V [U_v'U_v]^-)
                     / sum_v W_v ([X_v'U_v]^- + V [U_v'U_v]^+) );
    * B_v: one iteratively-reweighted step of the l2,1 regression,
      B_v = (U_v U_v' + beta/2 G_v)^-1 U_v with G_v = diag(1 / sqrt(||b_k||^2 + eta))
      from the previous B_v (computed by the push-through identity, O(d_v c^2)).

    The authors' code also rescales the columns of V to sum to one after the
    V step (U_v takes the inverse scale, so U_v V' is unchanged but the
    alignment term moves): ``normalize_v=True`` (default) does that, and the
    objective is then no longer guaranteed to decrease at that step.

Choices the paper leaves open here (each a parameter)
    * alpha = 1e-4 and beta = 1e4, the values of the authors' released demo
      (the paper tunes both over 1e-4 .. 1e4); eta = 1e-10; at most 30
      iterations, stop when the relative change of the objective is below
      1e-4; 10 V steps per iteration.
    * Every present sample is scaled to unit L2 norm in each view
      (``normalize=True``, as the authors' scripts do).
    * Initialisation: k-means (``kmeans_n_init`` restarts) on the
      concatenated views where a missing view is replaced by the mean of its
      present samples; V = indicators + 0.1, columns scaled to sum to one;
      U_v the least-squares fit given V; B_v = U_v (U_v'U_v + 1e-5 I)^-1.
      (The authors' code averages per-view k-means indicators whose cluster
      numbers need not agree across views.)
    * Clustering: k-means++ (``kmeans_n_init`` restarts) on the rows of V;
      ``embedding_`` is V.

Missing views are handled: a row whose mask is False is never read.  No
label is ever read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from tqdm.auto import tqdm

from mmclust.cluster.nmf import multiplicative_update, neg, pos
from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.multiview.common import kmeans_labels

log = logging.getLogger(__name__)

__all__ = ["DAIMC", "solve_u"]

_ETA = 1e-10


def solve_u(alpha: float, B: np.ndarray, G: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Solve alpha B B' U + U G = R for U (d x c); G (c x c) symmetric positive definite.

    With B = P S T' (thin SVD), U splits into its component in span(P),
    found from a c x c Sylvester equation diagonalised by the eigenvectors
    of G, and its orthogonal complement, (I - P P') R G^-1.
    """
    P, s, _ = np.linalg.svd(B, full_matrices=False)
    g, E = np.linalg.eigh((G + G.T) / 2)
    sigma = alpha * s**2
    PR = P.T @ R
    Y = ((PR @ E) / (sigma[:, None] + g[None, :])) @ E.T
    perp = R - P @ PR
    return P @ Y + ((perp @ E) / g[None, :]) @ E.T


class DAIMC(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Doubly aligned incomplete multi-view clustering (weighted semi-NMF).

    Parameters
    ----------
    n_clusters : int, default 10
    alpha : float, default 1e-4
        Weight of the basis alignment (regression) term.
    beta : float, default 1e4
        Weight of the l2,1 norm inside it.
    normalize : bool, default True
        Scale every present sample to unit L2 norm in each view.
    normalize_v : bool, default True
        Rescale V's columns to sum to one after each V step (the authors' code).
    max_iter : int, default 30
    tol : float, default 1e-4
    v_iter : int, default 10
        Multiplicative V steps per iteration.
    kmeans_n_init : int, default 20
    random_state : int, default 0
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, n_clusters), V
    bases_ : list of ndarray (d_v, n_clusters), U_v
    regressions_ : list of ndarray (d_v, n_clusters), B_v
    objective_ : list of float, after every iteration
    n_iter_ : int
    """

    def __init__(
        self,
        n_clusters: int = 10,
        alpha: float = 1e-4,
        beta: float = 1e4,
        normalize: bool = True,
        normalize_v: bool = True,
        max_iter: int = 30,
        tol: float = 1e-4,
        v_iter: int = 10,
        kmeans_n_init: int = 20,
        random_state: int = 0,
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.alpha = alpha
        self.beta = beta
        self.normalize = normalize
        self.normalize_v = normalize_v
        self.max_iter = max_iter
        self.tol = tol
        self.v_iter = v_iter
        self.kmeans_n_init = kmeans_n_init
        self.random_state = random_state
        self.verbose = verbose

    # -- the steps, public so that the tests can check them ---------------------------
    def objective(self, Xs, idxs, Us, V, Bs) -> float:  # type: ignore[no-untyped-def]
        """The DAIMC objective (with the smoothed l2,1 norm sum_k sqrt(||b_k||^2 + eta))."""
        total = 0.0
        c = V.shape[1]
        for X, idx, U, B in zip(Xs, idxs, Us, Bs, strict=True):
            total += np.sum((X - U @ V[idx].T) ** 2)
            l21 = np.sum(np.sqrt(np.sum(B**2, axis=1) + _ETA))
            total += self.alpha * (np.sum((B.T @ U - np.eye(c)) ** 2) + self.beta * l21)
        return float(total)

    def update_u(self, X, idx, V, B) -> np.ndarray:  # type: ignore[no-untyped-def]
        Vp = V[idx]
        return solve_u(self.alpha, B, Vp.T @ Vp, X @ Vp + self.alpha * B)

    def update_v(self, Xs, idxs, Us, V) -> np.ndarray:  # type: ignore[no-untyped-def]
        for _ in range(self.v_iter):
            num = np.zeros_like(V)
            den = np.zeros_like(V)
            for X, idx, U in zip(Xs, idxs, Us, strict=True):
                XU, UU = X.T @ U, U.T @ U
                Vp = V[idx]
                num[idx] += pos(XU) + Vp @ neg(UU)
                den[idx] += neg(XU) + Vp @ pos(UU)
            V = multiplicative_update(V, num, den, eps=1e-300)
        return V

    def update_b(self, U, B) -> np.ndarray:  # type: ignore[no-untyped-def]
        dinv = 2.0 * np.sqrt(np.sum(B**2, axis=1) + _ETA) / self.beta  # (beta/2 G)^-1
        DU = dinv[:, None] * U
        return DU @ np.linalg.inv(np.eye(U.shape[1]) + U.T @ DU)

    # -- fit ----------------------------------------------------------------------------
    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> DAIMC:
        views, masks = check_views(views, masks)
        n, c = views[0].shape[0], self.n_clusters
        idxs, Xs, filled = [], [], []
        for X, m in zip(views, masks, strict=True):
            idx = np.flatnonzero(m)
            P = X[idx].astype(np.float64)
            if self.normalize:
                P = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
            F = np.empty((n, P.shape[1]))
            F[:] = P.mean(axis=0)
            F[idx] = P
            idxs.append(idx)
            Xs.append(P.T)
            filled.append(F)
        labels0, _ = kmeans_labels(np.hstack(filled), c, self.kmeans_n_init, self.random_state)
        del filled
        V = np.full((n, c), 0.1)
        V[np.arange(n), labels0] += 1.0
        V /= V.sum(axis=0, keepdims=True)
        Us, Bs = [], []
        for X, idx in zip(Xs, idxs, strict=True):
            Vp = V[idx]
            U = np.linalg.lstsq(Vp, X.T, rcond=None)[0].T
            Us.append(U)
            Bs.append(U @ np.linalg.inv(U.T @ U + 1e-5 * np.eye(c)))
        self.objective_: list[float] = [self.objective(Xs, idxs, Us, V, Bs)]
        bar = tqdm(range(self.max_iter), desc="DAIMC", disable=not self.verbose, mininterval=1.0)
        it = 0
        for it in bar:  # noqa: B007
            Us = [self.update_u(X, idx, V, B) for X, idx, B in zip(Xs, idxs, Bs, strict=True)]
            V = self.update_v(Xs, idxs, Us, V)
            if self.normalize_v:
                q = np.maximum(V.sum(axis=0), 1e-300)
                V = V / q
                Us = [U * q for U in Us]
            Bs = [self.update_b(U, B) for U, B in zip(Us, Bs, strict=True)]
            f = self.objective(Xs, idxs, Us, V, Bs)
            prev = self.objective_[-1]
            self.objective_.append(f)
            bar.set_postfix(obj=f"{f:.4g}")
            if abs(prev - f) / max(abs(prev), 1e-300) < self.tol:
                break
        self.n_iter_ = it + 1
        self.bases_ = Us
        self.regressions_ = Bs
        self.embedding_ = V.astype(np.float32)
        self.labels_, _ = kmeans_labels(V, c, self.kmeans_n_init, self.random_state)
        return self
