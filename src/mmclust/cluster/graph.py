"""k-nearest-neighbour graphs: the one home of the graph-based methods' kNN pieces.

Neighbour search (:func:`knn`)
    Each point's K nearest *other* points (a point is never its own
    neighbour; an exact duplicate of it is), nearest first, Euclidean.  Two
    exact searches behind one function:

    * ``method="sklearn"`` (default): scikit-learn's ``NearestNeighbors`` in
      float64 (a tree in low dimension, brute force in chunks otherwise;
      O(n K) memory).  Used by the classical baselines of JULE's tables and
      the multi-view baselines of JECL's.
    * ``method="blocked"``: squared distances ‖x‖² + ‖y‖² - 2 x·y from float32
      matrix products block by block (CUDA when present, only the blocks on
      and above the diagonal, O(block² + n K) memory, never n × n); the search
      of JULE and AC-GDL, built for 70 000 points.

    They are not interchangeable bit for bit: on data with tied distances
    (the 8 x 8 digits take few distinct values) the two break ties in a
    different order and pick different K-th neighbours (12 of the 1797
    digits' 5-neighbour sets, 42 of the 20-neighbour sets differ), and the
    float32 products round differently from float64; so each method keeps
    the search its results were obtained with.  On such data scikit-learn's
    brute-force order of tied neighbours also depends on its number of
    threads (44 of the first 600 digits' 20-neighbour lists differ between
    one and two threads), so a classical baseline's result there is
    reproducible for a given thread count.

Heat-kernel weights (:func:`heat_weights`, :func:`mean_sq_sigma2`)
    W_ij = exp(-d²_ij / s) on the kNN pattern, where the papers differ only
    in the denominator s:

    * s = σ², σ² = a · the mean of the n K squared neighbour distances
      (a = 1; graph degree linkage, path integral and zeta clustering, JULE,
      and the spectral baselines that borrow their graph): :func:`mean_sq_sigma2`;
    * s = 2σ², σ = the mean neighbour distance (DMF-MVC's heat kernel): the
      caller passes ``2 * sigma**2``.

Graphs
    :func:`gaussian_knn_graph` directed (W_ij ≠ 0 when j is among i's
    neighbours) or ``symmetric`` (max(W, Wᵀ): linked when either is among
    the other's neighbours); no self-loops (the search excludes the point
    itself).  :func:`knn_matrix`, :func:`symmetrize`, :func:`row_normalize`,
    :func:`laplacian`, and :func:`nn_components`: the connected components of
    the 1-nearest-neighbour graph, the initial clusters of the graph
    agglomerative methods (their authors' toolbox and JULE).

Every graph is sparse (``scipy.sparse`` CSR): n K entries, never n × n.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

__all__ = [
    "gaussian_knn_graph",
    "heat_weights",
    "knn",
    "knn_matrix",
    "laplacian",
    "mean_sq_sigma2",
    "nn_components",
    "row_normalize",
    "symmetrize",
]


# -- neighbour search --------------------------------------------------------------------------


def knn(
    X: np.ndarray | torch.Tensor,
    n_neighbors: int,
    *,
    method: Literal["sklearn", "blocked"] = "sklearn",
    squared: bool = False,
    exclude: Literal["self", "nearest"] = "self",
    device: str | torch.device = "auto",
    block_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n, K) int64 and distances (n, K) of each point's K nearest other points.

    Rows sorted by increasing distance.  ``squared`` returns squared
    distances.  ``method`` (module docstring): ``"sklearn"`` gives float64
    distances; ``"blocked"`` float32 ones, computed squared and clamped at
    0, with ``device`` and ``block_size`` for its blocks; ties are broken by
    the order of discovery, deterministically.

    ``exclude`` (``"sklearn"`` only) says how the point itself is left out:
    ``"self"`` leaves out exactly the point (an exact duplicate of it stays
    a neighbour); ``"nearest"`` finds the K + 1 nearest points, the point
    among the candidates, and drops the first, as the DMF-MVC and PIC graphs
    were first written here: on a point with an exact duplicate the dropped
    one may be the duplicate, and the point is then its own neighbour (a
    self-loop).  The two differ only on duplicated samples.
    """
    n = X.shape[0]
    k = int(n_neighbors)
    if not 1 <= k < n:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be at least 1 and smaller than the number of "
            f"samples ({n}): {n} points cannot have {k} nearest neighbours each"
        )
    if method == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        if exclude == "self":
            dist, idx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors()
        elif exclude == "nearest":
            dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
            dist, idx = dist[:, 1:], idx[:, 1:]
        else:
            raise ValueError(f"exclude={exclude!r}; use 'self' or 'nearest'")
        dist = dist.astype(np.float64, copy=False)
        return idx.astype(np.int64, copy=False), dist**2 if squared else dist
    if method == "blocked":
        if exclude != "self":
            raise ValueError("the blocked search always leaves out exactly the point itself")
        idx, sqdist = _blocked_knn(X, k, device=device, block_size=block_size)
        return idx, sqdist if squared else np.sqrt(sqdist)
    raise ValueError(f"method={method!r}; use 'sklearn' or 'blocked'")


