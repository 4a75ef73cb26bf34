"""Multi-view low-rank sparse subspace clustering (MLRSSC), pairwise and centroid versions.

Brbić & Kopriva, "Multi-view low-rank sparse subspace clustering", Pattern
Recognition 73 (2018), arXiv 1708.08732.  The JECL table's
"MultiViewLRSSC" row.

Problem (views v = 1..V, X_v is d_v x n with samples as columns)
    pairwise:  min  sum_v ( l1 ||C_v||_* + l2 ||C_v||_1 ) + l3 sum_{v<w} ||C_v - C_w||_F^2
    centroid:  min  sum_v ( l1 ||C_v||_* + l2 ||C_v||_1 + l3 ||C_v - C*||_F^2 )
    s.t. X_v = X_v C_v and diag(C_v) = 0; with ``noisy=True`` the equality is
    replaced by the loss 1/2 ||X_v - X_v C_v||_F^2.

ADMM (as in the paper): per view the auxiliary variables A (self-expression),
C1 (low rank), C2 (sparse, zero diagonal) and C3 (consensus), with
constraints A = C1, A = C2 - diag(C2), A = C3 and multipliers L1 (for
X = X A, noise-free only), L2, L3, L4.  One iteration, view by view:

    A  = (mu X'X + 3 mu I)^-1 (mu X'X + X'L1 + mu C2 - L2 + mu C1 - L3 + mu C3 - L4)
         (noisy: (X'X + 3 mu I)^-1 (X'X + mu C2 - L2 + mu C1 - L3 + mu C3 - L4))
    C2 = S_{l2/mu}(A + L2/mu), then its diagonal set to 0       (soft thresholding)
    C1 = D_{l1/mu}(A + L3/mu)                                   (singular value thresholding)
    C3 = (2 l3 sum_{w != v} C2_w + mu A + L4) / (2 l3 (V - 1) + mu)   (pairwise)
    C3 = (2 l3 C* + mu A + L4) / (2 l3 + mu)                          (centroid)
    L1 += mu (X - X A);  L2 += mu (A - C2);  L3 += mu (A - C1);  L4 += mu (A - C3)

then C* = mean_v C2_v (centroid) and mu = min(rho mu, max_mu).  Stop when
for every view max|A - C1|, max|A - C2|, max|A - C3| and max|A - A_prev|
are all below ``tol``.  The affinity is W = |C| + |C|' with C the mean of
the C2_v (pairwise) or C* (centroid), clustered by normalised spectral
clustering (Ng, Jordan & Weiss), the rows of the spectral embedding
normalised, k-means with ``kmeans_n_init`` restarts.

Optimality conditions (:func:`kkt_residuals`)
    At a solution, besides A = C1 = C2 = C3 (and X = X A): the A-stationarity
    L2 + L3 + L4 - X'L1 = 0 (noisy: X'(XA - X) + L2 + L3 + L4 = 0), the
    proximal fixed points C1 = D_{l1}(C1 + L3) and, off the diagonal,
    C2 = S_{l2}(C2 + L2), and L4 = the gradient of the consensus term,
    2 l3 sum_{w != v} (C3_v - C2_w) (centroid: 2 l3 (C3_v - C*)).

Choices and deviations (each a parameter)
    * Defaults: the authors' public settings for the UCI digits, pairwise,
      linear kernel: l1 = l2 = 0.5, l3 = 0.7, noise-free, mu = 100,
      rho = 1.5, max_mu = 1e6, tol = 1e-3, at most 300 iterations.  The four
      penalty parameters are equal, as in the authors' code.  The kernel
      (RKHS) variants of the paper are not implemented.
    * The pairwise consensus uses the other views' newest C2 (Gauss-Seidel);
      the authors' code uses the previous iteration's (Jacobi).  The fixed
      points, hence the optimality conditions, are the same, and no copy of
      the n x n matrices is needed.
    * With the growing penalty (rho > 1, mu up to 1e6) the iterates become
      feasible but the dual conditions need not hold when the stopping rule
      (primal residuals only) is met: on the tests' union-of-subspaces toy
      the relative A-stationarity residual is still about 0.4 after 3000
      iterations.  A fixed penalty (rho = 1) converges to the optimum
      (residuals ~1e-9) in a few thousand iterations.

Memory and scaling: LRSSC inherently needs n x n coefficient matrices.
    The exact solver (``solver="exact"``) stores per view A, C1, C2, C3, L2,
    L3, L4 (7 n x n matrices), plus one shared n x n work matrix, the
    consensus C* (centroid only), the singular vectors of the thresholding
    step (plus LAPACK's workspace while a full SVD runs) and, at the end, the
    dense n x n affinity, built in place: about (7 V + 4) n^2 numbers, i.e.
    4 GB for V = 2 and n = 7429 in float32 and 39 GB for n = 23189
    (:func:`exact_memory_bytes`).  Everything runs in place in
    ``dtype`` (float32 by default) on ``device`` (CUDA when present); X'X is
    never formed: (mu X'X + c I)^-1 is applied through the thin SVD of X
    (from the float64 eigendecomposition of its smaller Gram matrix),
    O(n^2 rank(X)) per view and iteration.  Singular value thresholding only
    needs the singular values above the threshold: ``svt="auto"`` computes a
    truncated randomised SVD (Halko et al.) and doubles its rank until the
    smallest computed singular value falls below the threshold (so nothing
    above it is missed), falling back to a full decomposition when more than
    half the spectrum is needed: the eigendecomposition of the smaller Gram
    matrix M M' in float64 (``svt="gram"``), several times faster than
    LAPACK's SVD (``svt="full"``), both O(n^3).
    ``svt_max_rank`` caps the randomised rank: the prox is then approximate.

    Above ``exact_max_n`` samples, ``solver="auto"`` switches to a landmark
    approximation (``solver="anchor"``): m = ``n_anchors`` samples drawn at
    random (the same for every view) form the dictionary, X_v ~ X_v[:, S]
    Z_v with Z_v of size m x n (a landmark may not use itself), the same
    objective and ADMM on m x n matrices (memory O(m n)), and the affinity is
    the anchor graph W = Zn Lambda^-1 Zn' with Zn = |Z|' row-normalised and
    Lambda = diag(1' Zn), whose spectral embedding is the top left singular
    vectors of Zn Lambda^-1/2.  This is a documented approximation, not the
    paper's method.

Views must be complete.  No label is ever read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from tqdm.auto import tqdm

from mmclust.cluster.spectral import anchor_embedding, row_unit
from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.multiview.common import (
    kmeans_labels,
    require_complete,
    spectral_clustering,
)
from mmclust.nn.utils import resolve_device, seed_everything

log = logging.getLogger(__name__)

__all__ = [
    "LRSSCState",
    "MultiViewLRSSC",
    "exact_memory_bytes",
    "kkt_residuals",
    "singular_value_threshold",
    "soft_threshold",
    "solve_mlrssc",
]

_BLOCK = 2048  # rows per block of the element-wise in-place operations
_SCIPY_SVD_MIN = 1000  # on the CPU, full SVDs of larger matrices go through SciPy


def exact_memory_bytes(n: int, n_views: int, itemsize: int = 4, variant: str = "pairwise") -> int:
    """Bytes of the n x n matrices the exact solver keeps (see the module docstring).

    Seven per view, one work matrix, the two singular-vector matrices of a
    full SVD and the centroid C* (centroid variant).  The full decomposition
    of the thresholding step needs a few more n x n of workspace while it
    runs (the float64 Gram matrix and its eigenvectors for ``svt="gram"``).
    """
    per = 7 * n_views + 4 + (1 if variant == "centroid" else 0)
    return per * n * n * itemsize


def soft_threshold(x: torch.Tensor, tau: float) -> torch.Tensor:
    """S_tau(x) = sign(x) max(|x| - tau, 0), in place, block by block."""
    for i in range(0, x.shape[0], _BLOCK):
        xb = x[i : i + _BLOCK]
        xb.sub_(xb.clamp(-tau, tau))
    return x


def _max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    out = 0.0
    for i in range(0, a.shape[0], _BLOCK):
        out = max(out, float((a[i : i + _BLOCK] - b[i : i + _BLOCK]).abs().max()))
    return out


def _full_svd_destroying(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD of M; M's content is destroyed (its memory serves as LAPACK's input)."""
    if M.device.type == "cpu" and min(M.shape) > _SCIPY_SVD_MIN and M.is_contiguous():
        # LAPACK's divide-and-conquer driver through SciPy: about twice as fast
        # as torch's CPU SVD for large matrices on the development machine
        # (torch is faster for small ones).  M' is a Fortran-ordered view of
        # M's memory, decomposed in place: M' = U2 S V2' gives M = V2 S U2'.
        u2, s, vh2 = scipy.linalg.svd(
            M.numpy().T,
            full_matrices=False,
            lapack_driver="gesdd",
            check_finite=False,
            overwrite_a=True,
        )
        return torch.from_numpy(vh2.T), torch.from_numpy(s), torch.from_numpy(u2.T)
    u, s, vh = torch.linalg.svd(M, full_matrices=False)
    return u, s, vh


