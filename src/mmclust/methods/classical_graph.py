"""Shared pieces of the classical baselines: input checks, kNN graphs, eigenvectors.

Every graph here is sparse (``scipy.sparse`` CSR): a kNN graph of n points
holds n * K entries, never an n x n dense matrix.  The nearest-neighbour
search is scikit-learn's ``NearestNeighbors`` (exact; brute force in high
dimension, O(n^2 d) time in chunks, O(n K) memory).

Graph conventions
-----------------
``gaussian_knn_graph``
    Directed kNN graph of the graph-degree-linkage / path-integral papers
    (Zhang et al., ECCV 2012; Zhang, Zhao & Wang, 2013), also JULE's:
    W_ij = exp(-||x_i - x_j||^2 / sigma^2) if x_j is one of the K nearest
    neighbours of x_i (x_i itself excluded), else 0, with
    sigma^2 = a * mean of the n K squared neighbour distances.
``symmetrize``
    W <- max(W, W^T): i and j are linked when either is among the other's K
    nearest neighbours (the usual symmetric kNN graph of spectral clustering).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array

log = logging.getLogger(__name__)

#: below this many nodes eigenproblems are solved densely (exact and fast)
DENSE_EIGEN_MAX = 500


def check_X(X: ArrayLike, min_samples: int = 2) -> np.ndarray:
    """A finite 2-d float matrix (n, d) as float64 (float32 input is upcast)."""
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=min_samples)
    return np.asarray(X, dtype=np.float64)


def check_n_clusters(n_clusters: int, n_samples: int) -> None:
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(f"n_clusters={n_clusters} must be between 1 and n_samples={n_samples}")


def check_nonnegative(X: np.ndarray, method: str) -> None:
    """Raise a ValueError naming the problem and the fix when X has negative entries."""
    lo = float(X.min())
    if lo < 0:
        raise ValueError(
            f"{method} factorises the data into nonnegative factors and needs X >= 0, "
            f"but X has negative entries (min {lo:.4g}); use nonnegative features such as "
            "raw intensities (input transform: scale or none, not standardize)"
        )


def knn(X: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances (n, K) and indices (n, K) of each point's K nearest other points.

    Sorted by distance; a point is never its own neighbour (duplicates of it
    are).  Euclidean distance.
    """
    n = X.shape[0]
    if not 1 <= n_neighbors < n:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be at least 1 and smaller than the "
            f"number of samples ({n})"
        )
    nn = NearestNeighbors(n_neighbors=n_neighbors).fit(X)
    dist, idx = nn.kneighbors()
    return dist.astype(np.float64), idx.astype(np.int64)


def knn_matrix(values: np.ndarray, idx: np.ndarray) -> sp.csr_matrix:
    """Sparse (n, n) matrix with ``values[i, k]`` at (i, idx[i, k])."""
    n, k = idx.shape
    rows = np.repeat(np.arange(n), k)
    m = sp.csr_matrix((values.ravel(), (rows, idx.ravel())), shape=(n, n))
    m.sum_duplicates()
    return m


def mean_sq_sigma2(dist: np.ndarray, a: float = 1.0) -> float:
    """sigma^2 = a * mean squared neighbour distance (the GDL / PIC / JULE rule)."""
    s2 = float(a) * float(np.mean(dist**2))
    return s2 if s2 > 0 else 1.0


def gaussian_knn_graph(
    dist: np.ndarray, idx: np.ndarray, a: float = 1.0, safeguard: bool = False
) -> tuple[sp.csr_matrix, float]:
    """Directed Gaussian kNN graph W and its sigma^2 (see the module docstring).

    ``safeguard=True`` doubles sigma^2 while some point's weight to its
    nearest neighbour is below 1e-5, so that no row of W is (numerically)
    empty; the graph agglomerative clustering toolbox of the GDL / PIC authors
    does the same.
    """
    sigma2 = mean_sq_sigma2(dist, a)
    if safeguard:
        nearest = dist[:, 0] ** 2
        while np.any(np.exp(-nearest / sigma2) < 1e-5):
            sigma2 *= 2.0
    W = knn_matrix(np.exp(-(dist**2) / sigma2), idx)
    W.eliminate_zeros()  # weights that underflowed are no edges
    return W, sigma2


def symmetrize(W: sp.spmatrix) -> sp.csr_matrix:
    """max(W, W^T) as CSR."""
    W = sp.csr_matrix(W)
    return sp.csr_matrix(W.maximum(W.T))


def row_normalize(W: sp.spmatrix) -> sp.csr_matrix:
    """P = D^{-1} W (rows summing to one; empty rows stay empty)."""
    W = sp.csr_matrix(W, dtype=np.float64)
    deg = np.asarray(W.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    return sp.csr_matrix(sp.diags(inv) @ W)


def normalized_affinity(W: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """M = D^{-1/2} W D^{-1/2} and the degrees d (W symmetric, nonnegative).

    A node of degree 0 (only possible through exp underflow) gets degree 1e-300
    instead, which leaves its row and column of M zero.
    """
    W = sp.csr_matrix(W, dtype=np.float64)
    deg = np.asarray(W.sum(axis=1)).ravel()
    deg = np.maximum(deg, 1e-300)
    s = 1.0 / np.sqrt(deg)
    M = sp.csr_matrix(sp.diags(s) @ W @ sp.diags(s))
    return M, deg


def top_eigenvectors(
    M: sp.spmatrix, k: int, random_state: int | np.random.RandomState | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The k algebraically largest eigenpairs of a symmetric matrix, largest first.

    Dense ``numpy.linalg.eigh`` up to ``DENSE_EIGEN_MAX`` nodes, else ARPACK
    (``eigsh``, which="LA") on the sparse matrix with a seeded start vector,
    so results are deterministic for a seed.  Memory O(nnz + n k).
    """
    n = M.shape[0]
    if k >= n - 1 or n <= DENSE_EIGEN_MAX:
        dense = M.toarray() if sp.issparse(M) else np.asarray(M)
        vals, vecs = np.linalg.eigh(dense)
        order = np.argsort(vals)[::-1][:k]
        return vals[order], vecs[:, order]
    rng = (
        np.random.RandomState(random_state)
        if not isinstance(random_state, np.random.RandomState)
        else random_state
    )
    v0 = rng.uniform(-1.0, 1.0, n)
    ncv = min(n, max(2 * k + 1, 40))
    try:
        vals, vecs = eigsh(M, k=k, which="LA", v0=v0, ncv=ncv, maxiter=n * 20, tol=0.0)
    except ArpackNoConvergence as err:  # pragma: no cover - depends on the data
        log.warning("ARPACK did not converge (%s); using the converged eigenpairs", err)
        vals, vecs = err.eigenvalues, err.eigenvectors
        if vals.size < k:
            raise
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def row_unit(U: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (zero rows stay zero)."""
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    return np.divide(U, norms, out=np.zeros_like(U), where=norms > 0)


def nn_components(idx: np.ndarray) -> np.ndarray:
    """Labels of the connected components of the (undirected) 1-nearest-neighbour graph.

    Every point is linked to its nearest neighbour; the components are the
    initial clusters of the graph agglomerative methods (the authors' toolbox
    and JULE).  Labels are 0..m-1 in order of first appearance.
    """
    n = idx.shape[0]
    g = sp.csr_matrix((np.ones(n), (np.arange(n), idx[:, 0])), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty_like(order)
    remap[order] = np.arange(order.size)
    return remap[labels]
