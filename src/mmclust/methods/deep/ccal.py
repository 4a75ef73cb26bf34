"""CCAL-L_rank: a CCA projection layer trained with a pairwise ranking loss, then k-means.

Dorfer, Schlüter, Vall, Korzeniowski & Widmer, "End-to-end cross-modality
retrieval with CCA projections and pairwise ranking loss", International
Journal of Multimedia Information Retrieval 7 (2018).  The JECL table's
"CCAL-L_rank + KM" row.

Model
    Two networks f1, f2 map the views to o-dimensional outputs.  The CCA
    layer computes, on each training mini-batch, the regularised covariances
    of the outputs, T = S11^-1/2 S12 S22^-1/2 = U D V', and the projections
    A = S11^-1/2 U, B = S22^-1/2 V (:func:`cca_layer`, i.e.
    :func:`mmclust.methods.deep.dcca.linear_cca`); the projected codes
    (h1 - mean1) A and (h2 - mean2) B are L2-normalised and scored by their
    cosine.  The loss is the pairwise ranking loss of VSE
    (:func:`mmclust.methods.deep.vse.ranking_loss`) on those scores; gradients
    flow through the CCA projections (eigendecompositions and SVD), which is
    the paper's point: the network is trained for the retrieval it is used
    for, not for correlation alone.

Choices the paper leaves open here (each a parameter)
    * Architecture: the paper's networks are task-specific (image and text
      encoders); on fixed features the default is one hidden layer of 1024
      ReLU units and o = 128 outputs per view.
    * The CCA layer needs large mini-batches for stable covariances; default
      1000 pairs, ridge r1 = r2 = 1e-3, margin 0.2 summed over the negatives
      of the batch, Adam with learning rate 1e-3, 50 epochs.  A trailing
      mini-batch of at most o pairs is skipped: its o x o covariances have
      rank below o, their ridge-only eigenvalues are equal, and the
      eigendecomposition's gradient (which divides by eigenvalue gaps) is
      not finite.  Fewer than o + 1 complete pairs in all is an error.
    * After training the projections are recomputed once on all training
      pairs (no gradient), the choice of the paper for test time.
      ``embedding_`` is the concatenation of the two normalised projected
      codes (2 x o columns).  A sample missing a view gets rho times the
      other view's projected code (rho the canonical correlations) before
      normalisation, which no paper specifies.
    * k-means++ with ``kmeans_n_init`` restarts on ``embedding_``.

No label is ever read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from torch import nn

from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.deep.dcca import CanonicalEmbeddingMixin, linear_cca
from mmclust.methods.deep.vse import (
    branch_forwards,
    check_negatives,
    ranking_loss,
    start_two_branch_fit,
    train_ranking_branches,
)

log = logging.getLogger(__name__)

__all__ = ["CCAL", "cca_layer"]


def cca_layer(
    h1: torch.Tensor, h2: torch.Tensor, r1: float, r2: float, n_components: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CCA projections of a batch computed on that batch: (p1, p2, correlations).

    p1 = (h1 - mean1) A and p2 = (h2 - mean2) B with A, B from
    :func:`~mmclust.methods.deep.dcca.linear_cca`: their regularised covariances
    are the identity and their cross-covariance is diag(correlations).
    """
    a, b, d, m1, m2 = linear_cca(h1, h2, r1, r2, n_components)
    return (h1 - m1) @ a, (h2 - m2) @ b, d


class CCAL(CanonicalEmbeddingMixin, MultiViewMixin, ClusterMixin, BaseEstimator):
    """CCA layer + pairwise ranking loss (CCAL-L_rank) followed by k-means.

    Parameters
    ----------
    n_clusters : int, default 10
    hidden_dims : sequence of int, default (1024,)
    out_dim : int, default 128
    activation : {"relu", "tanh", "sigmoid", "cuberoot"}, default "relu"
    r1, r2 : float, default 1e-3
        Ridge of the CCA layer's covariances.
    n_components : int or None, default None
        Canonical dimensions kept (None: ``out_dim``).
    margin : float, default 0.2
    negatives : {"sum", "max"}, default "sum"
    lr : float, default 1e-3
    batch_size : int, default 1000
    max_epochs : int, default 50
    grad_clip : float or None, default None
    kmeans_n_init : int, default 20
    random_state : int, default 0
    device : str, default "auto"
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the branches' forward and backward passes
        (:mod:`mmclust.nn.precision`; their outputs are cast to float32 before
        the scores, the loss and the embedding); set by the workflow's
        top-level ``precision`` key.
    verbose : bool, default True

    Attributes
    ----------
    labels_, embedding_ (n, 2 * n_components), cluster_centers_,
    correlations_, projections_ (A, B, correlations, mean1, mean2),
    history_ (mean loss per epoch), module_
    """

    # the normalised projected codes [p1, p2] are embedded and clustered
    normalise_embedding = True

    def __init__(
        self,
        n_clusters: int = 10,
        hidden_dims: Sequence[int] = (1024,),
        out_dim: int = 128,
        activation: str = "relu",
        r1: float = 1e-3,
        r2: float = 1e-3,
        n_components: int | None = None,
        margin: float = 0.2,
        negatives: str = "sum",
        lr: float = 1e-3,
        batch_size: int = 1000,
        max_epochs: int = 50,
        grad_clip: float | None = None,
        kmeans_n_init: int = 20,
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.hidden_dims = hidden_dims
        self.out_dim = out_dim
        self.activation = activation
        self.r1 = r1
        self.r2 = r2
        self.n_components = n_components
        self.margin = margin
        self.negatives = negatives
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.grad_clip = grad_clip
        self.kmeans_n_init = kmeans_n_init
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose

    def _branches(self) -> tuple[Any, Any]:
        return branch_forwards(self)

    def _loss(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        branch1, branch2 = self._branches()
        p1, p2, _ = cca_layer(branch1(a), branch2(b), self.r1, self.r2, self.n_components)
        scores = nn.functional.normalize(p1, dim=1) @ nn.functional.normalize(p2, dim=1).T
        return ranking_loss(scores, self.margin, self.negatives)

    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> CCAL:
        views, masks = check_views(views, masks, n_views=2)
        check_negatives(self.negatives)
        device, gen, both, x1, x2 = start_two_branch_fit(self, views, masks, self.out_dim)
        if self.batch_size <= self.out_dim:
            raise ValueError(
                f"CCAL's batch_size={self.batch_size} must exceed out_dim={self.out_dim}: "
                "each mini-batch's CCA layer whitens its out_dim-d codes"
            )
        if both.size <= self.out_dim:
            raise ValueError(
                f"CCAL needs more than out_dim={self.out_dim} complete pairs (its CCA layer "
                f"whitens {self.out_dim}-d codes per mini-batch), got {both.size}; "
                "lower out_dim"
            )
        self.history_ = train_ranking_branches(
            self, self._loss, x1, x2, gen, "CCAL", min_batch=self.out_dim + 1
        )
        self._project_and_cluster(views, masks, x1, x2, device)
        return self