def _distance_block(
    xa: torch.Tensor, xb: torch.Tensor, na: torch.Tensor, nb: torch.Tensor
) -> torch.Tensor:
    """Squared distances ‖a‖² + ‖b‖² - 2 a·b of two blocks (not clamped)."""
    import torch

    d = torch.addmm(nb.unsqueeze(0), xa, xb.T, alpha=-2.0)
    return d.add_(na.unsqueeze(1))


def _merge_candidates(
    best_d: np.ndarray, best_i: np.ndarray, rows: np.ndarray, idx: np.ndarray, vals: np.ndarray
) -> np.ndarray:
    """Merge candidates (row, idx, value), ``rows`` sorted, into the sorted lists in place.

    Returns the rows that were touched.
    """
    k = best_d.shape[1]
    urows, first, counts = np.unique(rows, return_index=True, return_counts=True)
    u = urows.size
    seg = np.repeat(np.arange(u), counts)
    rank = np.arange(rows.size) - first[seg]
    width = int(counts.max())
    pad_d = np.full((u, width), np.inf, dtype=best_d.dtype)
    pad_i = np.full((u, width), -1, dtype=best_i.dtype)
    pad_d[seg, rank] = vals
    pad_i[seg, rank] = idx
    cat_d = np.concatenate([best_d[urows], pad_d], axis=1)
    cat_i = np.concatenate([best_i[urows], pad_i], axis=1)
    o = np.argsort(cat_d, axis=1, kind="stable")[:, :k]
    best_d[urows] = np.take_along_axis(cat_d, o, 1)
    best_i[urows] = np.take_along_axis(cat_i, o, 1)
    return urows


def _numpy_selection(device: torch.device) -> bool:
    """Select candidates with NumPy (much faster than torch on the CPU) or on the device."""
    return device.type == "cpu"


