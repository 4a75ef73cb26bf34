"""VSE: a visual-semantic embedding trained with a pairwise ranking loss, then k-means.

Kiros, Salakhutdinov & Zemel, "Unifying Visual-Semantic Embeddings with
Multimodal Neural Language Models" (NIPS workshop 2014, arXiv 1411.2539);
the hardest-negative variant of the loss is Faghri, Fleet, Kiros & Fidler,
"VSE++: Improving Visual-Semantic Embeddings with Hard Negatives" (BMVC 2018).
The JECL table's "VSE + KM" row: a joint embedding learned from the image-text
pairs, clustered with k-means.

Model
    Two projections f(x) = W_x x + b_x (images) and g(t) = W_t t + b_t (texts)
    into a ``embed_dim``-dimensional joint space (MLPs when ``hidden_dims`` is
    not empty), each output L2-normalised; the score of a pair is the cosine
    s(x, t) = f(x) . g(t).

Loss (per mini-batch of b matching pairs, scores S_ij = s(x_i, t_j))
    ``negatives="sum"`` (Kiros et al.):
    sum_i sum_{j != i} [margin - S_ii + S_ij]_+ + [margin - S_ii + S_ji]_+
    ``negatives="max"`` (VSE++): only the hardest negative of each anchor,
    sum_i max_{j != i} [margin - S_ii + S_ij]_+ + max_{j != i} [margin - S_ii + S_ji]_+.
    The contrastive items are the other pairs of the mini-batch, as in both papers.

Choices the papers leave open here (each a parameter)
    * Kiros et al. encode sentences with an LSTM over word vectors; the
      pipeline gives fixed text features (Doc2Vec), so the text branch is a
      projection like the image branch (``hidden_dims`` applies to both).
    * Defaults follow the authors' published settings: joint dimension 1024,
      margin 0.2, Adam with learning rate 2e-4, mini-batches of 128, 15
      epochs, gradient norm clipped at 2 (VSE++); these were chosen for
      caption retrieval, not for clustering.
    * Only samples with both views train the model.  ``embedding_`` is the
      concatenation [f(x), g(t)] (2 x ``embed_dim`` columns); a sample
      missing a view gets the embedding of its other view in both halves (the
      two live in the same space), which no paper specifies.
    * k-means++ with ``kmeans_n_init`` restarts on ``embedding_``.

No label is ever read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from torch import nn

from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.deep.branches import (
    complete_pairs,
    encode_present,
    make_mlp,
    train_minibatches,
)
from mmclust.methods.multiview.common import kmeans_labels
from mmclust.nn.precision import Precision
from mmclust.nn.utils import as_tensor, resolve_device, seed_everything

log = logging.getLogger(__name__)

__all__ = ["VSE", "ranking_loss"]


def ranking_loss(scores: torch.Tensor, margin: float, negatives: str = "sum") -> torch.Tensor:
    """Bidirectional hinge ranking loss of a (b, b) score matrix whose diagonal holds the pairs.

    ``scores[i, j]`` is the score of image i with text j.  Image-to-text terms
    compare row i's diagonal with its off-diagonal entries, text-to-image terms
    column j's.  ``negatives="sum"`` sums the hinges over all negatives,
    ``"max"`` keeps the largest of each anchor.  Returns the sum over anchors.
    """
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square matrix, got shape {tuple(scores.shape)}")
    diag = scores.diagonal()
    cost_text = (margin - diag[:, None] + scores).clamp(min=0)  # anchor image i, negative text j
    cost_image = (margin - diag[None, :] + scores).clamp(min=0)  # anchor text j, negative image i
    off = ~torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    cost_text = cost_text * off
    cost_image = cost_image * off
    if negatives == "sum":
        return cost_text.sum() + cost_image.sum()
    if negatives == "max":
        return cost_text.max(dim=1).values.sum() + cost_image.max(dim=0).values.sum()
    raise ValueError(f"unknown negatives {negatives!r}; use 'sum' or 'max'")


class _TwoBranch(nn.Module):
    def __init__(self, branch1: nn.Module, branch2: nn.Module) -> None:
        super().__init__()
        self.branch1 = branch1
        self.branch2 = branch2


def check_negatives(negatives: str) -> None:
    """The ranking loss's ``negatives`` must be "sum" or "max" (VSE and CCAL)."""
    if negatives not in ("sum", "max"):
        raise ValueError(f"unknown negatives {negatives!r}; use 'sum' or 'max'")


def start_two_branch_fit(
    est: Any, views: Sequence[np.ndarray], masks: Sequence[np.ndarray], out_dim: int
) -> tuple[torch.device, torch.Generator, np.ndarray, torch.Tensor, torch.Tensor]:
    """The start shared by VSE's, DCCA's and CCAL's ``fit``.

    Resolves ``est.device``, seeds everything with ``est.random_state``, builds
    ``est.module_``: one MLP branch per view (``est.hidden_dims``,
    ``est.activation``, ``out_dim`` outputs), and returns (device, generator,
    indices of the complete pairs, view 0 and view 1 of those pairs as tensors).
    """
    device = resolve_device(est.device)
    gen = seed_everything(est.random_state)
    both = complete_pairs(masks)
    est.module_ = _TwoBranch(
        make_mlp(views[0].shape[1], est.hidden_dims, out_dim, est.activation),
        make_mlp(views[1].shape[1], est.hidden_dims, out_dim, est.activation),
    ).to(device)
    x1 = as_tensor(views[0][both], device)
    x2 = as_tensor(views[1][both], device)
    return device, gen, both, x1, x2


