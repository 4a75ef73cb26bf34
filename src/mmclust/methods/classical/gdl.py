"""Agglomerative clustering with graph degree linkage (GDL), the engine of JULE.

Graph (Zhang, Wang, Zhao & Tang, ECCV 2012; JULE, Yang, Parikh & Batra, CVPR 2016)
    Directed K_s-nearest-neighbour graph on the rows of X:
    W(i, j) = exp(-d²_ij / σ²) for j among the K_s nearest neighbours N_i of i
    (i itself excluded), 0 otherwise, with
    σ² = a / (n K_s) · Σ_i Σ_{j ∈ N_i} d²_ij (JULE's slides, a = 1).
    The neighbours are exact: the blocked search of
    :func:`mmclust.cluster.graph.knn` computes squared distances block by
    block as ‖x‖² + ‖y‖² - 2 x·y (float32 matrix products, CUDA when present,
    clamped at 0) and never holds an n × n matrix.  W is stored as its
    fixed-width rows (``indices``, ``weights``: n × K_s) or as a scipy CSR
    matrix.

Initial clusters
    Connected components of the 1-nearest-neighbour graph (each point joined
    to its nearest neighbour), as in JULE's code and the GDL toolbox.  (The
    JULE code follows nearest-neighbour chains and cuts them after 50 steps;
    here components are exact.)

Affinity between clusters (the GDL "graph degree linkage")
    A(C_i, C_j) = |C_i|⁻² 1ᵀ W_{Ci,Cj} W_{Cj,Ci} 1 + |C_j|⁻² 1ᵀ W_{Cj,Ci} W_{Ci,Cj} 1.
    With S the n × m cluster-indicator matrix, P = Wᵀ S (P[b, i]: weight of the
    edges from C_i into node b) and Q = W S (Q[b, i]: weight of the edges from b
    into C_i), the unnormalised term is

        U[j, i] = 1ᵀ W_{Ci,Cj} W_{Cj,Ci} 1 = Σ_{b ∈ C_j} P[b, i] Q[b, i]

    ("C_j in the middle of the two-step paths C_i → b → C_i"), and
    A(C_i, C_j) = U[j, i] / |C_i|² + U[i, j] / |C_j|².  U is nonzero only for
    pairs joined by two-step paths, so it is sparse.

Incremental update (exact)
    When C_j is merged into C_i (k = i ∪ j), for every other cluster l

        U[k, l] = U[i, l] + U[j, l]                               (a row sum)
        U[l, k] = U[l, i] + U[l, j] + X[l],
        X[l]    = Σ_{b ∈ C_l} (P[b, i] Q[b, j] + P[b, j] Q[b, i]),

    the cross term X coming from paths that leave through one part and come
    back through the other.  X is computed from the edges of the smaller
    cluster only (its out-edges and in-edges, then the edges of their other
    ends), so a merge costs O(|C_small| K_s²) array work plus dictionary work
    proportional to the smaller cluster's number of neighbouring clusters and
    vectorised work proportional to the merged cluster's.  (The JULE code's
    default "fast" mode sums rows and columns only, dropping X; this engine
    always keeps X, so the affinities after any number of merges equal those
    recomputed from scratch.)

Data structure
    * per cluster i two dictionaries with the same keys in the same order,
      the clusters l joined to i by a nonzero U in either direction:
      ``mid[i][l] = U[i, l]`` and ``end[i][l] = U[l, i]``; so i's affinities
      to all its neighbours are one vectorised expression over
      ``np.fromiter`` of the two dictionaries' values;
    * per cluster a list of its K_c + 10 largest affinities in decreasing
      order (ids and values, padded with -1 / -inf) and an upper bound on
      the affinities not listed; a merge changes only the affinities of the
      merged cluster, so in each neighbour's list the two old entries are
      dropped and the new one is inserted when it is not below the bound;
      a list is rebuilt from the dictionaries only when fewer than K_c
      entries are left while unlisted neighbours exist;
    * a heap of (-score, cluster, version) with lazy deletion for the global
      choice of the best cluster;
    * per cluster its members as a list of index arrays (a merge appends the
      smaller cluster's), and the node labels.

Merge criterion (JULE)
    For cluster C with affinities A¹ ≥ A² ≥ … to its neighbours (missing
    neighbours count as 0): score = A¹ + λ/(K_c - 1) Σ_{k=2..K_c} (A¹ - A^k),
    K_c = 5, λ = 1; the cluster with the highest score is merged with its
    nearest cluster (the one giving A¹).  The JULE code uses this score while
    more than 100 clusters remain and plain A¹ (GDL's criterion, the largest
    affinity over all pairs) from 100 clusters on: ``plain_from=100``
    reproduces the code, ``plain_from=0`` the paper (the local criterion
    throughout); ``lam=0`` gives plain GDL at every step.

Zero-affinity step (JULE code, not in the paper)
    :meth:`GDLAgglomeration.merge_isolated`: every cluster without any
    nonzero U (no two-step path to any other cluster) is merged into the
    cluster with the nearest centroid.  JULE's code runs it at the start of
    every period while the number of clusters exceeds 20 × the target
    (``isolated_factor=20``; 0 disables it).  When no pair with a path is
    left while more clusters than wanted remain, the engine merges the
    smallest cluster into the one with the nearest centroid (lowest id
    without features) and carries on.

No label is ever read.
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from tqdm.auto import tqdm

from mmclust.cluster.graph import heat_weights, knn, mean_sq_sigma2, nn_components
from mmclust.methods.base import check_input

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

__all__ = [
    "ACGDL",
    "GDLAgglomeration",
    "KNNGraph",
    "agglomerate",
    "best_merge",
    "build_graph",
    "cluster_affinity",
    "cluster_affinity_terms",
    "merge_scores",
]


# -- the graph -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KNNGraph:
    """The directed K_s-NN affinity graph, stored by rows of fixed width.

    ``indices[i]`` are i's neighbours (nearest first), ``sqdist[i]`` the squared
    distances, ``weights[i] = exp(-sqdist[i] / sigma2)`` the entries W(i, ·).
    """

    indices: np.ndarray
    sqdist: np.ndarray
    weights: np.ndarray
    sigma2: float

    @property
    def n(self) -> int:
        return int(self.indices.shape[0])

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def to_sparse(self) -> sp.csr_matrix:
        """W as an n × n CSR matrix (K_s entries a row)."""
        n, k = self.indices.shape
        return sp.csr_matrix(
            (self.weights.ravel(), self.indices.ravel(), np.arange(0, n * k + 1, k)),
            shape=(n, n),
        )

    @classmethod
    def from_neighbours(cls, indices: np.ndarray, sqdist: np.ndarray, a: float = 1.0) -> KNNGraph:
        indices = np.ascontiguousarray(indices, dtype=np.int64)
        sqdist = np.ascontiguousarray(sqdist, dtype=np.float64)
        s2 = mean_sq_sigma2(sqdist, a)
        return cls(indices, sqdist, heat_weights(sqdist, s2), s2)


def build_graph(
    X: np.ndarray,
    n_neighbors: int = 20,
    a: float = 1.0,
    *,
    device: str | torch.device = "auto",
    block_size: int = 4096,
) -> KNNGraph:
    """Exact K_s-NN graph of the rows of X with JULE's Gaussian weights (blocked search)."""
    idx, d2 = knn(
        X, n_neighbors, method="blocked", squared=True, device=device, block_size=block_size
    )
    return KNNGraph.from_neighbours(idx, d2, a)


