"""Student's t soft assignment, the sharpened target distribution, and the
target refresh schedule with its stopping rule (DEC)."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


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


# -- the target refresh schedule and DEC's stopping rule (DEC, IDEC, JECL) -------------

# DEC refreshes its target every 140 mini-batch iterations of 256 samples on the
# 70 000 MNIST digits: 140 * 256 / 70 000 = 0.512 of an epoch.
DEC_UPDATE_EVERY_EPOCHS = 0.512


def refresh_interval(
    n: int,
    batch_size: int,
    update_every_epochs: float = DEC_UPDATE_EVERY_EPOCHS,
    update_interval: int | None = None,
) -> int:
    """Mini-batch iterations between two refreshes of the target distribution.

    ``update_interval`` (iterations), when given, is used as it is (the DEC
    code's fixed count).  Otherwise the interval is ``update_every_epochs``
    epochs of ``n / batch_size`` iterations, rounded half up to a whole
    iteration and at least 1: 0.512 gives DEC's 140 on n = 70 000 with batches
    of 256, and 4 on n = 2 000 (0.512 x 7.8125 = 4.0).
    """
    if update_interval is not None:
        if int(update_interval) < 1:
            raise ValueError(f"update_interval must be at least 1, got {update_interval}")
        return int(update_interval)
    if not update_every_epochs > 0:
        raise ValueError(f"update_every_epochs must be positive, got {update_every_epochs}")
    if n < 1 or batch_size < 1:
        raise ValueError(f"need n >= 1 and batch_size >= 1, got {n} and {batch_size}")
    return max(1, math.floor(update_every_epochs * n / batch_size + 0.5))


class RefreshSchedule:
    """When to refresh the target distribution and when to stop (DEC's rule).

    The target is refreshed every :func:`refresh_interval` iterations; at each
    refresh the fraction of samples whose cluster changed since the previous
    refresh is recorded, and training stops at the first refresh (after the
    initial one) where it is below ``tol``.  DEC, IDEC and JECL share it.
    ``convergence()`` gives the run's label-free convergence record.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        tol: float,
        max_epochs: int,
        update_every_epochs: float = DEC_UPDATE_EVERY_EPOCHS,
        update_interval: int | None = None,
    ) -> None:
        self.every = refresh_interval(n, batch_size, update_every_epochs, update_interval)
        self.n = n
        self.batch_size = batch_size
        self.tol = tol
        self.max_epochs = max_epochs
        self.iterations_per_epoch = math.ceil(n / batch_size)
        self.history: list[dict[str, float]] = []
        self.converged = False
        self._previous: Any = None

    def due(self, iteration: int) -> bool:
        return iteration % self.every == 0

    def record(self, iteration: int, labels: Any, **signals: float) -> bool:
        """Record one refresh's labels (and other signals); True when training should stop.

        The first refresh has no predecessor: its label change is recorded as 1.
        """
        labels = np.asarray(labels).copy()
        first = self._previous is None
        delta = 1.0 if first else float(np.mean(labels != self._previous))
        self._previous = labels
        self.history.append(
            {
                "iteration": iteration,
                "epoch": iteration / self.iterations_per_epoch,
                "delta_label": delta,
                **signals,
            }
        )
        if not first and delta < self.tol:
            self.converged = True
        return self.converged

    @property
    def rule(self) -> str:
        return (
            f"converged when fewer than {100 * self.tol:g} % of the labels change between "
            f"two target refreshes (every {self.every} iterations = "
            f"{self.every / self.iterations_per_epoch:.3g} epoch) within {self.max_epochs} epochs"
        )

    def convergence(self, iterations: int) -> dict[str, Any]:
        """The run's convergence record: converged (the tol rule fired), the rule, and
        label-free signals (refreshes, last label change, epochs and iterations run)."""
        changes = [h["delta_label"] for h in self.history[1:]]
        return {
            "converged": bool(self.converged),
            "rule": self.rule,
            "refreshes": len(self.history),
            "last_label_change": changes[-1] if changes else None,
            "epochs": round(iterations / self.iterations_per_epoch, 4),
            "max_epochs": self.max_epochs,
            "iterations": int(iterations),
            "refresh_every_iterations": self.every,
            "tol": self.tol,
        }


def log_convergence(name: str, record: dict[str, Any]) -> None:
    """Log a :meth:`RefreshSchedule.convergence` record (a warning when not converged)."""
    if record["converged"]:
        log.info("%s converged after %.3g epochs: %s", name, record["epochs"], record["rule"])
    else:
        log.warning(
            "%s did not converge: stopped at the epoch limit (%d) with %s of the labels "
            "changing at the last refresh; rule: %s",
            name, record["max_epochs"], record["last_label_change"], record["rule"],
        )  # fmt: skip