def branch_forwards(est: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The two branches of ``est.module_`` computing with ``est.precision`` (VSE and CCAL;
    their outputs are float32 in every precision)."""
    prec = Precision(est.precision, next(est.module_.parameters()).device)
    return prec.wrap(est.module_.branch1), prec.wrap(est.module_.branch2)


def train_ranking_branches(
    est: Any,
    loss: Any,
    x1: torch.Tensor,
    x2: torch.Tensor,
    gen: torch.Generator,
    desc: str,
    **kwargs: Any,
) -> list[float]:
    """Mini-batch Adam on ``est.module_`` with VSE's and CCAL's settings
    (``est.batch_size``, ``max_epochs``, ``lr``, ``grad_clip``, ``verbose``,
    ``precision`` for the backward passes; ``loss`` runs the forward passes through
    :func:`branch_forwards`); leaves the module in eval mode and returns the mean
    loss per epoch."""
    prec = Precision(est.precision, x1.device)
    prec.log(desc)
    est.module_.train()
    history = train_minibatches(
        list(est.module_.parameters()),
        loss,
        x1,
        x2,
        batch_size=est.batch_size,
        max_epochs=est.max_epochs,
        lr=est.lr,
        generator=gen,
        grad_clip=est.grad_clip,
        verbose=est.verbose,
        desc=desc,
        precision=prec,
        **kwargs,
    )
    est.module_.eval()
    return history


class VSE(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Visual-semantic embedding (hinge ranking loss) followed by k-means.

    Parameters
    ----------
    n_clusters : int, default 10
    embed_dim : int, default 1024
        Dimension of the joint space.
    hidden_dims : sequence of int, default ()
        Hidden layers of both branches; empty means linear projections (the paper).
    activation : {"relu", "tanh", "sigmoid"}, default "relu"
        Between hidden layers only.
    margin : float, default 0.2
    negatives : {"sum", "max"}, default "sum"
        Sum over the negatives of the mini-batch (Kiros et al.) or the hardest one (VSE++).
    lr : float, default 2e-4
        Adam's learning rate.
    batch_size : int, default 128
    max_epochs : int, default 15
    grad_clip : float or None, default 2.0
        Maximal gradient norm.
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
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, 2 * embed_dim), [image embedding, text embedding]
    cluster_centers_ : ndarray (n_clusters, 2 * embed_dim)
    history_ : list of float, mean mini-batch loss per epoch
    module_ : the two trained branches (``branch1`` for view 0, ``branch2`` for view 1)
    """

    def __init__(
        self,
        n_clusters: int = 10,
        embed_dim: int = 1024,
        hidden_dims: Sequence[int] = (),
        activation: str = "relu",
        margin: float = 0.2,
        negatives: str = "sum",
        lr: float = 2e-4,
        batch_size: int = 128,
        max_epochs: int = 15,
        grad_clip: float | None = 2.0,
        kmeans_n_init: int = 20,
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.embed_dim = embed_dim
        self.hidden_dims = hidden_dims
        self.activation = activation
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

    def _scores(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        branch1, branch2 = branch_forwards(self)
        e1 = nn.functional.normalize(branch1(x1), dim=1)
        e2 = nn.functional.normalize(branch2(x2), dim=1)
        return e1 @ e2.T

    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> VSE:
        views, masks = check_views(views, masks, n_views=2)
        check_negatives(self.negatives)
        device, gen, _, x1, x2 = start_two_branch_fit(self, views, masks, self.embed_dim)
        self.history_ = train_ranking_branches(
            self,
            lambda a, b: ranking_loss(self._scores(a, b), self.margin, self.negatives),
            x1,
            x2,
            gen,
            "VSE",
        )
        self.embedding_ = self._joint_embedding(views, masks, device)
        self.labels_, self.cluster_centers_ = kmeans_labels(
            self.embedding_, self.n_clusters, self.kmeans_n_init, self.random_state
        )
        return self

    def _joint_embedding(
        self, views: list[np.ndarray], masks: list[np.ndarray], device: torch.device
    ) -> np.ndarray:
        n = views[0].shape[0]
        halves = []
        branch1, branch2 = branch_forwards(self)
        for branch, X, m in ((branch1, views[0], masks[0]), (branch2, views[1], masks[1])):
            idx, out = encode_present(branch, X, m, device)
            e = np.zeros((n, self.embed_dim))
            e[idx] = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
            halves.append(e)
        e1, e2 = halves
        e1[~masks[0]] = e2[~masks[0]]
        e2[~masks[1]] = e1[~masks[1]]
        return np.hstack([e1, e2]).astype(np.float32)

    def transform(self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None):
        """Joint embedding of new samples (same construction as ``embedding_``)."""
        views, masks = check_views(views, masks, n_views=2)
        device = next(self.module_.parameters()).device
        return self._joint_embedding(views, masks, device)