# -- cluster affinities from scratch ---------------------------------------------------------


def _as_csr(W: KNNGraph | sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    if isinstance(W, KNNGraph):
        return W.to_sparse()
    return sp.csr_matrix(W)


def cluster_affinity_terms(
    W: KNNGraph | sp.spmatrix | np.ndarray, labels: np.ndarray
) -> sp.csr_matrix:
    """Unnormalised GDL terms U (m × m CSR): U[j, i] = 1ᵀ W_{Ci,Cj} W_{Cj,Ci} 1.

    Computed as U = Sᵀ ((Wᵀ S) ∘ (W S)) with S the cluster indicator; the
    diagonal (a cluster with itself) is dropped.
    """
    Wc = _as_csr(W)
    labels = np.asarray(labels, dtype=np.int64)
    n = Wc.shape[0]
    m = int(labels.max()) + 1 if n else 0
    S = sp.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, m))
    P = (Wc.T @ S).tocsr()
    Q = (Wc @ S).tocsr()
    U = (S.T @ P.multiply(Q).tocsr()).tocsr()
    U.setdiag(0)
    U.eliminate_zeros()
    return U


def cluster_affinity(W: KNNGraph | sp.spmatrix | np.ndarray, labels: np.ndarray) -> sp.csr_matrix:
    """Symmetric GDL affinities A(C_i, C_j) (m × m CSR, zero diagonal), from scratch."""
    labels = np.asarray(labels, dtype=np.int64)
    U = cluster_affinity_terms(W, labels).tocoo()
    sizes = np.bincount(labels).astype(np.float64)
    # A[i, j] = U[j, i] / s_i² + U[i, j] / s_j²: entry U[r, c] adds U[r, c] / s_c² to A[c, r]
    # and to A[r, c] (A is symmetric).
    v = U.data / sizes[U.col] ** 2
    m = sizes.size
    half = sp.csr_matrix((v, (U.col, U.row)), shape=(m, m))
    return (half + half.T).tocsr()


