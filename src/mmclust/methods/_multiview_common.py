"""Pieces shared by the multi-view and incomplete-view baselines of the JECL table.

* :func:`kmeans_labels`: k-means++ with restarts (the "+ KM" step);
* :func:`spectral_clustering`: Ng, Jordan & Weiss normalised spectral
  clustering of a symmetric non-negative affinity (dense or sparse), used by
  MultiViewLRSSC, PIC and optionally DMF-MVC;
* :func:`knn_heat_graph`: a symmetric k-nearest-neighbour graph with heat-kernel
  weights (DMF-MVC's graph regulariser);
* :func:`make_mlp`: the fully connected branches of VSE, DCCA and CCAL;
* :func:`require_complete`: the check of the methods that need every view of
  every sample.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors
from torch import nn

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


def spectral_embedding(
    affinity: np.ndarray | sp.spmatrix, n_components: int, random_state: int = 0
) -> np.ndarray:
    """Top eigenvectors of D^-1/2 W D^-1/2 (the Ng-Jordan-Weiss embedding), rows unit length.

    ``affinity`` must be symmetric and non-negative.  Dense matrices up to
    2000 rows use LAPACK; larger or sparse ones use Lanczos (ARPACK) with a
    seeded start vector, so the result is deterministic.
    """
    n = affinity.shape[0]
    if sp.issparse(affinity):
        W = sp.csr_matrix(affinity, dtype=np.float64)
        deg = np.asarray(W.sum(axis=1)).ravel()
    else:
        W = np.asarray(affinity)
        deg = W.sum(axis=1, dtype=np.float64)
    dinv = 1.0 / np.sqrt(deg + np.finfo(np.float64).eps)
    if sp.issparse(W):
        M = sp.diags(dinv) @ W @ sp.diags(dinv)
        vecs = _top_eigvecs(M, n_components, random_state)
    elif n <= 2000:
        M = (dinv[:, None] * W) * dinv[None, :]
        M = (M + M.T) / 2
        _, vecs = np.linalg.eigh(M)
        vecs = vecs[:, ::-1][:, :n_components]
    else:
        dense = W

        def matvec(x: np.ndarray) -> np.ndarray:
            y = dinv[:, None] * np.asarray(x).reshape(n, -1)
            return (dinv[:, None] * (dense @ y.astype(dense.dtype))).astype(np.float64)

        op = LinearOperator((n, n), matvec=matvec, matmat=matvec, dtype=np.float64)
        vecs = _top_eigvecs(op, n_components, random_state)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


def _top_eigvecs(op: object, k: int, random_state: int) -> np.ndarray:
    n = op.shape[0]  # type: ignore[attr-defined]
    v0 = np.random.default_rng(random_state).uniform(0.5, 1.0, n)
    vals, vecs = eigsh(op, k=k, which="LA", v0=v0, tol=1e-8, maxiter=max(1000, 20 * n))
    order = np.argsort(vals)[::-1]
    return vecs[:, order]


def spectral_clustering(
    affinity: np.ndarray | sp.spmatrix, n_clusters: int, n_init: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised spectral clustering: (labels, row-normalised spectral embedding)."""
    emb = spectral_embedding(affinity, n_clusters, random_state)
    labels, _ = kmeans_labels(emb, n_clusters, n_init, random_state)
    return labels, emb.astype(np.float32)


def knn_heat_graph(X: np.ndarray, n_neighbors: int) -> sp.csr_matrix:
    """Symmetric kNN graph, W_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)).

    sigma is the mean distance of the points to their ``n_neighbors`` nearest
    neighbours; an edge exists when either point is among the other's
    neighbours (the larger weight is kept).
    """
    n = X.shape[0]
    k = min(n_neighbors, n - 1)
    nn_ = NearestNeighbors(n_neighbors=k + 1).fit(X)
    dist, idx = nn_.kneighbors(X)
    dist, idx = dist[:, 1:], idx[:, 1:]
    sigma = float(dist.mean()) or 1.0
    w = np.exp(-(dist**2) / (2 * sigma**2))
    W = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, n))
    return W.maximum(W.T).tocsr()


