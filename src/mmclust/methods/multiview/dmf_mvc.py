"""DMF-MVC: multi-view clustering via deep (semi-non-negative) matrix factorisation.

Zhao, Ding & Fu, "Multi-View Clustering via Deep Matrix Factorization",
AAAI 2017.  The JECL table's "DMF-MVC" row.

Model (views v = 1..V, X_v is d_v x n, layers of sizes p_1 > ... > p_m)
    Each view is factorised by m semi-NMF layers whose last representation
    H_m (p_m x n, non-negative) is shared by all views:

        X_v ~ Z_1^v Z_2^v ... Z_m^v H_m

        min  sum_v (alpha_v)^gamma ( ||X_v - Z_1^v ... Z_m^v H_m||_F^2 + beta tr(H_m L_v H_m') )
        s.t. H_m >= 0,  sum_v alpha_v = 1,  alpha_v >= 0,

    where L_v = D_v - A_v is the Laplacian of a k-nearest-neighbour graph
    A_v of view v (the graph regulariser) and the Z's are unconstrained.

Updates (one iteration; every step does not increase the objective)
    * Z_i^v = Phi^+ X_v Htilde_i^+ with Phi = Z_1^v ... Z_{i-1}^v and
      Htilde_i = Z_{i+1}^v ... Z_m^v H_m (exact least squares, i = 1..m);
    * H_m <- H_m * sqrt( sum_v a_v ([Phi'X]^+ + [Phi'Phi]^- H_m + beta H_m A_v)
                       / sum_v a_v ([Phi'X]^- + [Phi'Phi]^+ H_m + beta H_m D_v) ),
      Phi = Z_1^v ... Z_m^v, a_v = alpha_v^gamma, [M]^+ = (|M| + M)/2,
      [M]^- = (|M| - M)/2 (the multiplicative rule of the paper);
    * alpha_v = (gamma R_v)^(1/(1-gamma)) / sum_u (gamma R_u)^(1/(1-gamma)),
      R_v the bracketed term of view v (the paper's closed form; it
      minimises the objective over the simplex when gamma > 1; for
      gamma < 1 it is a stationary point that need not decrease it).

    The intermediate representations H_1..H_{m-1} only serve the
    layer-wise pretraining: the fine-tuning objective depends on the Z's and
    H_m alone.

Choices the paper leaves open here (each a parameter)
    * Defaults of the authors' public demo: layers (100, 50), beta = 0.01,
      gamma = 0.1, a 5-nearest-neighbour heat-kernel graph, samples scaled
      to unit L2 norm in each view (``normalize=True``), 100 pretraining and
      100 fine-tuning iterations.
    * Heat kernel: W_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)), sigma the mean
      neighbour distance, symmetrised by the maximum.  A sample's neighbours
      are the k + 1 nearest samples, itself among the candidates, with the
      first dropped (``exclude="nearest"`` of :func:`mmclust.cluster.graph.knn`):
      a sample with an exact duplicate may keep itself (weight 1) instead of
      the duplicate.
    * Pretraining: each view's layers are pretrained one after the other by
      semi-NMF (Ding, Li & Jordan's multiplicative rule, the H of each layer
      initialised by k-means indicators + 0.2); the shared H_m is initialised
      by one semi-NMF of the stacked last-but-one representations of all
      views (with one layer, of the stacked views), so that it starts shared.
    * Clustering: k-means++ (``kmeans_n_init`` restarts) on the columns of
      H_m (``assign="kmeans"``); ``"spectral"`` clusters a 5-nearest-neighbour
      heat-kernel graph of H_m instead, as the authors' evaluation code does.
    * ``embedding_`` is H_m' (n x p_m).

Views must be complete.  No label is ever read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from tqdm.auto import tqdm

from mmclust.cluster.graph import gaussian_knn_graph, knn
from mmclust.cluster.nmf import multiplicative_update, neg, pos, semi_nmf
from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.multiview.common import (
    kmeans_labels,
    require_complete,
    spectral_clustering,
)

log = logging.getLogger(__name__)

__all__ = ["DMFMVC", "heat_graph", "seminmf"]


def seminmf(X: np.ndarray, k: int, n_iter: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Semi-NMF X ~ Z H, H >= 0 (k x n) with k-means initialisation, ``n_iter`` rounds.

    :func:`mmclust.cluster.nmf.semi_nmf` (H from k-means indicators + 0.2,
    then exact least-squares Z and Ding, Li & Jordan's update of H), in
    float64 on the CPU, run for all ``n_iter`` rounds.
    """
    k = min(k, X.shape[1])
    Z, H, _ = semi_nmf(
        torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64)),
        k,
        n_iter,
        init="kmeans",
        tol=None,
        random_state=random_state,
    )
    return Z.numpy(), H.numpy()


