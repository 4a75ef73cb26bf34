"""Spectral baselines of JULE's Tables 1-2: SC-NJW, SC-ST, SC-LS and N-Cuts.

All four build a sparse affinity (kNN graph or landmark representation), take
a few eigenvectors with ARPACK (or a dense solver on small problems) and turn
them into labels.  None needs an n x n dense matrix except SC-ST with
``n_neighbors=None`` (the paper's full affinity, for small data only).

Scaling (n points, d dimensions, K neighbours, k clusters)
    SC-NJW, SC-ST, N-Cuts: exact kNN search O(n^2 d) time (scikit-learn,
    chunked), O(n K) memory; Lanczos eigenvectors O(n K k) per iteration;
    k-means / discretisation O(n k^2) per iteration.  70 000 MNIST digits:
    minutes, dominated by the kNN search.
    SC-LS: landmark k-means O(n p d) per iteration (p = 1000 landmarks),
    representation O(n r) memory, SVD through the p x p Gram matrix
    O(n r^2 + p^3); the only one of the four that avoids the n^2 kNN search.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from mmclust.cluster.graph import gaussian_knn_graph, knn, knn_matrix, symmetrize
from mmclust.cluster.spectral import (
    anchor_embedding,
    normalized_affinity,
    row_unit,
    spectral_embedding,
    top_eigenpairs,
)
from mmclust.methods.base import check_input, check_X

log = logging.getLogger(__name__)

__all__ = [
    "SCLS",
    "SCNJW",
    "SCST",
    "NCuts",
    "landmark_representation",
    "local_scales",
    "rotation_alignment",
    "self_tuning_affinity",
    "yu_shi_discretize",
]


def _kmeans(U: np.ndarray, k: int, n_init: int, random_state: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(U)


def _symmetric_gaussian_graph(X: np.ndarray, n_neighbors: int, a: float) -> sp.csr_matrix:
    idx, d2 = knn(X, n_neighbors, squared=True)
    W, _ = gaussian_knn_graph(idx, d2, a, symmetric=True)
    return W


# ---------------------------------------------------------------------------------
# SC-NJW
# ---------------------------------------------------------------------------------


class SCNJW(ClusterMixin, BaseEstimator):
    """Normalised spectral clustering of Ng, Jordan & Weiss (NIPS 2002).

    A. Ng, M. Jordan, Y. Weiss. On spectral clustering: analysis and an
    algorithm. NIPS 2002.  Steps: Gaussian affinity W (zero diagonal);
    M = D^{-1/2} W D^{-1/2}; the k largest eigenvectors of M as columns of U;
    rows of U scaled to unit length; k-means on the rows.

    Choices
    -------
    * The paper's affinity is dense (all pairs); here it is the symmetric
      Gaussian kNN graph (``n_neighbors`` = 20, the K of the GDL / PIC / JULE
      graphs), so memory stays O(n K).
    * The paper picks sigma by a search over the k-means distortion; here
      sigma^2 = ``a`` x the mean squared kNN distance (a = 1, the rule of the
      GDL / PIC / JULE graphs), with W_ij = exp(-||x_i - x_j||^2 / sigma^2).
    * k-means: scikit-learn, k-means++ with ``n_init`` = 10 restarts.

    Parameters
    ----------
    n_clusters : int, default 10
    n_neighbors : int, default 20
    a : float, default 1.0
        Scale of sigma^2.
    n_init : int, default 10
    random_state : int, default 0

    Attributes
    ----------
    labels_ (n,), embedding_ (n, k) the row-normalised eigenvectors,
    eigenvalues_ (k,) of M, affinity_ the sparse symmetric W.
    """

    def __init__(
        self,
        n_clusters: int = 10,
        n_neighbors: int = 20,
        a: float = 1.0,
        n_init: int = 10,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.a = a
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: Any = None) -> SCNJW:
        check_input(X, self.n_clusters, type(self).__name__)
        X = check_X(X)
        W = _symmetric_gaussian_graph(X, self.n_neighbors, self.a)
        Y, vals = spectral_embedding(W, self.n_clusters, self.random_state)
        km = _kmeans(Y, self.n_clusters, self.n_init, self.random_state)
        self.affinity_ = W
        self.eigenvalues_ = vals
        self.labels_ = km.labels_.astype(np.int64)
        self.embedding_ = Y.astype(np.float32)
        return self


# ---------------------------------------------------------------------------------
# SC-ST
# ---------------------------------------------------------------------------------


def local_scales(dist: np.ndarray, scale_neighbor: int = 7) -> np.ndarray:
    """sigma_i = distance from x_i to its ``scale_neighbor``-th nearest neighbour.

    ``dist`` holds the sorted distances to the nearest other points (n, K),
    K >= scale_neighbor.  A zero scale (that many duplicates of x_i) is
    replaced by the smallest positive scale, or 1 if there is none.
    """
    if dist.shape[1] < scale_neighbor:
        raise ValueError(
            f"need distances to at least {scale_neighbor} neighbours, got {dist.shape[1]}"
        )
    sigma = dist[:, scale_neighbor - 1].astype(np.float64).copy()
    pos = sigma[sigma > 0]
    sigma[sigma <= 0] = pos.min() if pos.size else 1.0
    return sigma


def self_tuning_affinity(dist: np.ndarray, idx: np.ndarray, sigma: np.ndarray) -> sp.csr_matrix:
    """A_ij = exp(-d(x_i, x_j)^2 / (sigma_i sigma_j)) on the symmetric kNN pattern.

    The formula is symmetric, so A = max(A_knn, A_knn^T) holds the value for
    every pair where either point is among the other's neighbours.
    """
    vals = np.exp(-(dist**2) / (sigma[:, None] * sigma[idx]))
    return symmetrize(knn_matrix(vals, idx))


def rotation_alignment(
    U: np.ndarray, max_iter: int = 500, tol: float = 1e-7
) -> tuple[np.ndarray, float]:
    """Rotation R aligning the rows of U with the coordinate axes (Zelnik-Manor & Perona).

    Minimises J(R) = (1/n) sum_i sum_j Z_ij^2 / M_i^2, Z = U R, M_i = max_j |Z_ij|
    (J = 1 when every row has a single non-zero entry, at most k) over
    rotations R = prod_{p<q} G(p, q, theta_pq) of Givens rotations, by gradient
    descent on the angles from theta = 0 with a backtracking step.  The
    gradient uses dJ/dtheta = <U^T dJ/dZ, dR/dtheta>.  Returns (R, J).
    """
    n, c = U.shape
    if c < 2:
        return np.eye(c), 1.0
    pairs = [(p, q) for p in range(c - 1) for q in range(p + 1, c)]

    def givens(p: int, q: int, t: float, deriv: bool = False) -> np.ndarray:
        G = np.zeros((c, c)) if deriv else np.eye(c)
        cs, sn = np.cos(t), np.sin(t)
        if deriv:
            G[p, p], G[q, q], G[p, q], G[q, p] = -sn, -sn, -cs, cs
        else:
            G[p, p], G[q, q], G[p, q], G[q, p] = cs, cs, -sn, sn
        return G

    def rotation(theta: np.ndarray) -> np.ndarray:
        R = np.eye(c)
        for (p, q), t in zip(pairs, theta, strict=True):
            R = R @ givens(p, q, t)
        return R

    def cost(theta: np.ndarray) -> float:
        Z = U @ rotation(theta)
        m = np.abs(Z).max(axis=1)
        m = np.maximum(m, 1e-300)
        return float(np.mean((Z**2).sum(axis=1) / m**2))

    def gradient(theta: np.ndarray) -> np.ndarray:
        Gs = [givens(p, q, t) for (p, q), t in zip(pairs, theta, strict=True)]
        R = np.eye(c)
        prefix = []
        for G in Gs:
            prefix.append(R)
            R = R @ G
        suffix = [np.eye(c)] * len(Gs)
        S = np.eye(c)
        for i in range(len(Gs) - 1, -1, -1):
            suffix[i] = S
            S = Gs[i] @ S
        Z = U @ R
        absZ = np.abs(Z)
        arg = absZ.argmax(axis=1)
        m = np.maximum(absZ[np.arange(n), arg], 1e-300)
        ss = (Z**2).sum(axis=1)
        dZ = 2.0 * Z / m[:, None] ** 2
        dZ[np.arange(n), arg] -= 2.0 * ss * np.sign(Z[np.arange(n), arg]) / m**3
        dZ /= n
        H = U.T @ dZ
        g = np.empty(len(pairs))
        for i, ((p, q), t) in enumerate(zip(pairs, theta, strict=True)):
            dR = prefix[i] @ givens(p, q, t, deriv=True) @ suffix[i]
            g[i] = float(np.sum(H * dR))
        return g

    theta = np.zeros(len(pairs))
    J = cost(theta)
    step = 1.0
    for _ in range(max_iter):
        g = gradient(theta)
        improved = False
        while step > 1e-10:
            cand = theta - step * g
            Jc = cost(cand)
            if Jc < J:
                improved = True
                break
            step *= 0.5
        if not improved:
            break
        gain = J - Jc
        theta, J = cand, Jc
        step *= 1.5
        if gain < tol * J:
            break
    return rotation(theta), J


class SCST(ClusterMixin, BaseEstimator):
    """Self-tuning spectral clustering (Zelnik-Manor & Perona, NIPS 2004).

    L. Zelnik-Manor, P. Perona. Self-tuning spectral clustering. NIPS 2004.
    Local scale sigma_i = distance from x_i to its 7th nearest neighbour;
    A_ij = exp(-d(x_i, x_j)^2 / (sigma_i sigma_j)), A_ii = 0;
    L = D^{-1/2} A D^{-1/2}; the k largest eigenvectors X; a rotation R that
    best aligns the rows of Z = X R with the coordinate axes (gradient descent
    on Givens angles, cost sum_ij Z_ij^2 / max_j Z_ij^2); point i goes to
    cluster argmax_j Z_ij^2.

    Choices
    -------
    * The number of clusters is given (``n_clusters``), as in JULE's
      comparison; the paper's estimation of it (the best alignment cost over
      a range of group numbers) is not run.  The rotation is found once, for
      the k eigenvectors, starting from the identity.
    * ``n_neighbors`` = 20: the affinity is kept on the symmetric kNN graph
      (O(n K) memory).  ``n_neighbors=None`` uses all pairs, the paper's dense
      affinity: O(n^2) memory, small data only.
    * ``assign_labels="rotation"`` is the paper's assignment;
      ``"kmeans"`` runs k-means on the row-normalised eigenvectors instead.

    Parameters
    ----------
    n_clusters : int, default 10
    scale_neighbor : int, default 7
    n_neighbors : int or None, default 20
    assign_labels : {"rotation", "kmeans"}, default "rotation"
    n_init : int, default 10
        k-means restarts (``assign_labels="kmeans"`` only).
    random_state : int, default 0

    Attributes
    ----------
    labels_, embedding_ (n, k) (Z = X R, or the row-normalised X for k-means),
    scales_ (n,) the local scales, eigenvalues_ (k,), alignment_cost_,
    affinity_ (sparse).
    """

    def __init__(
        self,
        n_clusters: int = 10,
        scale_neighbor: int = 7,
        n_neighbors: int | None = 20,
        assign_labels: Literal["rotation", "kmeans"] = "rotation",
        n_init: int = 10,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.scale_neighbor = scale_neighbor
        self.n_neighbors = n_neighbors
        self.assign_labels = assign_labels
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: Any = None) -> SCST:
        check_input(X, self.n_clusters, type(self).__name__)
        X = check_X(X)
        n = X.shape[0]
        if self.assign_labels not in ("rotation", "kmeans"):
            raise ValueError(f"assign_labels={self.assign_labels!r}; use 'rotation' or 'kmeans'")
        k_nn = n - 1 if self.n_neighbors is None else min(self.n_neighbors, n - 1)
        k_nn = max(k_nn, self.scale_neighbor)
        idx, dist = knn(X, k_nn)
        sigma = local_scales(dist, self.scale_neighbor)
        A = self_tuning_affinity(dist, idx, sigma)
        M, _ = normalized_affinity(A)
        vals, U = top_eigenpairs(M, self.n_clusters, self.random_state)
        if self.assign_labels == "rotation":
            R, J = rotation_alignment(U)
            Z = U @ R
            labels = np.argmax(Z**2, axis=1)
            _, labels = np.unique(labels, return_inverse=True)
            self.alignment_cost_ = J
        else:
            Z = row_unit(U)
            labels = _kmeans(Z, self.n_clusters, self.n_init, self.random_state).labels_
            self.alignment_cost_ = float("nan")
        self.scales_ = sigma
        self.affinity_ = A
        self.eigenvalues_ = vals
        self.labels_ = np.asarray(labels, dtype=np.int64)
        self.embedding_ = Z.astype(np.float32)
        return self


# ---------------------------------------------------------------------------------
# SC-LS
# ---------------------------------------------------------------------------------


def landmark_representation(
    X: np.ndarray, landmarks: np.ndarray, n_nearest: int = 5, bandwidth: float | None = None
) -> tuple[sp.csr_matrix, float]:
    """Sparse landmark representation Z (n, p) of Chen & Cai and its bandwidth h.

    Z_ij = K_h(x_i, u_j) / sum_{j' in U<i>} K_h(x_i, u_j') for the ``n_nearest``
    landmarks U<i> closest to x_i, 0 elsewhere, with the Gaussian kernel
    K_h(x, u) = exp(-||x - u||^2 / (2 h^2)).  Each row has r non-zeros and sums
    to one.  ``bandwidth=None``: h = mean distance from a point to its r
    nearest landmarks.
    """
    p = landmarks.shape[0]
    r = min(n_nearest, p)
    nn = NearestNeighbors(n_neighbors=r).fit(landmarks)
    dist, idx = nn.kneighbors(X)
    h = float(np.mean(dist)) if bandwidth is None else float(bandwidth)
    if h <= 0:
        h = 1.0
    # subtracting each row's smallest squared distance leaves the normalised
    # weights unchanged and avoids underflow of every kernel value in a row
    d2 = dist**2
    w = np.exp(-(d2 - d2[:, :1]) / (2.0 * h * h))
    w /= w.sum(axis=1, keepdims=True)
    n = X.shape[0]
    Z = sp.csr_matrix((w.ravel(), idx.ravel(), np.arange(0, n * r + 1, r)), shape=(n, p))
    return Z, h


class SCLS(ClusterMixin, BaseEstimator):
    """Landmark-based spectral clustering, LSC (Chen & Cai, AAAI 2011).

    X. Chen, D. Cai. Large scale spectral clustering with landmark-based
    representation. AAAI 2011.  p landmarks u_j (k-means centres, LSC-K);
    each point represented by its r nearest landmarks with normalised
    Gaussian-kernel weights (sparse Z, rows sum to one);
    Zhat = Z D^{-1/2} with D the diagonal of Z's column sums, so that
    W = Zhat Zhat^T is the implied n x n affinity (never formed); the k top
    left singular vectors A of Zhat (through the eigenvectors B of the p x p
    matrix Zhat^T Zhat: A = Zhat B Sigma^{-1}); k-means on the rows of A.

    Choices
    -------
    * p = 1000 landmarks and r = 5 nearest landmarks: the paper's defaults.
    * Landmarks: scikit-learn k-means with random initial centres, one run of
      ``landmark_max_iter`` = 10 Lloyd iterations (the paper runs k-means
      only for a few iterations to keep it cheap; the exact count is ours).
      ``landmarks="random"`` samples p data points instead (LSC-R).
    * Bandwidth h = mean distance from a point to its r nearest landmarks
      (the paper leaves h open).
    * Final k-means: scikit-learn, k-means++ with ``n_init`` = 10 restarts.

    Parameters
    ----------
    n_clusters : int, default 10
    n_landmarks : int, default 1000
        Capped at n.
    n_nearest_landmarks : int, default 5
    landmarks : {"kmeans", "random"}, default "kmeans"
    landmark_max_iter : int, default 10
    bandwidth : float or None, default None
    n_init : int, default 10
    random_state : int, default 0

    Attributes
    ----------
    labels_, embedding_ (n, k) the singular vectors A, landmarks_ (p, d),
    landmark_representation_ (sparse n x p, the Z above), bandwidth_,
    singular_values_ (k,).
    """

    def __init__(
        self,
        n_clusters: int = 10,
        n_landmarks: int = 1000,
        n_nearest_landmarks: int = 5,
        landmarks: Literal["kmeans", "random"] = "kmeans",
        landmark_max_iter: int = 10,
        bandwidth: float | None = None,
        n_init: int = 10,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_landmarks = n_landmarks
        self.n_nearest_landmarks = n_nearest_landmarks
        self.landmarks = landmarks
        self.landmark_max_iter = landmark_max_iter
        self.bandwidth = bandwidth
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: Any = None) -> SCLS:
        check_input(X, self.n_clusters, type(self).__name__)
        X = check_X(X)
        n = X.shape[0]
        k = self.n_clusters
        p = min(self.n_landmarks, n)
        if p < k:
            raise ValueError(f"n_landmarks={self.n_landmarks} must be at least n_clusters={k}")
        if self.landmarks == "kmeans":
            U = (
                KMeans(
                    n_clusters=p,
                    init="random",
                    n_init=1,
                    max_iter=self.landmark_max_iter,
                    random_state=self.random_state,
                )
                .fit(X)
                .cluster_centers_
            )
        elif self.landmarks == "random":
            rng = np.random.RandomState(self.random_state)
            U = X[np.sort(rng.choice(n, p, replace=False))]
        else:
            raise ValueError(f"landmarks={self.landmarks!r}; use 'kmeans' or 'random'")
        Z, h = landmark_representation(X, U, self.n_nearest_landmarks, self.bandwidth)
        A, s = anchor_embedding(Z, k)
        km = _kmeans(A, k, self.n_init, self.random_state)
        self.landmarks_ = U.astype(np.float32)
        self.landmark_representation_ = Z
        self.bandwidth_ = h
        self.singular_values_ = s
        self.labels_ = km.labels_.astype(np.int64)
        self.embedding_ = A.astype(np.float32)
        return self


# ---------------------------------------------------------------------------------
# N-Cuts
# ---------------------------------------------------------------------------------


def yu_shi_discretize(
    V: np.ndarray, random_state: int | np.random.RandomState = 0, max_iter: int = 20
) -> tuple[np.ndarray, float]:
    """Multiclass discretisation of Yu & Shi (ICCV 2003) of continuous eigenvectors.

    Rows of V normalised to unit length (Xs); rotation R initialised with
    ``k`` mutually most orthogonal rows of Xs (the first one at random);
    then alternate: discrete X = one-hot argmax of Xs R; SVD
    X^T Xs = U Omega Ut^T; R = Ut U^T; stop when the objective 2 (n - tr Omega)
    no longer changes (or after ``max_iter`` rounds).  Returns (labels, value).
    """
    rng = (
        random_state
        if isinstance(random_state, np.random.RandomState)
        else np.random.RandomState(random_state)
    )
    n, k = V.shape
    Xs = row_unit(V)
    R = np.zeros((k, k))
    R[:, 0] = Xs[rng.randint(n)]
    c = np.zeros(n)
    for j in range(1, k):
        c += np.abs(Xs @ R[:, j - 1])
        R[:, j] = Xs[int(np.argmin(c))]
    last = np.inf
    labels = np.argmax(Xs @ R, axis=1)
    value = np.inf
    for _ in range(max_iter):
        labels = np.argmax(Xs @ R, axis=1)
        D = np.zeros((n, k))
        D[np.arange(n), labels] = 1.0
        Uo, s, Vt = np.linalg.svd(D.T @ Xs)
        value = 2.0 * (n - s.sum())
        if abs(value - last) < np.finfo(float).eps * max(1.0, n):
            break
        last = value
        R = Vt.T @ Uo.T
    return labels, float(value)


class NCuts(ClusterMixin, BaseEstimator):
    """Normalised cuts (Shi & Malik, TPAMI 2000) with Yu & Shi's discretisation.

    J. Shi, J. Malik. Normalized cuts and image segmentation. TPAMI 2000;
    S. X. Yu, J. Shi. Multiclass spectral clustering. ICCV 2003.
    The k eigenvectors of the generalised problem (D - W) v = lambda D v with
    the smallest lambda, obtained as v = D^{-1/2} u from the largest
    eigenvectors u of D^{-1/2} W D^{-1/2} (lambda = 1 - mu), then discretised
    into k groups by Yu & Shi's alternating rotation / argmax procedure, as
    the authors' N-Cuts code does (written here, ``yu_shi_discretize``).

    Choices
    -------
    * Graph: the symmetric Gaussian kNN graph with ``n_neighbors`` = 20 and
      sigma^2 = ``a`` x mean squared kNN distance (the GDL / PIC / JULE rule);
      the N-Cuts code targets pixel grids and leaves the data graph open.
    * The eigenvectors are exact ones of the plain generalised problem (the
      code's small diagonal offset is not added).

    Parameters
    ----------
    n_clusters : int, default 10
    n_neighbors : int, default 20
    a : float, default 1.0
    max_iter : int, default 20
        Rounds of the discretisation.
    random_state : int, default 0

    Attributes
    ----------
    labels_, embedding_ (n, k) the generalised eigenvectors v (each scaled to
    norm sqrt(n); float32), eigenvectors_ the same in float64, eigenvalues_ (k,)
    the lambdas, ascending, affinity_ (sparse W), ncut_value_ the
    discretisation objective.
    """

    def __init__(
        self,
        n_clusters: int = 10,
        n_neighbors: int = 20,
        a: float = 1.0,
        max_iter: int = 20,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.a = a
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: Any = None) -> NCuts:
        check_input(X, self.n_clusters, type(self).__name__)
        X = check_X(X)
        n = X.shape[0]
        W = _symmetric_gaussian_graph(X, self.n_neighbors, self.a)
        M, deg = normalized_affinity(W)
        mu, U = top_eigenpairs(M, self.n_clusters, self.random_state)
        V = U / np.sqrt(deg)[:, None]
        V *= np.sqrt(n) / np.maximum(np.linalg.norm(V, axis=0), 1e-300)
        labels, value = yu_shi_discretize(V, self.random_state, self.max_iter)
        _, labels = np.unique(labels, return_inverse=True)
        self.affinity_ = W
        self.eigenvalues_ = 1.0 - mu
        self.ncut_value_ = value
        self.eigenvectors_ = V
        self.labels_ = labels.astype(np.int64)
        self.embedding_ = V.astype(np.float32)
        return self