def merge_scores(sorted_affinities: np.ndarray, K_c: int = 5, lam: float = 1.0) -> np.ndarray:
    """JULE's merge score from each row's affinities in decreasing order.

    score = A¹ + λ/(K_c - 1) Σ_{k=2..K_c} (A¹ - A^k); rows shorter than K_c are
    padded with zeros; K_c = 1 or λ = 0 gives A¹.
    """
    a = np.asarray(sorted_affinities, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.shape[1] < K_c:
        a = np.pad(a, ((0, 0), (0, K_c - a.shape[1])))
    a = a[:, :K_c]
    if K_c <= 1 or lam == 0:
        return a[:, 0].copy()
    return a[:, 0] + lam / (K_c - 1) * (a[:, :1] - a[:, 1:]).sum(1)


def best_merge(
    affinity: sp.spmatrix | np.ndarray, K_c: int = 5, lam: float = 1.0
) -> tuple[int, int]:
    """The pair JULE's criterion merges, from a full symmetric affinity table.

    Returns ``(c, partner)``: the cluster with the highest
    :func:`merge_scores` and its nearest cluster (largest affinity); ties go
    to the lowest id.  A reference for small tables; the engine keeps the
    same choice incrementally.
    """
    A = affinity.toarray() if sp.issparse(affinity) else np.array(affinity, dtype=np.float64)
    m = A.shape[0]
    np.fill_diagonal(A, 0.0)
    has = (A > 0).any(1)
    if not has.any():
        raise ValueError("no pair has a nonzero affinity")
    srt = -np.sort(-A, axis=1)
    score = np.where(has, merge_scores(srt, K_c, lam), -np.inf)
    c = int(np.flatnonzero(score == score.max())[0])
    partner = int(np.flatnonzero(A[c] == A[c].max())[0])
    assert partner != c and m > 1
    return c, partner


# -- the engine ------------------------------------------------------------------------------


class GDLAgglomeration:
    """Greedy agglomeration with graph degree linkage, updated exactly merge by merge.

    Parameters
    ----------
    graph : KNNGraph
    labels : array (n,)
        Starting clusters (any labels; cluster ids follow their sorted order;
        typically :func:`mmclust.cluster.graph.nn_components`).
    K_c, lam : merge criterion (see the module docstring)
    plain_from : int
        Plain A¹ is used once at most this many clusters remain (JULE code: 100).
    features : array (n, d) or None
        Used for centroids by :meth:`merge_isolated` and when the graph has no
        path left between the remaining clusters.

    Clusters keep the ids they start with (0..m0-1 after compaction); a merge
    keeps the id of the larger cluster.  :attr:`labels_` gives labels 0..m-1.

    Each cluster's list holds its ``K_c + 10`` largest affinities (ids and
    values, padded with -1 / -inf) and ``_ob`` bounds the affinities of the
    neighbours not listed.  A merge changes only the merged cluster's
    affinities: in a neighbour's list the two old entries are dropped and the
    new one is inserted when it is not below the bound (else it stays outside);
    the list is rebuilt from the dictionaries only when fewer than K_c entries
    are left while unlisted neighbours exist.
    """

    _EXTRA = 10

    def __init__(
        self,
        graph: KNNGraph,
        labels: np.ndarray,
        *,
        K_c: int = 5,
        lam: float = 1.0,
        plain_from: int = 100,
        features: np.ndarray | None = None,
    ) -> None:
        if K_c < 1:
            raise ValueError(f"K_c must be at least 1, got {K_c}")
        self.K_c = int(K_c)
        self.lam = float(lam)
        self.plain_from = int(plain_from)
        self.features = features
        n, k = graph.indices.shape
        labels = np.unique(np.asarray(labels).ravel(), return_inverse=True)[1].ravel()
        if labels.shape[0] != n:
            raise ValueError(f"{labels.shape[0]} labels for a graph of {n} points")
        self._n = n
        self._nbr = graph.indices
        self._w = graph.weights
        # in-edges as CSR (the out-edges are the fixed-width rows of the graph)
        flat = self._nbr.ravel()
        order = np.argsort(flat, kind="stable")
        self._in_ptr = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=n))])
        self._in_src = order // k
        self._in_w = self._w.ravel()[order]
        m = int(labels.max()) + 1
        self._labels = labels.astype(np.int64)
        counts = np.bincount(labels, minlength=m)
        members = np.split(np.argsort(labels, kind="stable"), np.cumsum(counts)[:-1])
        # members as lists of arrays: a merge appends the smaller cluster's chunks
        self._members: list[list[np.ndarray] | None] = [[mm] for mm in members]
        self._rep = np.array([mm[0] for mm in members], dtype=np.int64)
        self._sizes = counts.astype(np.float64)
        self._alive = np.ones(m, dtype=bool)
        self._m = m
        self._m0 = m
        self._width = self.K_c + self._EXTRA
        self._csum: np.ndarray | None = None
        self.n_merges_ = 0
        self.n_fallback_merges_ = 0
        self._build(graph)

    # -- set-up ------------------------------------------------------------------------------
    def _build(self, graph: KNNGraph) -> None:
        m = self._m
        U = cluster_affinity_terms(graph, self._labels).tocoo()
        r, c, v = U.row.astype(np.int64), U.col.astype(np.int64), U.data
        key = r * m + c
        union = np.union1d(key, c * m + r)
        o = np.argsort(key)
        key_s, v_s = key[o], v[o]

        def lookup(q: np.ndarray) -> np.ndarray:
            out = np.zeros(q.size)
            if key_s.size:
                pos = np.minimum(np.searchsorted(key_s, q), key_s.size - 1)
                hit = key_s[pos] == q
                out[hit] = v_s[pos[hit]]
            return out

        ur, uc = union // m, union % m
        umid = lookup(union)  # U[ur, uc]
        uend = lookup(uc * m + ur)  # U[uc, ur]
        bounds = np.searchsorted(ur, np.arange(m + 1))
        self._deg = np.diff(bounds).astype(np.int64)
        self._mid: list[dict[int, float] | None] = []
        self._end: list[dict[int, float] | None] = []
        uc_l, um_l, ue_l = uc.tolist(), umid.tolist(), uend.tolist()
        for i in range(m):
            a, b = bounds[i], bounds[i + 1]
            cols = uc_l[a:b]
            self._mid.append(dict(zip(cols, um_l[a:b], strict=True)))
            self._end.append(dict(zip(cols, ue_l[a:b], strict=True)))
        # affinities of every stored pair and the per-cluster lists
        width = self._width
        aff = uend / self._sizes[ur] ** 2 + umid / self._sizes[uc] ** 2
        self._topv = np.full((m, width), -np.inf)
        self._topi = np.full((m, width), -1, dtype=np.int64)
        self._ob = np.zeros(m)
        if union.size:
            o = np.lexsort((uc, -aff, ur))
            rs = ur[o]
            cnt = np.bincount(rs, minlength=m)
            rank = np.arange(o.size) - (np.cumsum(cnt) - cnt)[rs]
            top = rank < width
            self._topv[rs[top], rank[top]] = aff[o][top]
            self._topi[rs[top], rank[top]] = uc[o][top]
            nxt = rank == width
            self._ob[rs[nxt]] = aff[o][nxt]
        self._version = np.zeros(m, dtype=np.int64)
        self._plain = self._m <= self.plain_from
        self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        ids = np.nonzero(self._alive & (self._topi[:, 0] >= 0))[0]
        sc = self._scores(ids)
        self._version[ids] += 1
        self._heap = list(
            zip((-sc).tolist(), ids.tolist(), self._version[ids].tolist(), strict=True)
        )
        heapq.heapify(self._heap)

    def _scores(self, rows: np.ndarray) -> np.ndarray:
        kc = self.K_c
        v = np.where(self._topi[rows, :kc] >= 0, self._topv[rows, :kc], 0.0)
        if self._plain or kc == 1 or self.lam == 0:
            return v[:, 0].copy()
        return (1.0 + self.lam) * v[:, 0] - self.lam / (kc - 1) * v[:, 1:].sum(1)

    # -- public state --------------------------------------------------------------------------
    @property
    def n_clusters(self) -> int:
        return self._m

    @property
    def cluster_ids(self) -> np.ndarray:
        """Internal ids of the current clusters (label c of ``labels_`` is ``cluster_ids[c]``)."""
        return np.nonzero(self._alive)[0]

    def _compact_ids(self) -> np.ndarray:
        ids = np.nonzero(self._alive)[0]
        remap = np.full(self._m0, -1, dtype=np.int64)
        remap[ids] = np.arange(ids.size)
        return remap

    @property
    def labels_(self) -> np.ndarray:
        """Current labels 0..m-1 (in the order of the surviving cluster ids)."""
        return self._compact_ids()[self._labels]

    def affinity_matrix(self) -> sp.csr_matrix:
        """Current affinities as an m × m CSR matrix in the ids of :attr:`labels_`."""
        remap = self._compact_ids()
        rows, cols, vals = [], [], []
        for i in np.nonzero(self._alive)[0].tolist():
            keys, a = self._row(i)
            rows.append(np.full(keys.size, remap[i]))
            cols.append(remap[keys])
            vals.append(a)
        m = self._m
        if not rows:
            return sp.csr_matrix((m, m))
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
        )

    def top_affinities(self) -> tuple[np.ndarray, np.ndarray]:
        """Each cluster's K_c largest affinities in decreasing order and the clusters giving them.

        Returns ``(values, ids)``, both m × K_c in the ids of :attr:`labels_`,
        padded with 0 / -1 where a cluster has fewer neighbours.
        """
        remap = self._compact_ids()
        top = self._topi[self._alive, : self.K_c]
        vals = np.where(top >= 0, self._topv[self._alive, : self.K_c], 0.0)
        return vals, np.where(top >= 0, remap[np.maximum(top, 0)], -1)

    # -- rows --------------------------------------------------------------------------------
    def _row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour ids of cluster i and its affinities to them."""
        mi, ei = self._mid[i], self._end[i]
        assert mi is not None and ei is not None
        d = len(mi)
        keys = np.fromiter(mi.keys(), np.int64, d)
        um = np.fromiter(mi.values(), np.float64, d)
        ue = np.fromiter(ei.values(), np.float64, d)
        return keys, ue / self._sizes[i] ** 2 + um / self._sizes[keys] ** 2

    def _set_top(self, i: int, keys: np.ndarray, aff: np.ndarray) -> None:
        width = self._width
        self._topv[i] = -np.inf
        self._topi[i] = -1
        if keys.size > width:
            part = np.argpartition(-aff, width)
            self._ob[i] = aff[part[width]]
            part = part[:width]
            keys, aff = keys[part], aff[part]
        else:
            self._ob[i] = 0.0
        o = np.lexsort((keys, -aff))
        self._topv[i, : o.size] = aff[o]
        self._topi[i, : o.size] = keys[o]

    def _push(self, rows: np.ndarray) -> None:
        if rows.size == 0:
            return
        sc = self._scores(rows)
        self._version[rows] += 1
        heap = self._heap
        for s, r, v in zip(
            (-sc).tolist(), rows.tolist(), self._version[rows].tolist(), strict=True
        ):
            heapq.heappush(heap, (s, r, v))
        if len(heap) > 4 * self._m + 1024:
            self._rebuild_heap()

    def _member_array(self, i: int) -> np.ndarray:
        chunks = self._members[i]
        assert chunks is not None
        if len(chunks) > 1:
            chunks[:] = [np.concatenate(chunks)]
        return chunks[0]

    # -- the cross term ------------------------------------------------------------------------
    def _cross(self, i: int, j: int) -> tuple[list[int], list[float]]:
        """X[l] = Σ_{b ∈ C_l} P[b, i] Q[b, j] + P[b, j] Q[b, i] for the clusters l with X[l] > 0.

        Only the edges at C_j (the smaller cluster) and at their other ends b
        are read.
        """
        mem = self._member_array(j)
        lab, nbr, w = self._labels, self._nbr, self._w
        # Σ_b P[b, j] Q[b, i]: out-edges a → b from C_j, then b's out-edges into C_i
        b = nbr[mem].ravel()
        wab = w[mem].ravel()
        lb = lab[b]
        keep = (lb != i) & (lb != j)
        b, wab, lb = b[keep], wab[keep], lb[keep]
        q_bi = (w[b] * (lab[nbr[b]] == i)).sum(1)
        part_a = wab * q_bi
        # Σ_b Q[b, j] P[b, i]: in-edges b → c into C_j, then b's in-edges from C_i
        ptr, src, win = self._in_ptr, self._in_src, self._in_w
        st = ptr[mem]
        cnt = ptr[mem + 1] - st
        pos = np.repeat(st - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
        b2, wbc = src[pos], win[pos]
        lb2 = lab[b2]
        keep = (lb2 != i) & (lb2 != j)
        b2, wbc, lb2 = b2[keep], wbc[keep], lb2[keep]
        if b2.size:
            ub, inv = np.unique(b2, return_inverse=True)
            st = ptr[ub]
            cnt = ptr[ub + 1] - st
            pos = np.repeat(st - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
            seg = np.repeat(np.arange(ub.size), cnt)
            p_bi = np.bincount(seg, weights=win[pos] * (lab[src[pos]] == i), minlength=ub.size)
            part_b = wbc * p_bi[inv]
        else:
            part_b = wbc
        labs = np.concatenate([lb, lb2])
        vals = np.concatenate([part_a, part_b])
        nz = vals > 0
        if not nz.any():
            return [], []
        ul, inv = np.unique(labs[nz], return_inverse=True)
        return ul.tolist(), np.bincount(inv, weights=vals[nz], minlength=ul.size).tolist()

    # -- merging -----------------------------------------------------------------------------
    def merge(self, a: int, b: int) -> int:
        """Merge clusters ``a`` and ``b`` (ids as used internally); return the surviving id."""
        if a == b or not (self._alive[a] and self._alive[b]):
            raise ValueError(f"cannot merge clusters {a} and {b}")
        sizes = self._sizes
        if sizes[a] > sizes[b] or (sizes[a] == sizes[b] and a < b):
            i, j = a, b
        else:
            i, j = b, a
        cross_l, cross_v = self._cross(i, j)
        mid, end, deg = self._mid, self._end, self._deg
        mi, ei, mj, ej = mid[i], end[i], mid[j], end[j]
        assert mi is not None and ei is not None and mj is not None and ej is not None
        mi.pop(j, None)
        ei.pop(j, None)
        mj.pop(i, None)
        ej.pop(i, None)
        for c, u in mj.items():  # u = U[j, c], ej[c] = U[c, j]
            e = ej[c]
            mc, ec = mid[c], end[c]
            assert mc is not None and ec is not None
            del mc[j]
            del ec[j]
            if c in mi:
                mi[c] += u
                ei[c] += e
                mc[i] = ei[c]
                ec[i] = mi[c]
                deg[c] -= 1
            else:
                mi[c] = u
                ei[c] = e
                mc[i] = e
                ec[i] = u
        for c, x in zip(cross_l, cross_v, strict=True):  # U[c, k] gains X[c]
            mc, ec = mid[c], end[c]
            assert mc is not None and ec is not None
            if c in ei:
                ei[c] += x
                mc[i] += x
            else:
                mi[c] = 0.0
                ei[c] = x
                mc[i] = x
                ec[i] = 0.0
                deg[c] += 1
        mid[j] = None
        end[j] = None
        deg[i] = len(mi)
        deg[j] = 0
        # node-level bookkeeping
        mem_i, mem_j = self._members[i], self._members[j]
        assert mem_i is not None and mem_j is not None
        self._labels[self._member_array(j)] = i
        mem_i.extend(mem_j)
        self._members[j] = None
        sizes[i] += sizes[j]
        sizes[j] = 0.0
        self._alive[j] = False
        self._topi[j] = -1
        self._topv[j] = -np.inf
        if self._csum is not None:
            self._csum[i] += self._csum[j]
        self._m -= 1
        self.n_merges_ += 1
        self._update_neighbours(i, j)
        if not self._plain and self._m <= self.plain_from:
            self._plain = True
            self._rebuild_heap()
        return i

    def _update_neighbours(self, k: int, j: int) -> None:
        """Patch the lists of k's neighbours after the merge of j into k."""
        keys, aff = self._row(k)
        self._set_top(k, keys, aff)
        changed = [np.array([k])]
        if keys.size:
            kc, width = self.K_c, self._width
            T = self._topi[keys]
            V = self._topv[keys]
            ob = self._ob[keys]
            gone = (T == j) | (T == k)
            add = aff >= ob  # below the bound, k stays outside and the bound holds
            work = np.nonzero(gone.any(1) | add)[0]
            if work.size:
                rows = keys[work]
                Tw, Vw, gw = T[work], V[work], gone[work]
                Vw[gw] = -np.inf
                Tw[gw] = -1
                aw = add[work]
                V2 = np.concatenate([Vw, np.where(aw, aff[work], -np.inf)[:, None]], axis=1)
                T2 = np.concatenate([Tw, np.where(aw, k, -1)[:, None]], axis=1)
                o = np.lexsort((np.where(T2 < 0, np.iinfo(np.int64).max, T2), -V2), axis=-1)
                V2 = np.take_along_axis(V2, o, 1)
                T2 = np.take_along_axis(T2, o, 1)
                popped = T2[:, width] >= 0
                obw = ob[work]
                obw[popped] = np.maximum(obw[popped], V2[popped, width])
                new_t, new_v = T2[:, :width], V2[:, :width]
                moved = (new_t[:, :kc] != T[work, :kc]).any(1)
                diff = moved | (new_v[:, :kc] != V[work, :kc]).any(1)
                self._topi[rows] = new_t
                self._topv[rows] = new_v
                self._ob[rows] = obw
                valid = (new_t >= 0).sum(1)
                short = (valid < kc) & (self._deg[rows] > valid)
                for r in rows[short].tolist():
                    rk, ra = self._row(r)
                    self._set_top(r, rk, ra)
                changed.append(rows[diff | short])
        self._push(np.concatenate(changed))

    def best_pair(self) -> tuple[int, int] | None:
        """The pair the criterion merges next (ids as used internally), or None."""
        heap = self._heap
        while heap:
            _, c, ver = heap[0]
            if self._alive[c] and ver == self._version[c] and self._topi[c, 0] >= 0:
                return c, int(self._topi[c, 0])
            heapq.heappop(heap)
        return None

    def step(self) -> int:
        """One merge by the criterion (or by centroid when no pair has an affinity)."""
        if self._m <= 1:
            raise ValueError("a single cluster is left; nothing to merge")
        pair = self.best_pair()
        if pair is None:
            return self._fallback_merge()
        return self.merge(*pair)

    def run(
        self, n_merges: int | None = None, n_clusters: int | None = None, progress: bool = False
    ) -> GDLAgglomeration:
        """Merge ``n_merges`` times, or down to ``n_clusters`` clusters (give exactly one)."""
        if (n_merges is None) == (n_clusters is None):
            raise ValueError("give exactly one of n_merges and n_clusters")
        steps = n_merges if n_merges is not None else self._m - int(n_clusters)  # type: ignore[arg-type]
        steps = max(0, min(int(steps), self._m - 1))
        chunk = max(1, steps // 100)
        with tqdm(total=steps, desc="agglomerate", disable=not progress, mininterval=1.0) as bar:
            for t in range(1, steps + 1):
                self.step()
                if t % chunk == 0:
                    bar.update(chunk)
            bar.update(steps - bar.n)
        return self

    # -- centroid-based merges -------------------------------------------------------------
    def _centroid_sums(self) -> np.ndarray:
        if self.features is None:
            raise ValueError("centroid merges need the features")
        if self._csum is None:
            X = np.asarray(self.features)
            S = sp.csr_matrix(
                (np.ones(self._n), (self._labels, np.arange(self._n))), shape=(self._m0, self._n)
            )
            csum = np.empty((self._m0, X.shape[1]))
            for c in range(0, X.shape[1], 64):  # float64 sums, a few columns at a time
                csum[:, c : c + 64] = S @ X[:, c : c + 64].astype(np.float64)
            self._csum = csum
        return self._csum

    def _nearest_centroids(self, queries: np.ndarray) -> np.ndarray:
        """For each query cluster id, the alive cluster (≠ itself) with the nearest centroid."""
        ids = np.nonzero(self._alive)[0]
        cs = self._centroid_sums()
        C = cs[ids] / self._sizes[ids, None]
        Qc = cs[queries] / self._sizes[queries, None]
        cn = (C * C).sum(1)
        out = np.empty(queries.size, dtype=np.int64)
        bs = max(1, 2**22 // max(ids.size, 1))
        for s in range(0, queries.size, bs):
            d = cn[None, :] - 2.0 * Qc[s : s + bs] @ C.T
            d[ids[None, :] == queries[s : s + bs, None]] = np.inf
            out[s : s + bs] = ids[np.argmin(d, axis=1)]
        return out

    def merge_isolated(self) -> int:
        """Merge every cluster without a path to another into its nearest-centroid cluster.

        The nearest clusters are found once, before merging; a target merged
        meanwhile is followed to the cluster now holding it.  Returns the
        number of merges.
        """
        if self._m <= 1:
            return 0
        iso = np.nonzero(self._alive & (self._deg == 0))[0]
        if iso.size == 0:
            return 0
        targets = self._rep[self._nearest_centroids(iso)]
        done = 0
        for c, t_node in zip(iso.tolist(), targets.tolist(), strict=True):
            if self._m <= 1 or not self._alive[c] or self._deg[c] > 0:
                continue
            t = int(self._labels[t_node])
            if t != c:
                self.merge(c, t)
                done += 1
        log.debug("merged %d clusters without affinity", done)
        return done

    def _fallback_merge(self) -> int:
        """No pair has an affinity: merge the smallest cluster into its nearest one."""
        ids = np.nonzero(self._alive)[0]
        c = int(ids[np.lexsort((ids, self._sizes[ids]))[0]])
        if self.features is None:
            t = int(ids[ids != c][0])
        else:
            t = int(self._nearest_centroids(np.array([c]))[0])
        self.n_fallback_merges_ += 1
        return self.merge(c, t)


def agglomerate(
    engine: GDLAgglomeration,
    n_clusters: int,
    *,
    eta: float | None = None,
    isolated_factor: float = 20.0,
    progress: bool = False,
) -> np.ndarray:
    """Run ``engine`` down to ``n_clusters`` in periods, as JULE's code does.

    Each period first merges the clusters without affinity (while more than
    ``isolated_factor`` × ``n_clusters`` clusters remain; 0 disables), then
    makes min(⌈eta · m⌉, m - n_clusters) merges (``eta=None``: all of them in
    one period).  Returns the labels.
    """
    while engine.n_clusters > n_clusters:
        if isolated_factor and engine.n_clusters > isolated_factor * n_clusters:
            engine.merge_isolated()
        m = engine.n_clusters
        steps = m - n_clusters if eta is None else min(math.ceil(eta * m), m - n_clusters)
        if steps <= 0:
            break
        engine.run(n_merges=steps, progress=progress)
    return engine.labels_


# -- the baseline estimator ------------------------------------------------------------------


class ACGDL(ClusterMixin, BaseEstimator):
    """Agglomerative clustering with graph degree linkage (Zhang et al., ECCV 2012).

    JULE's agglomeration without the CNN: exact K_s-NN graph on X, 1-NN
    initial clusters, merges by JULE's criterion down to ``n_clusters``.
    ``lam=0`` (or ``K_c=1``) gives GDL's own criterion, the largest affinity
    over all pairs (what the JULE authors' AC-GDL baseline script runs);
    ``plain_from`` switches to it once that few clusters remain (JULE code:
    100).  Deterministic: ``random_state`` is accepted for a uniform
    interface and not used.

    Parameters
    ----------
    n_clusters : int, default 10
    K_s : int, default 20
        Nearest neighbours in the graph.
    a : float, default 1.0
        Scale of σ².
    K_c : int, default 5
        Neighbour clusters in the merge criterion.
    lam : float, default 1.0
    plain_from : int, default 100
    isolated_factor : float, default 20.0
        Merge clusters without affinity by centroid while more than this ×
        ``n_clusters`` clusters remain (JULE code); 0 disables.
    knn_block_size : int, default 4096
    random_state : int, default 0
    device : str, default "auto"
        Where the neighbour search runs.
    verbose : bool, default False

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, d), the input
    n_initial_clusters_ : int, clusters after the 1-NN initialisation
    sigma2_ : float
    """

    def __init__(
        self,
        n_clusters: int = 10,
        K_s: int = 20,
        a: float = 1.0,
        K_c: int = 5,
        lam: float = 1.0,
        plain_from: int = 100,
        isolated_factor: float = 20.0,
        knn_block_size: int = 4096,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.n_clusters = n_clusters
        self.K_s = K_s
        self.a = a
        self.K_c = K_c
        self.lam = lam
        self.plain_from = plain_from
        self.isolated_factor = isolated_factor
        self.knn_block_size = knn_block_size
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X: np.ndarray, y: Any = None) -> ACGDL:
        check_input(X, self.n_clusters, type(self).__name__)
        X = np.ascontiguousarray(X, dtype=np.float32)
        graph = build_graph(X, self.K_s, self.a, device=self.device, block_size=self.knn_block_size)
        init = nn_components(graph.indices)
        engine = GDLAgglomeration(
            graph, init, K_c=self.K_c, lam=self.lam, plain_from=self.plain_from, features=X
        )
        self.n_initial_clusters_ = engine.n_clusters
        self.labels_ = agglomerate(
            engine, self.n_clusters, isolated_factor=self.isolated_factor, progress=self.verbose
        )
        self.sigma2_ = graph.sigma2
        self.embedding_ = X
        return self