def singular_value_threshold(
    M: torch.Tensor,
    tau: float,
    mode: str = "auto",
    rank_guess: int = 10,
    oversample: int = 10,
    niter: int = 2,
    max_rank: int | None = None,
) -> int:
    """D_tau(M) = U max(S - tau, 0) V', written into M; returns the rank kept.

    ``mode="full"`` uses LAPACK's full SVD.  ``"auto"`` uses randomised
    truncated SVDs of growing rank q until the q-th computed singular value
    is at most tau (then every singular value above tau has been computed),
    or until q reaches half of min(M.shape), where it switches to the
    eigendecomposition of the smaller Gram matrix in float64 (``"gram"``,
    exact up to rounding and several times faster than the SVD, most of all
    for the wide m x n matrices of the landmark solver); ``max_rank`` stops
    the growth there (approximate prox).
    """
    small = min(M.shape)
    q = max(rank_guess + oversample, 2)
    if mode == "auto" and (max_rank is not None or q < small // 2):
        while True:
            q_eff = min(q, small)
            u, s, v = torch.svd_lowrank(M, q=q_eff, niter=niter)
            r = int((s > tau).sum())
            if r < q_eff or q_eff >= small:
                break
            if max_rank is not None and q_eff >= max_rank:
                log.debug("SVT rank capped at %d: the prox is approximate", q_eff)
                break
            q *= 2
            if max_rank is None and q >= small // 2:
                return _svt_gram_(M, tau)
        M.copy_((u[:, :r] * (s[:r] - tau)) @ v[:, :r].T)
        return r
    if mode == "gram" or mode == "auto":
        return _svt_gram_(M, tau)
    if mode != "full":
        raise ValueError(f"unknown svt mode {mode!r}; use 'auto', 'gram' or 'full'")
    u, s, vh = _full_svd_destroying(M)
    r = int((s > tau).sum())
    torch.mm((u[:, :r] * (s[:r] - tau)).to(M.device), vh[:r].to(M.device), out=M)
    return r


def _svt_gram_(M: torch.Tensor, tau: float) -> int:
    """D_tau(M) in place through the eigendecomposition of the smaller Gram matrix.

    For M m x n with m <= n: M M' = U diag(s^2) U' (accumulated and
    decomposed in float64), and D_tau(M) = U_r diag(1 - tau / s_r) U_r' M over
    the r singular values above tau (the transpose for m > n).
    """
    wide = M.shape[0] <= M.shape[1]
    k = M.shape[0] if wide else M.shape[1]
    G = torch.zeros(k, k, dtype=torch.float64, device=M.device)
    for i in range(0, M.shape[1] if wide else M.shape[0], _BLOCK):
        b = (M[:, i : i + _BLOCK] if wide else M[i : i + _BLOCK].T).double()
        G.addmm_(b, b.T)
    if G.device.type == "cpu" and k > _SCIPY_SVD_MIN:
        # LAPACK's divide-and-conquer eigensolver through SciPy: several times
        # faster than torch's on the CPU for large matrices
        w, z = scipy.linalg.eigh(G.numpy(), driver="evd", overwrite_a=True, check_finite=False)
        vals, vecs = torch.from_numpy(w), torch.from_numpy(z)
    else:
        vals, vecs = torch.linalg.eigh(G)  # ascending
    del G
    s = vals.clamp(min=0).sqrt()
    r = int((s > tau).sum())
    top = vecs[:, k - r :]  # a view: the r largest
    scaled = (top * (1.0 - tau / s[k - r :])).to(M.dtype)
    U = top.to(M.dtype)
    del vecs, top
    if wide:
        T = U.T @ M
        torch.mm(scaled, T, out=M)
    else:
        T = M @ U
        torch.mm(T, scaled.T, out=M)
    return r


@dataclass
class LRSSCState:
    """Primal and dual variables of the MLRSSC ADMM (one list entry per view).

    Matrices are m x n: m = n for the exact solver, m = number of landmarks
    for the landmark approximation (``dictionary`` holds their indices).
    """

    A: list[torch.Tensor]
    C1: list[torch.Tensor]
    C2: list[torch.Tensor]
    C3: list[torch.Tensor]
    L1: list[torch.Tensor | None]
    L2: list[torch.Tensor]
    L3: list[torch.Tensor]
    L4: list[torch.Tensor]
    consensus: torch.Tensor | None
    dictionary: np.ndarray | None
    mu: float = 0.0
    n_iter: int = 0
    converged: bool = False
    history: list[dict[str, float]] = field(default_factory=list)


def _zero_diag_(C: torch.Tensor, dictionary: torch.Tensor | None) -> None:
    if dictionary is None:
        C.fill_diagonal_(0.0)
    else:
        C[torch.arange(C.shape[0], device=C.device), dictionary] = 0.0


def solve_mlrssc(
    Xs: Sequence[torch.Tensor],
    lambda1: float,
    lambda2: float,
    lambda3: float,
    variant: str = "pairwise",
    noisy: bool = False,
    mu: float = 100.0,
    rho: float = 1.5,
    max_mu: float = 1e6,
    max_iter: int = 300,
    tol: float = 1e-3,
    dictionary: np.ndarray | None = None,
    svt: str = "auto",
    svt_max_rank: int | None = None,
    verbose: bool = False,
) -> LRSSCState:
    """Run the MLRSSC ADMM on views ``Xs`` (each d_v x n, samples as columns).

    ``dictionary`` (indices of m landmark samples) selects the landmark
    approximation; None is the exact problem.  Returns every variable so
    that :func:`kkt_residuals` can check the optimality conditions.
    """
    if variant not in ("pairwise", "centroid"):
        raise ValueError(f"unknown variant {variant!r}; use 'pairwise' or 'centroid'")
    V = len(Xs)
    n = Xs[0].shape[1]
    dev, dt = Xs[0].device, Xs[0].dtype
    dict_t = None if dictionary is None else torch.as_tensor(dictionary, device=dev)
    m = n if dictionary is None else len(dictionary)

    def zeros() -> torch.Tensor:
        return torch.zeros(m, n, dtype=dt, device=dev)

    # thin SVD of each dictionary D_v = X_v[:, S]: D'D = Q diag(s^2) Q'
    # (eigendecomposition of the smaller Gram matrix in float64)
    factors = []
    for X in Xs:
        D = X if dict_t is None else X[:, dict_t]
        Dd = D.double()
        small_side = D.shape[0] <= m
        evals, evecs = torch.linalg.eigh(Dd @ Dd.T if small_side else Dd.T @ Dd)
        keep = evals > evals.max() * max(m, D.shape[0]) * 1e-13
        s2 = evals[keep]
        Q = (Dd.T @ evecs[:, keep]) / s2.sqrt() if small_side else evecs[:, keep]
        G = None if dict_t is None else D.T @ X  # m x n (landmarks only)
        factors.append((D, Q.to(dt).contiguous(), s2.to(dt), G))
        del Dd, evecs

    st = LRSSCState(
        A=[zeros() for _ in Xs],
        C1=[zeros() for _ in Xs],
        C2=[zeros() for _ in Xs],
        C3=[zeros() for _ in Xs],
        L1=[None if noisy else torch.zeros_like(X) for X in Xs],
        L2=[zeros() for _ in Xs],
        L3=[zeros() for _ in Xs],
        L4=[zeros() for _ in Xs],
        consensus=zeros() if variant == "centroid" else None,
        dictionary=dictionary,
    )
    work = zeros()
    ranks = [10] * V
    bar = tqdm(range(max_iter), desc="MLRSSC", disable=not verbose, mininterval=1.0)
    for it in bar:
        t0 = time.perf_counter()
        errs = [0.0] * V
        for v in range(V):
            X = Xs[v]
            D, Q, s2, G = factors[v]
            A, C1, C2, C3 = st.A[v], st.C1[v], st.C2[v], st.C3[v]
            L1, L2, L3, L4 = st.L1[v], st.L2[v], st.L3[v], st.L4[v]
            # -- A: (w1 D'D + c I)^-1 (w1 D'X + R) with R the rest of the right-hand side
            w1 = 1.0 if noisy else mu
            c = 3.0 * mu
            R = work
            torch.add(C1, C2, out=R).add_(C3).mul_(mu).sub_(L2).sub_(L3).sub_(L4)
            if L1 is not None:
                R.addmm_(D.T, L1)
            shrink = w1 * s2 / (w1 * s2 + c)
            if G is None:  # exact: D'X = D'D, folded into the low-rank correction
                T = Q.T @ R
                T.sub_(Q.T, alpha=c)
                R.div_(c).addmm_(Q * (shrink / c), T, alpha=-1.0)
            else:
                R.add_(G, alpha=w1)
                R.addmm_(Q * shrink, Q.T @ R, alpha=-1.0).div_(c)
            dA = _max_abs_diff(R, A)
            st.A[v], work = R, A
            A = st.A[v]
            # -- C2: soft thresholding, zero diagonal
            C2.copy_(A).add_(L2, alpha=1.0 / mu)
            soft_threshold(C2, lambda2 / mu)
            _zero_diag_(C2, dict_t)
            # -- C1: singular value thresholding
            C1.copy_(A).add_(L3, alpha=1.0 / mu)
            ranks[v] = singular_value_threshold(
                C1, lambda1 / mu, svt, rank_guess=ranks[v], max_rank=svt_max_rank
            )
            # -- C3: consensus
            C3.copy_(A).mul_(mu).add_(L4)
            if variant == "pairwise":
                for w in range(V):
                    if w != v:
                        C3.add_(st.C2[w], alpha=2.0 * lambda3)
                C3.div_(2.0 * lambda3 * (V - 1) + mu)
            else:
                assert st.consensus is not None
                C3.add_(st.consensus, alpha=2.0 * lambda3).div_(2.0 * lambda3 + mu)
            # -- multipliers
            if L1 is not None:
                L1.add_(X, alpha=mu).addmm_(D, A, alpha=-mu)
            L2.add_(A, alpha=mu).sub_(C2, alpha=mu)
            L3.add_(A, alpha=mu).sub_(C1, alpha=mu)
            L4.add_(A, alpha=mu).sub_(C3, alpha=mu)
            errs[v] = max(_max_abs_diff(A, C1), _max_abs_diff(A, C2), _max_abs_diff(A, C3), dA)
        if st.consensus is not None:
            st.consensus.zero_()
            for C2 in st.C2:
                st.consensus.add_(C2, alpha=1.0 / V)
        st.n_iter = it + 1
        st.mu = mu
        err = max(errs)
        st.history.append(
            {
                "iteration": it + 1,
                "error": err,
                "mu": mu,
                "rank": float(max(ranks)),
                "seconds": time.perf_counter() - t0,
            }
        )
        bar.set_postfix(err=f"{err:.2e}", rank=max(ranks))
        if err < tol:
            st.converged = True
            break
        mu = min(rho * mu, max_mu)
    del work
    return st


def kkt_residuals(
    st: LRSSCState,
    Xs: Sequence[torch.Tensor],
    lambda1: float,
    lambda2: float,
    lambda3: float,
    variant: str = "pairwise",
    noisy: bool = False,
) -> dict[str, float]:
    """Relative residuals of MLRSSC's optimality conditions (the largest over views).

    Keys: ``primal`` (max of ||A - C_i|| / ||A|| and, noise-free,
    ||X - X A|| / ||X||), ``stationarity_A``, ``prox_C1``, ``prox_C2``,
    ``consensus_C3`` (see the module docstring); each is 0 at an optimum.
    Costs a full SVD per view: for small problems.
    """
    V = len(Xs)
    dict_t = None if st.dictionary is None else torch.as_tensor(st.dictionary)
    out = dict.fromkeys(("primal", "stationarity_A", "prox_C1", "prox_C2", "consensus_C3"), 0.0)

    def rel(a: torch.Tensor, scale: float) -> float:
        return float(torch.linalg.norm(a)) / max(scale, 1e-300)

    cstar = None
    if variant == "centroid":
        cstar = sum(st.C2) / V
    for v in range(V):
        X = Xs[v]
        D = X if dict_t is None else X[:, dict_t]
        A, C1, C2, C3 = st.A[v], st.C1[v], st.C2[v], st.C3[v]
        L1, L2, L3, L4 = st.L1[v], st.L2[v], st.L3[v], st.L4[v]
        na = float(torch.linalg.norm(A))
        p = max(rel(A - C1, na), rel(A - C2, na), rel(A - C3, na))
        lam_scale = float(torch.linalg.norm(L2) + torch.linalg.norm(L3) + torch.linalg.norm(L4))
        if noisy:
            g = D.T @ (D @ A - X) + L2 + L3 + L4
        else:
            assert L1 is not None
            p = max(p, rel(X - D @ A, float(torch.linalg.norm(X))))
            g = L2 + L3 + L4 - D.T @ L1
            lam_scale += float(torch.linalg.norm(D.T @ L1))
        s_a = rel(g, max(lam_scale, 1.0))
        P1 = (C1 + L3).clone()
        singular_value_threshold(P1, lambda1, "full")
        s_c1 = rel(C1 - P1, max(float(torch.linalg.norm(C1)), 1.0))
        P2 = soft_threshold((C2 + L2).clone(), lambda2)
        diff2 = C2 - P2
        _zero_diag_(diff2, dict_t)
        s_c2 = rel(diff2, max(float(torch.linalg.norm(C2)), 1.0))
        if variant == "pairwise":
            grad = sum(C3 - st.C2[w] for w in range(V) if w != v) * (2.0 * lambda3)
        else:
            grad = 2.0 * lambda3 * (C3 - cstar)
        s_c3 = rel(L4 - grad, max(float(torch.linalg.norm(L4)), 1.0))
        for key, val in zip(out, (p, s_a, s_c1, s_c2, s_c3), strict=True):
            out[key] = max(out[key], val)
    return out


class MultiViewLRSSC(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Multi-view low-rank sparse subspace clustering (pairwise or centroid).

    Parameters
    ----------
    n_clusters : int, default 10
    variant : {"pairwise", "centroid"}, default "pairwise"
    lambda1 : float, default 0.5
        Weight of the nuclear norm.
    lambda2 : float, default 0.5
        Weight of the l1 norm.
    lambda3 : float, default 0.7
        Weight of the consensus term.
    noisy : bool, default False
        False: constraint X = X C (the paper); True: loss 1/2 ||X - X C||^2.
    mu : float, default 100.0
        Initial ADMM penalty (all four equal).
    rho : float, default 1.5
        Growth factor of mu per iteration.
    max_mu : float, default 1e6
    max_iter : int, default 300
    tol : float, default 1e-3
    solver : {"auto", "exact", "anchor"}, default "auto"
        "auto": exact up to ``exact_max_n`` samples, landmarks above.
    exact_max_n : int, default 10000
    n_anchors : int, default 2000
        Landmarks of the approximation.
    svt : {"auto", "gram", "full"}, default "auto"
        Truncated randomised SVD with adaptive rank falling back to "gram";
        "gram": eigendecomposition of the smaller Gram matrix (float64);
        "full": LAPACK's SVD.
    svt_max_rank : int or None, default None
        Cap of the randomised rank (None: exact prox).
    dtype : {"float32", "float64"}, default "float32"
    kmeans_n_init : int, default 20
    random_state : int, default 0
    device : str, default "auto"
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, n_clusters), the row-normalised spectral embedding
    solver_ : "exact" or "anchor", the solver used
    n_iter_, converged_, history_ : ADMM iterations, whether ``tol`` was met, per-iteration log
    coefficients_ : ndarray (m, n) float32 or None
        |C| whose |C| + |C|' is the affinity (anchor solver, or exact solver up
        to 4096 samples; None above, to spare an n x n copy)
    anchors_ : ndarray of landmark indices (anchor solver) or None
    approximation_ : str or None, what the landmark approximation did (anchor
        solver), written into fit.json and named under the table
    """

    def __init__(
        self,
        n_clusters: int = 10,
        variant: str = "pairwise",
        lambda1: float = 0.5,
        lambda2: float = 0.5,
        lambda3: float = 0.7,
        noisy: bool = False,
        mu: float = 100.0,
        rho: float = 1.5,
        max_mu: float = 1e6,
        max_iter: int = 300,
        tol: float = 1e-3,
        solver: str = "auto",
        exact_max_n: int = 10000,
        n_anchors: int = 2000,
        svt: str = "auto",
        svt_max_rank: int | None = None,
        dtype: str = "float32",
        kmeans_n_init: int = 20,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.variant = variant
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.lambda3 = lambda3
        self.noisy = noisy
        self.mu = mu
        self.rho = rho
        self.max_mu = max_mu
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.exact_max_n = exact_max_n
        self.n_anchors = n_anchors
        self.svt = svt
        self.svt_max_rank = svt_max_rank
        self.dtype = dtype
        self.kmeans_n_init = kmeans_n_init
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> MultiViewLRSSC:
        views, masks = check_views(views, masks)
        require_complete(masks, "MultiViewLRSSC")
        if self.solver not in ("auto", "exact", "anchor"):
            raise ValueError(f"unknown solver {self.solver!r}; use 'auto', 'exact' or 'anchor'")
        if self.dtype not in ("float32", "float64"):
            raise ValueError("dtype must be 'float32' or 'float64'")
        device = resolve_device(self.device)
        seed_everything(self.random_state)
        n = views[0].shape[0]
        solver = self.solver
        if solver == "auto":
            solver = "exact" if n <= self.exact_max_n else "anchor"
        dictionary = None
        if solver == "anchor":
            m = min(self.n_anchors, n)
            rng = np.random.default_rng(self.random_state)
            dictionary = np.sort(rng.choice(n, m, replace=False))
        dt = torch.float32 if self.dtype == "float32" else torch.float64
        Xs = [
            torch.from_numpy(np.ascontiguousarray(v.T)).to(device=device, dtype=dt) for v in views
        ]
        st = solve_mlrssc(
            Xs,
            self.lambda1,
            self.lambda2,
            self.lambda3,
            variant=self.variant,
            noisy=self.noisy,
            mu=self.mu,
            rho=self.rho,
            max_mu=self.max_mu,
            max_iter=self.max_iter,
            tol=self.tol,
            dictionary=dictionary,
            svt=self.svt,
            svt_max_rank=self.svt_max_rank,
            verbose=self.verbose,
        )
        self.solver_ = solver
        # said under the table (the scoring copies it from fit.json)
        self.approximation_ = (
            None
            if dictionary is None
            else f"landmark approximation ({len(dictionary)} of {n} samples as landmarks; "
            f"the exact solver runs up to exact_max_n = {self.exact_max_n} samples)"
        )
        self.n_iter_ = st.n_iter
        self.converged_ = st.converged
        self.history_ = st.history
        self.anchors_ = dictionary
        if not st.converged:
            log.info("MLRSSC stopped after %d iterations without meeting tol", st.n_iter)
        if self.variant == "centroid":
            assert st.consensus is not None
            C = st.consensus
        else:
            C = st.C2[0]
            for other in st.C2[1:]:
                C.add_(other)
            C.div_(len(st.C2))
        for lst in (st.A, st.C1, st.C3, st.L2, st.L3, st.L4, st.L1):
            lst.clear()
        C = C.abs_().cpu()
        if solver == "exact":
            W = C.numpy()
            self.coefficients_ = W.astype(np.float32) if n <= 4096 else None
            _symmetrise_(W)
            self.labels_, self.embedding_ = spectral_clustering(
                W, self.n_clusters, self.kmeans_n_init, self.random_state
            )
        else:
            self.coefficients_ = C.numpy().astype(np.float32)
            emb = anchor_spectral_embedding(C.numpy().T, self.n_clusters)
            self.embedding_ = emb.astype(np.float32)
            self.labels_, _ = kmeans_labels(
                emb, self.n_clusters, self.kmeans_n_init, self.random_state
            )
        return self


def _symmetrise_(W: np.ndarray, block: int = 2048) -> None:
    """W <- W + W' in place, block by block (no n x n temporary)."""
    n = W.shape[0]
    for i in range(0, n, block):
        bi = slice(i, i + block)
        W[bi, bi] = W[bi, bi] + W[bi, bi].T
        for j in range(i + block, n, block):
            bj = slice(j, j + block)
            s = W[bi, bj] + W[bj, bi].T
            W[bi, bj] = s
            W[bj, bi] = s.T


def anchor_spectral_embedding(Z: np.ndarray, n_components: int) -> np.ndarray:
    """Spectral embedding of the anchor graph W = Zn Lambda^-1 Zn' (rows unit length).

    ``Z`` (n x m) holds non-negative sample-to-landmark weights; rows are
    normalised to sum to one (a row of zeros gets uniform weights).
    """
    Z = np.asarray(Z, dtype=np.float64)
    rows = Z.sum(axis=1, keepdims=True)
    Z = np.where(rows > 0, Z / np.where(rows > 0, rows, 1), 1.0 / Z.shape[1])
    U, _ = anchor_embedding(Z, n_components)
    return row_unit(U)
