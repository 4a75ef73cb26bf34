"""NMF baselines of JULE's Tables 1-2: NMF-LP and NMF-D.

NMF-LP
    JULE's reference for NMF-LP is Cai, He, Wang, Bao & Han, "Locality
    preserving nonnegative matrix factorization" (IJCAI 2009), the
    KL-divergence form of graph-regularised NMF that Cai, He, Han & Huang
    (GNMF, TPAMI 2011) call its divergence formulation; "LP" is "locality
    preserving", not label propagation.  X ~ U V^T with nonnegative U (basis)
    and V (new representation); the regulariser
    sum_{j,l} W_jl (D(v_j || v_l) + D(v_l || v_j)) / 2 = tr(V^T L log V)
    (L = D - W of a kNN graph) keeps neighbouring points' representations
    close in KL divergence; clustering is k-means on V.
NMF-D
    Deep Semi-NMF of Trigeorgis, Bousmalis, Zafeiriou & Schuller (ICML 2014):
    X ~ Z_1 Z_2 ... Z_m H_m with mixed-sign Z_i and nonnegative H_i; k-means on
    the last representation H_m.

Scaling (n points, d dimensions, k clusters)
    NMF-LP: per iteration O(n d k) dense products (processed in row blocks,
    memory O(n d) for X itself) plus k sparse conjugate-gradient solves with
    the n x n kNN Laplacian (O(n K) memory).  NMF-D: per iteration O(n d l)
    products for a first layer of size l (400 by default), in torch: on the
    GPU when there is one, else on the CPU cores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike
from scipy.sparse.linalg import cg
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from tqdm.auto import tqdm

from mmclust.cluster.graph import gaussian_knn_graph, knn, knn_matrix, laplacian, symmetrize
from mmclust.cluster.nmf import semi_nmf, semi_nmf_update, sq_residual
from mmclust.methods.base import check_input, check_nonnegative, check_X
from mmclust.nn.utils import resolve_device

log = logging.getLogger(__name__)

__all__ = ["NMFD", "NMFLP", "lpnmf_objective"]

_EPS = 1e-10  # floor of the denominators (the factors' scale is ~1)
_LOG_FLOOR = 1e-200  # floor inside log V (a zero in V makes the KL regulariser infinite)


# ---------------------------------------------------------------------------------
# NMF-LP
# ---------------------------------------------------------------------------------


def _kl_pass(
    X: np.ndarray, V: np.ndarray, U: np.ndarray, side: Literal["V", "U"], block: int = 4096
) -> tuple[np.ndarray, float]:
    """One pass over the rows of X (n, d) with Y = V U^T.

    Returns (G, KL) with G = (X / Y) @ U (n, k) for ``side="V"`` or
    (X / Y)^T @ V (d, k) for ``side="U"``, and KL = sum X log(X / Y) - X + Y.
    """
    n = X.shape[0]
    G = np.zeros((n, U.shape[1])) if side == "V" else np.zeros((U.shape[0], V.shape[1]))
    kl = 0.0
    for s in range(0, n, block):
        Xb = X[s : s + block]
        Yb = np.maximum(V[s : s + block] @ U.T, _EPS)
        Q = Xb / Yb
        if side == "V":
            G[s : s + block] = Q @ U
        else:
            G += Q.T @ V[s : s + block]
        pos = Xb > 0
        kl += float(np.sum(Xb[pos] * np.log(Q[pos])) - Xb.sum() + Yb.sum())
    return G, kl


def lpnmf_objective(
    X: np.ndarray, U: np.ndarray, V: np.ndarray, L: sp.spmatrix, alpha: float
) -> float:
    """KL(X || V U^T) + alpha tr(V^T L log V) (X is (n, d), V (n, k), U (d, k))."""
    _, kl = _kl_pass(X, V, U, "U")
    return kl + alpha * float(np.sum((L @ np.log(np.maximum(V, _LOG_FLOOR))) * V))


class NMFLP(ClusterMixin, BaseEstimator):
    """Locality preserving NMF (NMF-LP; Cai et al., IJCAI 2009), then k-means.

    D. Cai, X. He, X. Wang, H. Bao, J. Han. Locality preserving nonnegative
    matrix factorization. IJCAI 2009 (= the divergence formulation of GNMF,
    D. Cai, X. He, J. Han, T. Huang, TPAMI 2011).  Minimises

        O = sum_ij (x_ij log(x_ij / y_ij) - x_ij + y_ij) + alpha tr(V^T L log V),
        Y = V U^T,

    (X is n x d here; the papers write its transpose) by the papers'
    updates, under which O does not increase:

        U <- U * ((X / Y)^T V) / (1 sum_j v_jk)            (column-wise)
        v_k <- (sum_i u_ik I + alpha L)^{-1} (v_k * ((X / Y) u_k))   for each k,

    the linear systems solved by conjugate gradients (they are symmetric
    positive definite: an M-matrix, so the solution stays nonnegative).
    At the end U's columns are scaled to unit Euclidean norm (V scaled
    inversely, as the authors' code does) and k-means runs on V.

    Choices (the GNMF / LPNMF papers' settings)
    -------------------------------------------
    * alpha = 100 (the authors' code default), k factors, a p = 5 nearest
      neighbour graph with 0-1 weights, symmetrised (``weight="binary"``;
      ``"heat"`` uses exp(-d^2 / sigma^2), sigma^2 = mean squared kNN distance).
    * Random uniform initialisation (seeded), one run, at most ``max_iter`` =
      500 updates, stop when O decreases by less than ``tol`` = 1e-5 relative.
      The authors' code keeps the best of several short runs; not done here.
    * Needs X >= 0: a ValueError names the fix for negative inputs.

    Parameters
    ----------
    n_clusters : int, default 10
        Also the number of factors.
    alpha : float, default 100.0
    n_neighbors : int, default 5
    weight : {"binary", "heat"}, default "binary"
    max_iter : int, default 500
    tol : float, default 1e-5
    n_init : int, default 10
        k-means restarts.
    random_state : int, default 0
    verbose : bool, default True

    Attributes
    ----------
    labels_, embedding_ (n, k) = V, components_ (k, d) = U^T, objective_
    (list: O before each update and after the last), n_iter_.
    """

    def __init__(
        self,
        n_clusters: int = 10,
        alpha: float = 100.0,
        n_neighbors: int = 5,
        weight: Literal["binary", "heat"] = "binary",
        max_iter: int = 500,
        tol: float = 1e-5,
        n_init: int = 10,
        random_state: int = 0,
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.alpha = alpha
        self.n_neighbors = n_neighbors
        self.weight = weight
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.verbose = verbose

    def _laplacian(self, X: np.ndarray) -> sp.csr_matrix:
        idx, d2 = knn(X, self.n_neighbors, squared=True)
        if self.weight == "binary":
            W = symmetrize(knn_matrix(np.ones_like(d2), idx))
        elif self.weight == "heat":
            W, _ = gaussian_knn_graph(idx, d2, symmetric=True)
        else:
            raise ValueError(f"weight={self.weight!r}; use 'binary' or 'heat'")
        return laplacian(W)

    def fit(self, X: ArrayLike, y: Any = None) -> NMFLP:
        check_input(X, self.n_clusters, type(self).__name__)
        X = check_X(X)
        check_nonnegative(X, "NMF-LP")
        n, d = X.shape
        k = self.n_clusters
        L = self._laplacian(X) if self.alpha > 0 else sp.csr_matrix((n, n))
        aL = sp.csr_matrix(self.alpha * L)
        rng = np.random.RandomState(self.random_state)
        scale = np.sqrt(max(float(X.mean()), 1e-12) / k)
        U = rng.uniform(0.0, 1.0, (d, k)) * scale + 1e-3 * scale
        V = rng.uniform(0.0, 1.0, (n, k)) * scale + 1e-3 * scale
        eye = sp.identity(n, format="csr")
        history: list[float] = []
        n_iter = 0
        bar = tqdm(range(self.max_iter), desc="NMF-LP", disable=not self.verbose)
        for _ in bar:
            # V update (needs Y = V U^T of the current factors; KL of the current state)
            G, kl = _kl_pass(X, V, U, "V")
            obj = kl + float(np.sum((aL @ np.log(np.maximum(V, _LOG_FLOOR))) * V))
            if history and history[-1] - obj < self.tol * abs(history[-1]):
                history.append(obj)
                break
            history.append(obj)
            rhs = V * G
            colU = np.maximum(U.sum(axis=0), _EPS)
            for j in range(k):
                if self.alpha > 0:
                    A = sp.csr_matrix(aL + colU[j] * eye)
                    diag = A.diagonal()
                    M = sp.diags(1.0 / diag)
                    v, info = cg(A, rhs[:, j], x0=V[:, j], rtol=1e-10, atol=0.0, maxiter=2000, M=M)
                    if info != 0:
                        log.debug("CG did not reach its tolerance (info=%d)", info)
                    V[:, j] = np.maximum(v, 0.0)
                else:
                    V[:, j] = rhs[:, j] / colU[j]
            # U update with the new V
            GU, _ = _kl_pass(X, V, U, "U")
            U *= GU / np.maximum(V.sum(axis=0), _EPS)
            n_iter += 1
            bar.set_postfix(objective=f"{obj:.6g}")
        else:
            history.append(lpnmf_objective(X, U, V, aL, 1.0))
        bar.close()
        norms = np.maximum(np.linalg.norm(U, axis=0), 1e-15)
        U = U / norms
        V = V * norms
        km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(V)
        self.objective_ = history
        self.n_iter_ = n_iter
        self.components_ = U.T.astype(np.float32)
        self.labels_ = km.labels_.astype(np.int64)
        self.embedding_ = V.astype(np.float32)
        return self


# ---------------------------------------------------------------------------------
# NMF-D (Deep Semi-NMF)
# ---------------------------------------------------------------------------------


class NMFD(ClusterMixin, BaseEstimator):
    """Deep Semi-NMF (NMF-D; Trigeorgis et al., ICML 2014), then k-means on H_m.

    G. Trigeorgis, K. Bousmalis, S. Zafeiriou, B. Schuller. A deep Semi-NMF
    model for learning hidden representations. ICML 2014.
    X^T ~ Z_1 Z_2 ... Z_m H_m (samples as columns), Z_i of mixed sign,
    H_i ~ Z_{i+1} ... Z_m H_m >= 0.  Semi-NMF allows mixed-sign data, so X is
    not required to be nonnegative.

    1. Pretraining: layer by layer, semi-NMF X^T ~ Z_1 H_1, H_1 ~ Z_2 H_2, ...
       (``pretrain_iter`` updates each).
    2. Fine-tuning (the paper's Algorithm 1), repeated: for i = 1..m,
       Htilde_i = Z_{i+1} ... Z_m H_m (H_m for i = m), psi = Z_1 ... Z_{i-1},
       Z_i <- psi^+ X^T Htilde_i^+, then with psi = Z_1 ... Z_i,
       H_i <- H_i * sqrt(([psi^T X^T]^+ + [psi^T psi]^- H_i) /
                         ([psi^T X^T]^- + [psi^T psi]^+ H_i)).
       Each Z_i step is the exact least-squares minimiser and the H_m step
       Ding et al.'s monotone update, so ||X^T - Z_1 ... Z_m H_m||_F^2 does
       not increase.
    3. k-means (scikit-learn, ``n_init`` restarts) on the columns of H_m.

    Choices
    -------
    * Layers: ``hidden_layers`` = (400,) followed by a last layer of
      ``n_clusters`` components, i.e. [400, k]; the paper explores two- and
      three-layer models of a few hundred components ending in a layer the
      size of the attribute's classes (its exact sizes per data set are not
      known to us).
    * Initialisation of each pretraining layer: exact semi-NMF of the
      rank-(r-1) truncated SVD (deterministic; ``init="svd"``, the
      approximation used by the authors' public code) or Ding et al.'s
      k-means initialisation (``init="kmeans"``).
    * ``pretrain_iter`` = 100, fine-tuning ``max_iter`` = 500 with a relative
      tolerance ``tol`` = 1e-5 on the objective (the paper runs to
      convergence; its public code uses a few hundred iterations).
    * torch, float64 by default (``dtype``), on ``device`` ("auto": CUDA when
      present).

    Parameters
    ----------
    n_clusters : int, default 10
    hidden_layers : sequence of int, default (400,)
    pretrain_iter : int, default 100
    max_iter : int, default 500
    tol : float, default 1e-5
    init : {"svd", "kmeans"}, default "svd"
    n_init : int, default 10
    device : str, default "auto"
    dtype : {"float64", "float32"}, default "float64"
    random_state : int, default 0
    verbose : bool, default True

    Attributes
    ----------
    labels_, embedding_ (n, k) = H_m^T, components_ (list of the Z_i as numpy
    arrays), pretrain_objectives_ (list per layer), objective_ (fine-tuning
    history of ||X^T - Z_1...Z_m H_m||_F^2, first entry after pretraining),
    n_iter_.
    """

    def __init__(
        self,
        n_clusters: int = 10,
        hidden_layers: Sequence[int] = (400,),
        pretrain_iter: int = 100,
        max_iter: int = 500,
        tol: float = 1e-5,
        init: Literal["svd", "kmeans"] = "svd",
        n_init: int = 10,
        device: str = "auto",
        dtype: Literal["float64", "float32"] = "float64",
        random_state: int = 0,
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.hidden_layers = hidden_layers
        self.pretrain_iter = pretrain_iter
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.n_init = n_init
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: ArrayLike, y: Any = None) -> NMFD:
        check_input(X, self.n_clusters, type(self).__name__)
        X = check_X(X)
        k = self.n_clusters
        sizes = [int(s) for s in self.hidden_layers] + [k]
        if any(s < 2 for s in sizes):
            raise ValueError(f"every layer needs at least 2 components, got {sizes}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype={self.dtype!r}; use 'float64' or 'float32'")
        device = resolve_device(self.device)
        dt = torch.float64 if self.dtype == "float64" else torch.float32
        Xt = torch.as_tensor(X.T, dtype=dt, device=device).contiguous()

        Zs: list[torch.Tensor] = []
        Hs: list[torch.Tensor] = []
        pre: list[list[float]] = []
        inp = Xt
        for i, r in enumerate(sizes):
            Z, H, hist = semi_nmf(
                inp, r, self.pretrain_iter, self.init, self.tol, self.random_state + i
            )
            Zs.append(Z)
            Hs.append(H)
            pre.append(hist)
            inp = H
            log.debug("NMF-D pretrained layer %d (%d components)", i + 1, r)

        m = len(sizes)
        xx = float(torch.sum(Xt * Xt))
        psi = Zs[0]
        for Z in Zs[1:]:
            psi = psi @ Z
        history = [sq_residual(xx, psi.T @ Xt, psi.T @ psi, Hs[-1])]
        n_iter = 0
        bar = tqdm(range(self.max_iter), desc="NMF-D", disable=not self.verbose)
        for _ in bar:
            n_iter += 1
            Ht: list[torch.Tensor] = [Hs[-1]] * m
            for i in range(m - 2, -1, -1):
                Ht[i] = Zs[i + 1] @ Ht[i + 1]
            PtX = Xt  # psi^T X of the layers below; set at i = 0 before any use
            for i in range(m):
                HtHt = torch.linalg.pinv(Ht[i] @ Ht[i].T, hermitian=True)
                if i == 0:
                    Zs[0] = (Xt @ Ht[0].T) @ HtHt
                    psi = Zs[0]
                else:
                    # psi^+ X = (psi^T psi)^+ psi^T X, with psi^T X kept from layer i - 1
                    G = torch.linalg.pinv(psi.T @ psi, hermitian=True)
                    Zs[i] = G @ (PtX @ Ht[i].T) @ HtHt
                    psi = psi @ Zs[i]
                PtX, PtP = psi.T @ Xt, psi.T @ psi
                Hs[i] = semi_nmf_update(Hs[i], PtX, PtP)
            history.append(sq_residual(xx, PtX, PtP, Hs[-1]))
            bar.set_postfix(objective=f"{history[-1]:.6g}")
            if history[-2] - history[-1] < self.tol * history[-2]:
                break
        bar.close()
        Hm = Hs[-1].T.detach().cpu().numpy().astype(np.float64)
        km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(Hm)
        self.components_ = [Z.detach().cpu().numpy() for Z in Zs]
        self.pretrain_objectives_ = pre
        self.objective_ = history
        self.n_iter_ = n_iter
        self.labels_ = km.labels_.astype(np.int64)
        self.embedding_ = Hm.astype(np.float32)
        return self
