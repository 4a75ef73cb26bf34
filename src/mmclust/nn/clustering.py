"""Student's t soft assignment and the sharpened target distribution (DEC)."""

from __future__ import annotations

import math

import torch


def soft_assign(z: torch.Tensor, centroids: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """q_ij proportional to (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2).

    Rows sum to one.  ``z`` is (n, d), ``centroids`` (k, d).
    """
    d2 = (z.unsqueeze(1) - centroids.unsqueeze(0)).pow(2).sum(dim=2)
    q = (1.0 + d2 / alpha).pow(-(alpha + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with f_j = sum_i q_ij."""
    weight = q.pow(2) / q.sum(dim=0)
    return weight / weight.sum(dim=1, keepdim=True)


def kl_divergence(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """KL(P || Q) summed over clusters and averaged over samples."""
    return (p * (torch.log(p + eps) - torch.log(q + eps))).sum(dim=1).mean()


def js_divergence(q: torch.Tensor, r: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Jensen–Shannon divergence of each row pair: ½ KL(q‖m) + ½ KL(r‖m), m = (q + r) / 2.

    Returns one value per row (natural log: symmetric, 0 iff q = r, at most ln 2).
    """
    m = 0.5 * (q + r)
    log_m = torch.log(m + eps)
    kl_q = (q * (torch.log(q + eps) - log_m)).sum(dim=1)
    kl_r = (r * (torch.log(r + eps) - log_m)).sum(dim=1)
    return 0.5 * (kl_q + kl_r)


def uniform_kl(q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """KL(f‖u) of the mean soft assignment f = mean_i q_i against the uniform u.

    Zero when the clusters are used equally, ln k when every point sits in one
    cluster: it penalises the non-uniform cluster usage of trivial solutions.
    """
    f = q.mean(dim=0)
    return (f * (torch.log(f + eps) + math.log(q.shape[1]))).sum()