def _blocked_knn(
    X: np.ndarray | torch.Tensor, k: int, *, device: str | torch.device, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The blocked search: indices (n, k) int64, squared distances (n, k) float32.

    Blocks of ``block_size`` rows are compared with float32 matrix products.
    Only the blocks on and above the diagonal are computed: a block serves
    both its rows and its columns.  The diagonal blocks go first and give
    every point a list of k candidates; in every other block only the entries
    below a point's current k-th distance are kept (they are few) and merged
    into its list.
    """
    import torch

    from mmclust.nn.utils import resolve_device

    dev = resolve_device(device)
    Xt = X if torch.is_tensor(X) else torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    Xt = Xt.to(device=dev, dtype=torch.float32).contiguous()
    n = Xt.shape[0]
    on_cpu = _numpy_selection(dev)
    sq = (Xt * Xt).sum(1)
    bs = max(1, min(int(block_size), n))
    starts = list(range(0, n, bs))
    best_d = np.full((n, k), np.inf, dtype=np.float32)
    best_i = np.full((n, k), -1, dtype=np.int64)
    with torch.no_grad():
        for s in starts:
            e = min(s + bs, n)
            d = _distance_block(Xt[s:e], Xt[s:e], sq[s:e], sq[s:e])
            d.fill_diagonal_(float("inf"))
            kk = min(k, e - s - 1)
            if kk > 0:
                v, i = torch.topk(d, kk, dim=1, largest=False)
                best_d[s:e, :kk] = v.cpu().numpy()
                best_i[s:e, :kk] = i.cpu().numpy() + s
        tau = None if on_cpu else torch.from_numpy(best_d[:, k - 1].copy()).to(dev)

        def candidates(
            d: torch.Tensor, s: int, e: int, t: int, f: int, rows_side: bool
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """(row in block, column in block, value) of the entries under the thresholds."""
            if on_cpu:
                dn = d.numpy()
                thr = best_d[s:e, k - 1, None] if rows_side else best_d[None, t:f, k - 1]
                flat = np.flatnonzero(dn < thr)
                return flat // dn.shape[1], flat % dn.shape[1], dn.ravel()[flat]
            assert tau is not None
            thr_t = tau[s:e].unsqueeze(1) if rows_side else tau[t:f].unsqueeze(0)
            r, c = torch.nonzero(d < thr_t, as_tuple=True)
            return r.cpu().numpy(), c.cpu().numpy(), d[r, c].cpu().numpy()

        for a, s in enumerate(starts):
            e = min(s + bs, n)
            for t in starts[a + 1 :]:
                f = min(t + bs, n)
                d = _distance_block(Xt[s:e], Xt[t:f], sq[s:e], sq[t:f])
                r, c, v = candidates(d, s, e, t, f, rows_side=True)
                touched = [_merge_candidates(best_d, best_i, r + s, c + t, v)] if r.size else []
                r, c, v = candidates(d, s, e, t, f, rows_side=False)
                if c.size:
                    o = np.argsort(c, kind="stable")
                    touched.append(_merge_candidates(best_d, best_i, c[o] + t, r[o] + s, v[o]))
                if tau is not None and touched:
                    rows = np.concatenate(touched)
                    new_tau = torch.from_numpy(best_d[rows, k - 1]).to(dev)
                    tau[torch.from_numpy(rows).to(dev)] = new_tau
    np.maximum(best_d, 0.0, out=best_d)
    return best_i, best_d


# -- weights and graphs ------------------------------------------------------------------------


def mean_sq_sigma2(sqdist: np.ndarray, a: float = 1.0) -> float:
    """σ² = a / (n K) · Σ_i Σ_{j ∈ N_i} d²_ij: a times the mean squared neighbour distance.

    1 when that is 0 (every neighbour at distance 0: all weights are 1 anyway).
    """
    s2 = float(a * np.mean(np.asarray(sqdist, dtype=np.float64)))
    return s2 if s2 > 0 else 1.0


def heat_weights(sqdist: np.ndarray, denominator: float) -> np.ndarray:
    """exp(-d² / ``denominator``): the heat kernel (``denominator`` = σ² or 2σ²)."""
    return np.exp(-sqdist / denominator)


def knn_matrix(values: np.ndarray, indices: np.ndarray) -> sp.csr_matrix:
    """Sparse (n, n) matrix with ``values[i, k]`` at (i, indices[i, k])."""
    n, k = indices.shape
    rows = np.repeat(np.arange(n), k)
    m = sp.csr_matrix((values.ravel(), (rows, indices.ravel())), shape=(n, n))
    m.sum_duplicates()
    return m


def gaussian_knn_graph(
    indices: np.ndarray,
    sqdist: np.ndarray,
    a: float = 1.0,
    *,
    denominator: float | None = None,
    safeguard: bool = False,
    symmetric: bool = False,
) -> tuple[sp.csr_matrix, float]:
    """Heat-kernel kNN graph W and its denominator s: W_ij = exp(-d²_ij / s).

    ``denominator`` None: s = σ² = :func:`mean_sq_sigma2` (``a``).
    ``safeguard=True`` doubles s while some point's weight to its nearest
    neighbour is below 1e-5, so that no row of W is (numerically) empty; the
    graph agglomerative clustering toolbox of the GDL / PIC authors does the
    same.  Weights that underflow to 0 are no edges.  ``symmetric``:
    max(W, Wᵀ) instead of the directed graph.
    """
    s = mean_sq_sigma2(sqdist, a) if denominator is None else float(denominator)
    if safeguard:
        nearest = sqdist[:, 0]
        while np.any(np.exp(-nearest / s) < 1e-5):
            s *= 2.0
    W = knn_matrix(heat_weights(sqdist, s), indices)
    W.eliminate_zeros()
    return (symmetrize(W) if symmetric else W), s


def symmetrize(W: sp.spmatrix) -> sp.csr_matrix:
    """max(W, Wᵀ) as CSR."""
    W = sp.csr_matrix(W)
    return sp.csr_matrix(W.maximum(W.T))


def row_normalize(W: sp.spmatrix) -> sp.csr_matrix:
    """P = D^{-1} W (rows summing to one; empty rows stay empty)."""
    W = sp.csr_matrix(W, dtype=np.float64)
    deg = np.asarray(W.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    return sp.csr_matrix(sp.diags(inv) @ W)


def laplacian(W: sp.spmatrix) -> sp.csr_matrix:
    """L = D - W with D the diagonal of W's row sums."""
    deg = np.asarray(W.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(deg) - W)


def nn_components(indices: np.ndarray) -> np.ndarray:
    """Connected components of the 1-nearest-neighbour graph, labels 0..m-1.

    Every point i is joined to its nearest neighbour ``indices[i, 0]``
    (undirected); labels are numbered in order of first appearance.
    """
    indices = np.asarray(indices)
    n = indices.shape[0]
    g = sp.csr_matrix((np.ones(n), (np.arange(n), indices[:, 0])), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inv.ravel()]
