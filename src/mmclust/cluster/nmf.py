"""Semi-nonnegative matrix factorisation: the one home of the semi-NMF pieces.

Semi-NMF (Ding, Li & Jordan, TPAMI 2010) factorises X (p x n, any sign) as
Z H with Z of any sign and H >= 0.  Its multiplicative update of H,

    H <- H * sqrt(([Zᵀ X]⁺ + [Zᵀ Z]⁻ H) / ([Zᵀ X]⁻ + [Zᵀ Z]⁺ H)),
    A⁺ = (|A| + A) / 2,  A⁻ = (|A| - A) / 2,

keeps H >= 0 and does not increase ||X - Z H||_F.  Deep Semi-NMF (NMF-D),
DMF-MVC (the same update summed over views, with a graph term) and DAIMC
(transposed, weighted by the present samples) are built from :func:`pos`,
:func:`neg` and :func:`multiplicative_update`; :func:`semi_nmf` is the
layer-wise factorisation NMF-D and DMF-MVC pretrain with.

The element-wise pieces take NumPy arrays or torch tensors alike; torch is
imported only by the pieces that need it, so that DAIMC (NumPy) runs without it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np
from sklearn.cluster import KMeans

if TYPE_CHECKING:
    import torch

__all__ = [
    "multiplicative_update",
    "neg",
    "pos",
    "semi_nmf",
    "semi_nmf_update",
    "sq_residual",
]

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")

#: floor of the update's denominators (the factors' scale is ~1)
EPS = 1e-10


def pos(M: ArrayT) -> ArrayT:
    """M⁺ = (|M| + M) / 2, the positive part."""
    return (abs(M) + M) / 2


def neg(M: ArrayT) -> ArrayT:
    """M⁻ = (|M| - M) / 2, the negative part (as a non-negative matrix)."""
    return (abs(M) - M) / 2


def multiplicative_update(H: ArrayT, num: ArrayT, den: ArrayT, eps: float = EPS) -> ArrayT:
    """H * sqrt(num / max(den, eps)): the step of every semi-NMF update."""
    th = sys.modules.get("torch")  # a tensor exists only once torch is imported
    if th is not None and th.is_tensor(H):
        return H * th.sqrt(num / den.clamp_min(eps))
    return H * np.sqrt(num / np.maximum(den, eps))


def semi_nmf_update(H: ArrayT, ZtX: ArrayT, ZtZ: ArrayT, eps: float = EPS) -> ArrayT:
    """Ding, Li & Jordan's update of H >= 0 for X ~ Z H, from Zᵀ X and Zᵀ Z."""
    return multiplicative_update(H, pos(ZtX) + neg(ZtZ) @ H, neg(ZtX) + pos(ZtZ) @ H, eps)


def sq_residual(xx: float, ZtX: torch.Tensor, ZtZ: torch.Tensor, H: torch.Tensor) -> float:
    """||X - Z H||_F^2 = ||X||^2 - 2 <Zᵀ X, H> + <Zᵀ Z, H Hᵀ> (no p x n product)."""
    import torch

    return float(xx - 2.0 * torch.sum(ZtX * H) + torch.sum(ZtZ * (H @ H.T)))


def _lstsq_right(X: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """argmin_Z ||X - Z H||_F = X Hᵀ (H Hᵀ)⁺ (pseudo-inverse of the small Gram)."""
    import torch

    return (X @ H.T) @ torch.linalg.pinv(H @ H.T, hermitian=True)


def _svd_init(X: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact semi-NMF of the best rank-(r-1) approximation of X (Gillis & Kumar's idea).

    X_{r-1} = A B (truncated SVD, A = U_s S); each row of B is given the sign
    that makes its most negative entry no larger in magnitude than its largest
    positive one; with m_j = min(0, min_i B_ij):
    Z = [A, -A 1], H = [B - 1 mᵀ ; -mᵀ] >= 0 and Z H = A B.
    """
    import torch

    p, n = X.shape
    q = r - 1
    if p <= n:
        vals, vecs = torch.linalg.eigh(X @ X.T)
        order = torch.argsort(vals, descending=True)[:q]
        s = vals[order].clamp_min(0).sqrt().clamp_min(1e-12)
        Us = vecs[:, order]
        A = Us * s
        B = (Us.T @ X) / s[:, None]
    else:
        vals, vecs = torch.linalg.eigh(X.T @ X)
        order = torch.argsort(vals, descending=True)[:q]
        s = vals[order].clamp_min(0).sqrt().clamp_min(1e-12)
        B = vecs[:, order].T
        A = X @ B.T
    flip = B.min(dim=1).values.abs() > B.max(dim=1).values
    sign = torch.where(flip, -1.0, 1.0).to(X.dtype)
    B = B * sign[:, None]
    A = A * sign[None, :]
    m = torch.clamp(B.min(dim=0).values, max=0.0)
    Z = torch.cat([A, -A.sum(dim=1, keepdim=True)], dim=1)
    H = torch.cat([B - m[None, :], -m[None, :]], dim=0)
    return Z, H


def semi_nmf(
    X: torch.Tensor,
    r: int,
    n_iter: int = 100,
    init: Literal["svd", "kmeans"] = "svd",
    tol: float | None = 1e-5,
    random_state: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Semi-NMF X (p, n) ~ Z (p, r) H (r, n), H >= 0 (Ding, Li & Jordan, TPAMI 2010).

    Alternates Z <- X Hᵀ (H Hᵀ)⁺ (exact least squares) and the
    multiplicative H update; both never increase ||X - Z H||_F^2.  ``init``:
    "svd" (see ``_svd_init``; deterministic) or "kmeans" (Ding et al.: H the
    k-means cluster indicators + 0.2, k-means seeded by ``random_state``).
    Stops after ``n_iter`` rounds, or earlier when the objective falls by
    less than ``tol`` relative (``None``: never).  Returns (Z, H, objective
    history).
    """
    import torch

    if r < 2:
        raise ValueError(f"a semi-NMF layer needs at least 2 components, got {r}")
    if init == "svd":
        Z, H = _svd_init(X, r)
        H = H + 1e-3 * H.mean()  # strictly positive: a zero stays zero under the update
    elif init == "kmeans":
        lab = KMeans(n_clusters=r, n_init=1, random_state=random_state).fit_predict(
            X.T.detach().cpu().numpy()
        )
        H = torch.full((r, X.shape[1]), 0.2, dtype=X.dtype, device=X.device)
        H[torch.as_tensor(lab, device=X.device), torch.arange(X.shape[1], device=X.device)] += 1
    else:
        raise ValueError(f"init={init!r}; use 'svd' or 'kmeans'")
    history: list[float] = []
    xx = float(torch.sum(X * X))
    Z = _lstsq_right(X, H)
    for _ in range(n_iter):
        Z = _lstsq_right(X, H)
        ZtX, ZtZ = Z.T @ X, Z.T @ Z
        H = semi_nmf_update(H, ZtX, ZtZ)
        history.append(sq_residual(xx, ZtX, ZtZ, H))
        if tol is not None and len(history) > 1 and history[-2] - history[-1] < tol * history[-2]:
            break
    return Z, H, history
