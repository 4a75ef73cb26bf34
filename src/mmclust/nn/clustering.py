"""Student's t soft assignment and the sharpened target distribution (DEC)."""

from __future__ import annotations

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
