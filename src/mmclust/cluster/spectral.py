"""Spectral embeddings: the one home of the eigenvector pieces of the spectral methods.

* :func:`normalized_affinity`: M = D^{-1/2} W D^{-1/2} of a symmetric
  non-negative affinity, sparse or dense;
* :func:`top_eigenpairs`: the k algebraically largest eigenpairs of a
  symmetric matrix (dense LAPACK on small problems, seeded ARPACK otherwise);
* :func:`row_unit`: rows scaled to unit length;
* :func:`spectral_embedding`: the three together, the embedding of Ng,
  Jordan & Weiss (SC-NJW, and the "+ SC" step of MultiViewLRSSC and DMF-MVC);
* :func:`anchor_embedding`: the spectral embedding of an anchor (landmark)
  graph W = Ẑ Ẑᵀ, Ẑ = Z Λ^{-1/2}, from the singular vectors of Ẑ through the
  small anchor-side Gram matrix (SC-LS, MultiViewLRSSC's anchor solver).

Memory: a sparse affinity stays sparse (O(nnz + n k)); a dense one is never
copied into a sparse matrix, and above ``dense_max`` rows its normalisation
is applied inside the ARPACK matrix products instead of forming M.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

log = logging.getLogger(__name__)

__all__ = [
    "DENSE_EIGEN_MAX",
    "LOOSE",
    "PRECISE",
    "Arpack",
    "anchor_embedding",
    "normalized_affinity",
    "row_unit",
    "spectral_embedding",
    "top_eigenpairs",
]

#: below this many nodes eigenproblems are solved densely (exact and fast)
DENSE_EIGEN_MAX = 500

#: degrees below this count as this (only exp underflow makes a degree 0)
_DEGREE_FLOOR = 1e-300


@dataclass(frozen=True)
class Arpack:
    """Settings of the ARPACK (Lanczos) solver of :func:`top_eigenpairs`.

    ``tol``: relative accuracy of the eigenvalues (0: machine precision).
    ``ncv_min``: Lanczos vectors, min(n, max(2k + 1, ``ncv_min``)).
    ``start``: the start vector, drawn from the seed: ``"symmetric"``
    U(-1, 1) from ``numpy.random.RandomState``; ``"positive"`` U(0.5, 1) from
    ``numpy.random.default_rng`` (a positive vector overlaps the positive
    top eigenvector of a normalised affinity).

    When the top eigenvalue is multiple (a graph with several components)
    the solver returns one basis of its eigenspace among many, and that
    basis depends on these settings; each method keeps the settings its
    results were obtained with.
    """

    tol: float = 0.0
    ncv_min: int = 40
    start: Literal["symmetric", "positive"] = "symmetric"


#: the classical spectral baselines of JULE's tables (SC-NJW, SC-ST, N-Cuts)
PRECISE = Arpack()
#: the multi-view baselines of JECL's table (their "+ SC" step, PIC)
LOOSE = Arpack(tol=1e-8, ncv_min=20, start="positive")


def _inv_sqrt_degrees(W: np.ndarray | sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """The degrees d (floored) and d^{-1/2}."""
    if sp.issparse(W):
        deg = np.asarray(W.sum(axis=1)).ravel()
    else:
        deg = W.sum(axis=1, dtype=np.float64)
    deg = np.maximum(deg, _DEGREE_FLOOR)
    return deg, 1.0 / np.sqrt(deg)


def normalized_affinity(
    W: np.ndarray | sp.spmatrix,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray]:
    """M = D^{-1/2} W D^{-1/2} and the degrees d (W symmetric, nonnegative).

    A node of degree 0 (only possible through exp underflow) gets degree
    1e-300 instead, which leaves its row and column of M zero.  A sparse W
    gives a CSR M; a dense W a dense M, made exactly symmetric ((M + Mᵀ) / 2:
    the two scalings of an entry round differently).
    """
    if sp.issparse(W):
        W = sp.csr_matrix(W, dtype=np.float64)
        deg, s = _inv_sqrt_degrees(W)
        return sp.csr_matrix(sp.diags(s) @ W @ sp.diags(s)), deg
    W = np.asarray(W)
    deg, s = _inv_sqrt_degrees(W)
    M = (s[:, None] * W) * s[None, :]
    return (M + M.T) / 2, deg


def top_eigenpairs(
    M: np.ndarray | sp.spmatrix | LinearOperator,
    k: int,
    random_state: int | np.random.RandomState | None = 0,
    *,
    dense_max: int = DENSE_EIGEN_MAX,
    arpack: Arpack = PRECISE,
) -> tuple[np.ndarray, np.ndarray]:
    """The k algebraically largest eigenpairs of a symmetric matrix, largest first.

    Dense ``numpy.linalg.eigh`` up to ``dense_max`` nodes (or when k >= n - 1),
    else ARPACK (``eigsh``, which="LA", with ``arpack``'s settings) on the
    sparse or dense matrix or linear operator, with a start vector drawn
    from ``random_state``, so results are deterministic for a seed.  If
    ARPACK stops before converging, the converged eigenpairs are used (with
    a warning) when there are k of them.
    """
    n = M.shape[0]
    if not isinstance(M, LinearOperator) and (k >= n - 1 or n <= dense_max):
        dense = M.toarray() if sp.issparse(M) else np.asarray(M)
        vals, vecs = np.linalg.eigh(dense)
        order = np.argsort(vals)[::-1][:k]
        return vals[order], vecs[:, order]
    if arpack.start == "symmetric":
        rng = (
            random_state
            if isinstance(random_state, np.random.RandomState)
            else np.random.RandomState(random_state)
        )
        v0 = rng.uniform(-1.0, 1.0, n)
    else:
        v0 = np.random.default_rng(random_state).uniform(0.5, 1.0, n)
    ncv = min(n, max(2 * k + 1, arpack.ncv_min))
    try:
        vals, vecs = eigsh(
            M, k=k, which="LA", v0=v0, ncv=ncv, maxiter=max(1000, 20 * n), tol=arpack.tol
        )
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


def spectral_embedding(
    W: np.ndarray | sp.spmatrix,
    n_components: int,
    random_state: int | np.random.RandomState | None = 0,
    *,
    dense_max: int = DENSE_EIGEN_MAX,
    arpack: Arpack = PRECISE,
) -> tuple[np.ndarray, np.ndarray]:
    """Ng, Jordan & Weiss's embedding of a symmetric non-negative affinity W.

    The top ``n_components`` eigenvectors of D^{-1/2} W D^{-1/2} with their
    rows scaled to unit length, and the eigenvalues, largest first.  A dense
    W with more than ``dense_max`` rows is never scaled into a second n x n
    matrix: ARPACK multiplies by D^{-1/2} W D^{-1/2} on the fly.
    """
    n = W.shape[0]
    if sp.issparse(W) or n <= dense_max or n_components >= n - 1:
        M, _ = normalized_affinity(W)
    else:
        dense = np.asarray(W)
        _, s = _inv_sqrt_degrees(dense)

        def matvec(x: np.ndarray) -> np.ndarray:
            y = s[:, None] * np.asarray(x).reshape(n, -1)
            return (s[:, None] * (dense @ y.astype(dense.dtype))).astype(np.float64)

        M = LinearOperator((n, n), matvec=matvec, matmat=matvec, dtype=np.float64)
    vals, U = top_eigenpairs(M, n_components, random_state, dense_max=dense_max, arpack=arpack)
    return row_unit(U), vals


def anchor_embedding(
    Z: np.ndarray | sp.spmatrix, n_components: int
) -> tuple[np.ndarray, np.ndarray]:
    """Spectral embedding of the anchor graph of Z (n x p, non-negative rows summing to one).

    With Λ the diagonal of Z's column sums and Ẑ = Z Λ^{-1/2} (anchors that
    are nobody's neighbour, zero columns, are left out: they carry no
    information), W = Ẑ Ẑᵀ is the implied n x n affinity, never formed.  Its
    top eigenvectors are the top left singular vectors A of Ẑ, obtained from
    the eigenvectors B of the p x p matrix Ẑᵀ Ẑ: A = Ẑ B Σ^{-1}.  Returns
    A (n x ``n_components``) and the singular values Σ.  A sparse Z stays
    sparse.
    """
    col = np.asarray(Z.sum(axis=0)).ravel()
    keep = col > 0
    if sp.issparse(Z):
        Zh = sp.csr_matrix(Z[:, keep] @ sp.diags(1.0 / np.sqrt(col[keep])))
        G = (Zh.T @ Zh).toarray()
    else:
        Zh = np.asarray(Z)[:, keep] / np.sqrt(col[keep])
        G = Zh.T @ Zh
    vals, B = np.linalg.eigh(G)
    order = np.argsort(vals)[::-1][:n_components]
    s = np.sqrt(np.maximum(vals[order], 1e-300))
    return (Zh @ B[:, order]) / s, s