_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class CubeRoot(nn.Module):
    """DCCA's nonlinearity s(x) = g^-1(x) with g(y) = y^3/3 + y (Andrew et al. 2013).

    s is odd, linear near 0 and grows like the cube root of 3x; it is the real
    root of y^3 + 3y - 3x = 0: with u = cbrt(3|x|/2 + sqrt(9x^2/4 + 1)) >= 1,
    s(|x|) = u - 1/u (Cardano, written without cancellation).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.abs()
        u = torch.pow(1.5 * a + torch.sqrt(2.25 * a * a + 1.0), 1.0 / 3.0)
        return torch.sign(x) * (u - 1.0 / u)


def make_mlp(
    in_dim: int, hidden_dims: Sequence[int], out_dim: int, activation: str = "relu"
) -> nn.Sequential:
    """Fully connected layers ``in_dim -> hidden_dims -> out_dim``, the last one linear."""
    if activation == "cuberoot":
        act: type[nn.Module] = CubeRoot
    elif activation in _ACTIVATIONS:
        act = _ACTIVATIONS[activation]
    else:
        raise ValueError(
            f"unknown activation {activation!r}; use one of {sorted([*_ACTIVATIONS, 'cuberoot'])}"
        )
    dims = [in_dim, *hidden_dims, out_dim]
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


# -- the two-branch representation learners (VSE, DCCA, CCAL) ---------------------------


def complete_pairs(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Indices of the samples that have both views; at least two are needed to train."""
    both = np.flatnonzero(masks[0] & masks[1])
    if both.size < 2:
        raise ValueError("at least two samples with both views are needed to train")
    return both


@torch.no_grad()
def encode_present(
    branch: nn.Module, X: np.ndarray, mask: np.ndarray, device: torch.device, batch: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Branch outputs for the rows whose mask is True (the others are never read).

    Returns (indices, outputs) with outputs as float64 numpy rows.
    """
    idx = np.flatnonzero(mask)
    outs = []
    for s in range(0, idx.size, batch):
        rows = torch.from_numpy(np.ascontiguousarray(X[idx[s : s + batch]])).to(device)
        outs.append(branch(rows).double().cpu().numpy())
    dim = outs[0].shape[1] if outs else 0
    return idx, (np.concatenate(outs) if outs else np.zeros((0, dim)))


def train_minibatches(
    params: Sequence[torch.nn.Parameter],
    loss_fn: object,
    x1: torch.Tensor,
    x2: torch.Tensor,
    *,
    batch_size: int,
    max_epochs: int,
    lr: float,
    generator: torch.Generator,
    grad_clip: float | None,
    verbose: bool,
    desc: str,
    min_batch: int = 2,
) -> list[float]:
    """Adam over shuffled mini-batches of paired rows; returns the mean loss per epoch.

    ``loss_fn(x1_batch, x2_batch)`` returns a scalar.  A trailing batch smaller
    than ``min_batch`` is dropped (the ranking and CCA losses need pairs).
    """
    from tqdm.auto import tqdm

    from mmclust.nn.utils import minibatches

    opt = torch.optim.Adam(list(params), lr=lr)
    n = x1.shape[0]
    history: list[float] = []
    bar = tqdm(range(max_epochs), desc=desc, disable=not verbose, mininterval=1.0)
    for _ in bar:
        total, count = 0.0, 0
        for idx in minibatches(n, batch_size, generator):
            if idx.numel() < min_batch:
                continue
            idx = idx.to(x1.device)
            loss = loss_fn(x1[idx], x2[idx])  # type: ignore[operator]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None and grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(list(params), grad_clip)
            opt.step()
            total += float(loss.detach())
            count += 1
        history.append(total / max(count, 1))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    return history