def heat_graph(X: np.ndarray, n_neighbors: int) -> sp.csr_matrix:
    """Symmetric kNN graph of the rows of X, W_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)).

    sigma is the mean distance of the points to their ``n_neighbors`` nearest
    neighbours; an edge exists when either point is among the other's
    neighbours (the larger weight is kept).
    """
    idx, dist = knn(X, min(n_neighbors, X.shape[0] - 1), exclude="nearest")
    sigma = float(dist.mean()) or 1.0
    W, _ = gaussian_knn_graph(idx, dist**2, denominator=2 * sigma**2, symmetric=True)
    return W


def _chain(Zs: Sequence[np.ndarray], dim: int) -> np.ndarray:
    """Z_1 Z_2 ... (the identity of size ``dim`` for an empty product)."""
    if not Zs:
        return np.eye(dim)
    out = Zs[0]
    for Z in Zs[1:]:
        out = out @ Z
    return out


class DMFMVC(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Deep semi-NMF multi-view clustering with graph regularisation.

    Parameters
    ----------
    n_clusters : int, default 10
    layers : sequence of int, default (100, 50)
        p_1 .. p_m; the last is the dimension of the shared H_m.
    beta : float, default 0.01
        Weight of the graph regulariser.
    gamma : float, default 0.1
        Exponent of the view weights.
    n_neighbors : int, default 5
        Neighbours of the kNN graphs.
    normalize : bool, default True
        Scale every sample of every view to unit L2 norm.
    pretrain_iter : int, default 100
    max_iter : int, default 100
    assign : {"kmeans", "spectral"}, default "kmeans"
    kmeans_n_init : int, default 20
    random_state : int, default 0
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, layers[-1]), H_m'
    view_weights_ : ndarray (V,)
    objective_ : list of float, the objective after every fine-tuning iteration
    factors_ : list (per view) of the Z matrices
    """

    def __init__(
        self,
        n_clusters: int = 10,
        layers: Sequence[int] = (100, 50),
        beta: float = 0.01,
        gamma: float = 0.1,
        n_neighbors: int = 5,
        normalize: bool = True,
        pretrain_iter: int = 100,
        max_iter: int = 100,
        assign: str = "kmeans",
        kmeans_n_init: int = 20,
        random_state: int = 0,
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.layers = layers
        self.beta = beta
        self.gamma = gamma
        self.n_neighbors = n_neighbors
        self.normalize = normalize
        self.pretrain_iter = pretrain_iter
        self.max_iter = max_iter
        self.assign = assign
        self.kmeans_n_init = kmeans_n_init
        self.random_state = random_state
        self.verbose = verbose

    # -- pieces, public so that the tests can check them ------------------------------
    def view_terms(
        self,
        Xs: Sequence[np.ndarray],
        Zs: Sequence[Sequence[np.ndarray]],
        H: np.ndarray,
        graphs: Sequence[sp.csr_matrix],
    ) -> np.ndarray:
        """R_v = ||X_v - Z_1..Z_m H||^2 + beta tr(H L_v H') for every view."""
        out = []
        for X, Z, A in zip(Xs, Zs, graphs, strict=True):
            rec = np.sum((X - _chain(Z, X.shape[0]) @ H) ** 2)
            deg = np.asarray(A.sum(axis=1)).ravel()
            lap = np.sum((H * deg) * H) - np.sum((A @ H.T) * H.T)
            out.append(rec + self.beta * lap)
        return np.array(out)

    def objective(self, terms: np.ndarray, alpha: np.ndarray) -> float:
        return float(np.sum(alpha**self.gamma * terms))

    def update_z(self, X: np.ndarray, Z: list[np.ndarray], H: np.ndarray) -> None:
        """Z_i = Phi^+ X Htilde_i^+ for i = 1..m, in place (exact least squares)."""
        m = len(Z)
        for i in range(m):
            htilde = _chain(Z[i + 1 :], Z[i].shape[1]) @ H
            rhs = X @ np.linalg.pinv(htilde)
            Z[i] = rhs if i == 0 else np.linalg.pinv(_chain(Z[:i], X.shape[0])) @ rhs

    def update_h(
        self,
        Xs: Sequence[np.ndarray],
        Zs: Sequence[Sequence[np.ndarray]],
        H: np.ndarray,
        graphs: Sequence[sp.csr_matrix],
        alpha: np.ndarray,
    ) -> np.ndarray:
        """The multiplicative update of the shared H_m (returns the new H)."""
        num = np.zeros_like(H)
        den = np.zeros_like(H)
        for X, Z, A, a in zip(Xs, Zs, graphs, alpha**self.gamma, strict=True):
            phi = _chain(Z, X.shape[0])
            PX, PP = phi.T @ X, phi.T @ phi
            deg = np.asarray(A.sum(axis=1)).ravel()
            HA = (A @ H.T).T
            num += a * (pos(PX) + neg(PP) @ H + self.beta * HA)
            den += a * (neg(PX) + pos(PP) @ H + self.beta * H * deg)
        return multiplicative_update(H, num, den)

    def update_alpha(self, terms: np.ndarray) -> np.ndarray:
        g = self.gamma
        w = (g * np.maximum(terms, np.finfo(float).tiny)) ** (1.0 / (1.0 - g))
        return w / w.sum()

    # -- fit ----------------------------------------------------------------------------
    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> DMFMVC:
        views, masks = check_views(views, masks)
        require_complete(masks, "DMF-MVC")
        if self.gamma == 1:
            raise ValueError("gamma must differ from 1")
        if self.assign not in ("kmeans", "spectral"):
            raise ValueError(f"unknown assign {self.assign!r}; use 'kmeans' or 'spectral'")
        layers = list(self.layers)
        Xs = []
        for v in views:
            x = v.astype(np.float64)
            if self.normalize:
                x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
            Xs.append(x.T)
        graphs = [heat_graph(X.T, self.n_neighbors) for X in Xs]
        V = len(Xs)
        Zs: list[list[np.ndarray]] = []
        lasts = []
        for v, X in enumerate(Xs):
            Z, inp = [], X
            for p in layers[:-1]:
                z, inp = seminmf(inp, p, self.pretrain_iter, self.random_state + v)
                Z.append(z)
            Zs.append(Z)
            lasts.append(inp)
        stacked = np.vstack(lasts)
        z_last, H = seminmf(stacked, layers[-1], self.pretrain_iter, self.random_state)
        offset = 0
        for v in range(V):
            rows = lasts[v].shape[0]
            Zs[v].append(z_last[offset : offset + rows])
            offset += rows
        alpha = np.full(V, 1.0 / V)
        self.objective_: list[float] = []
        bar = tqdm(range(self.max_iter), desc="DMF-MVC", disable=not self.verbose, mininterval=1.0)
        for _ in bar:
            for X, Z in zip(Xs, Zs, strict=True):
                self.update_z(X, Z, H)
            H = self.update_h(Xs, Zs, H, graphs, alpha)
            terms = self.view_terms(Xs, Zs, H, graphs)
            alpha = self.update_alpha(terms)
            self.objective_.append(self.objective(terms, alpha))
            bar.set_postfix(obj=f"{self.objective_[-1]:.4g}")
        self.factors_ = Zs
        self.view_weights_ = alpha
        self.embedding_ = H.T.astype(np.float32)
        if self.assign == "kmeans":
            self.labels_, _ = kmeans_labels(
                H.T, self.n_clusters, self.kmeans_n_init, self.random_state
            )
        else:
            graph = heat_graph(H.T, 5)
            self.labels_, _ = spectral_clustering(
                graph, self.n_clusters, self.kmeans_n_init, self.random_state
            )
        return self
