"""JULE: joint unsupervised learning of deep representations and image clusters.

Yang, Parikh & Batra, CVPR 2016.  Agglomerative clustering with graph degree
linkage (:mod:`mmclust.methods.classical.gdl`) runs on the features of a CNN;
the clusters it forms supervise the CNN through a weighted triplet loss, and
the two are alternated in "periods" (partial unrolling of the recurrent
process).

Period 0 (as in the authors' code)
    Features are the flattened, L2-normalised pixels.  The clusters are the
    connected components of their 1-NN graph; no merge happens before the
    first training.
Period p ≥ 1 (``unroll="partial"``, OURS-RC)
    Features are the CNN's outputs (160-d, L2-normalised); the K_s-NN graph
    and the affinities of the current clusters are recomputed on them; the
    clusters without any affinity are merged into the nearest centroid while
    more than ``isolated_factor`` × K clusters remain (code, not in the
    paper); then min(⌈η · n_c⌉, n_c - K) merges are made by JULE's criterion
    (η = 0.9 in general, 0.2 for the face data sets).  The CNN is then
    trained ``epochs_per_period`` epochs on the new labels, unless K has been
    reached, which ends the loop (the code does not train after the last
    merge).
``unroll="full"`` (OURS-SF, the straightforward strategy)
    Read here as a single period: the agglomeration runs on the pixel
    features from the 1-NN clusters straight down to K, the CNN is trained
    once on those K clusters (``epochs_per_period`` epochs), then the final
    re-clustering below.
Final re-clustering (both variants, from the code)
    Features are re-extracted with the trained CNN and the whole agglomeration
    is rerun from their 1-NN clusters down to K without training, period by
    period as above (one period for ``unroll="full"``); ``labels_`` are its
    clusters and ``embedding_`` those features.

CNN (per data set, from the authors' model definitions)
    Blocks of conv 5×5 with ``n_filters`` = 50 channels (stride 1), batch
    norm, ReLU, max-pool 2×2 stride 2 with ceil; then Linear → 160 and L2
    normalisation.  Presets (``arch``), blocks / padding: ``mnist`` 2 / 0 with
    no pool after the last block, ``usps`` 1 / 0, ``coil20`` 4 / 0,
    ``coil100`` 4 / 0, ``umist`` 3 / 2, ``frgc`` 2 / 0, ``cmu-pie`` 2 / 0,
    ``ytf`` 2 / 0; the code's batch norms of UMist, FRGC and YTF use eps = 1
    (1e-5 elsewhere).  ``n_blocks``, ``padding``, ``pool_last`` and ``bn_eps``
    override the preset.  Input channels come from ``image_shape``.  Weights
    N(0, 0.01), biases 0.

Weighted triplet loss
    mean over triplets of max(0, γ ‖f_a - f_p‖² - ‖f_a - f_n‖² + margin).  In
    each mini-batch every pair of samples of one cluster is an (anchor,
    positive) pair (anchor the earlier one).  Its negatives are drawn without
    replacement among the batch's samples of other clusters
    (``negatives="batch"``, the code's pool, the default) or only of the
    anchor cluster's K_c nearest clusters by affinity
    (``negatives="neighbours"``, the paper's wording; a pair gets no triplet
    when no such sample is in the batch).  γ = 1 is the code's default and is
    ours (the paper's table says 2; the code's help says 1-2); margin 0.2
    (code).

Negatives per pair (``negatives_count``; the paper does not give the rule)
    The authors' ``organize_samples`` (train.lua) means to give each pair
    min(20, clusters in the batch - 1) negatives: when the batch holds at
    most 20 clusters it assigns clusters - 1, but to a new local variable
    declared inside that conditional block, which goes out of scope where
    the block ends; the count used afterwards stays the option's 20.  Its
    sampling loop then draws batch positions uniformly, keeping a draw that is
    new and of another cluster, and stops once the running triplet count is
    ≡ 1 modulo 20; that test also runs after a rejected draw, and every pair
    starts at a count ≡ 1, so a pair whose *first* draw is rejected (a sample
    of its own cluster, itself included: probability = its cluster's share of
    the batch) gets no negative at all, and any other pair gets exactly 20.
    (The rows reserved for the pairs left without negatives keep index 0,
    outside Lua's 1-based range: what the GPU library made of them cannot be
    read from the code; they are left out here.  A pair that passes the first
    draw with fewer than 20 candidates in the batch would loop forever there;
    here it takes them all.)  The values:

    ``"first-draw"`` (default: the code as it runs)
        ``n_negatives`` negatives (every candidate when fewer), none when the
        pair's first uniform draw over the batch is not a candidate.
    ``"clusters"`` (what the code intends)
        min(``n_negatives``, number of clusters in the batch - 1).
    ``"available"``
        min(``n_negatives``, number of candidates in the batch).

Triplet gradient (``triplet_gradient``)
    ``"loss"`` (default) back-propagates the loss above.  The authors'
    criterion (``criterions/TripletEmbedding.lua``) computes its input
    gradients by multiplying its anchor and positive inputs in place (by
    γ - 1 and γ) and then reusing the overwritten tensors, so it passes back, per
    active triplet and times 2/N, (γ-1)f_a + f_n - γ f_p to the anchor (the
    loss's own gradient), γ(γ f_p - (γ-1) f_a) to the positive and
    (γ-1) f_a - f_n to the negative; at γ = 1 the latter two are radial and
    the final L2 normalisation removes them, so only anchors learn.
    ``"torch7"`` reproduces exactly these gradients (for any γ).  The paper
    states the loss, so its gradient is the default.

Optimisation (code)
    SGD, momentum 0.9, weight decay 5e-5, batch 100, learning rate
    0.01 · (1 + 1e-4 · t)^(-0.75) with t the mini-batch count over the whole
    run; the optimiser's state persists across periods.  ``dampening``: the
    code calls Torch7's ``optim.sgd`` without one, and that function then
    takes dampening = momentum (buffer ← μ·buffer + (1 - μ)·g, the first
    buffer being g), so at momentum 0.9 its steady step is lr·g, 10× smaller
    than with PyTorch's default (dampening 0, step lr·g/(1-μ)).  The paper is
    silent; the default ``dampening=None`` follows the code (equal to
    ``momentum``); 0 gives PyTorch's convention.  Weight decay is added to the
    gradient before the momentum, as in both libraries.  The code calls the
    optimiser on every mini-batch, also on one without any triplet (its
    gradient is then zero, and weight decay and momentum still move the
    weights); ``step_without_triplets=True`` (default) does the same, False
    skips the step.  Such a batch is always passed forward in training mode
    (batch-norm statistics, as in the code).  Features for the graph are
    extracted in evaluation mode (the code extracts them with the network
    still in training mode).

Defaults
    Where the paper is silent (dampening, the negatives rule, steps on
    batches without triplets) the defaults are the authors' code's, the code
    that produced the paper's numbers; ``dampening=0,
    negatives_count="available", step_without_triplets=False`` is the
    PyTorch-convention variant this module used before.

Convergence record (``convergence_``)
    JULE always ends at the target number of clusters unless the 1-NN
    initialisation gives fewer or the agglomeration runs out of merges: the
    rule is "the final re-clustering reached ``n_clusters``".  The record
    also holds the training periods run, the epochs per period and in all,
    the last trained period's mean triplet loss, and the cluster counts.

Transfer (the paper's transfer table; :func:`extract_layer`)
    The CNN learned on one data set represents the images of another, which
    are then clustered.  Layers: ``"top"`` is the 160-d L2-normalised output
    (what ``transform`` and ``embedding_`` give); ``"top-1"`` and ``"top-2"``
    the outputs of the last and second-to-last conv blocks (after ReLU and,
    where the block has one, max-pooling), flattened and L2-normalised like
    the top layer (a CNN of one block, ``usps``, has no ``"top-2"``; the
    paper's table has no such cell either).  ``"data"`` in the paper is the
    target's raw pixels (an ordinary ``pixels`` input).  The target's images
    are prepared with the source input's transform (e.g. the same scaling)
    and, when their size or channels differ from the source CNN's input,
    converted to its shape (:func:`to_image_shape`: bilinear resizing with
    ``F.interpolate``, antialiased; grey repeated to 3 channels, RGB to
    luminance 0.299 R + 0.587 G + 0.114 B), e.g. MNIST 28×28 ↔ USPS 16×16.
    The paper does not say which algorithm clusters the transferred
    features: the workflow's transfer experiments run the GDL agglomeration
    without CNN training (the config's ``ac-gdl`` method), and an
    experiment's ``runs`` may name any other method instead.  The trained
    network comes from the run's ``model.pt`` (:meth:`JULE.network_state`,
    written by the ``cluster`` command; read by :func:`load_network`).

No label is ever read.  Seeded by ``random_state``; deterministic on the CPU.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClusterMixin
from torch import nn
from tqdm.auto import tqdm

from mmclust.cluster.graph import nn_components as initial_clusters
from mmclust.methods.base import check_input
from mmclust.methods.classical.gdl import GDLAgglomeration, agglomerate, build_graph
from mmclust.methods.registry import NETWORK_LAYERS
from mmclust.nn.precision import Precision
from mmclust.nn.utils import (
    as_tensor,
    batched,
    make_optimizer,
    minibatches,
    resolve_device,
    seed_everything,
)

log = logging.getLogger(__name__)

__all__ = [
    "ARCHITECTURES",
    "JULE",
    "LAYERS",
    "NEGATIVE_COUNTS",
    "TRIPLET_GRADIENTS",
    "JuleCNN",
    "extract_layer",
    "load_network",
    "sample_triplets",
    "to_image_shape",
    "torch7_triplet_surrogate",
    "weighted_triplet_loss",
]

#: rules for the number of negatives per (anchor, positive) pair (module docstring)
NEGATIVE_COUNTS: tuple[str, ...] = ("first-draw", "clusters", "available")
#: what the triplet loss back-propagates (module docstring)
TRIPLET_GRADIENTS: tuple[str, ...] = ("loss", "torch7")

#: layers whose activations can be extracted: the top (160-d output) and the blocks below it
LAYERS: tuple[str, ...] = NETWORK_LAYERS["jule"]

#: preset -> (conv blocks, padding, max-pool after the last block, batch-norm eps)
ARCHITECTURES: dict[str, tuple[int, int, bool, float]] = {
    "mnist": (2, 0, False, 1e-5),
    "usps": (1, 0, True, 1e-5),
    "coil20": (4, 0, True, 1e-5),
    "coil100": (4, 0, True, 1e-5),
    "umist": (3, 2, True, 1.0),
    "frgc": (2, 0, True, 1.0),
    "cmu-pie": (2, 0, True, 1e-5),
    "ytf": (2, 0, True, 1.0),
}


class JuleCNN(nn.Module):
    """Conv(5×5, 50)-BN-ReLU[-MaxPool 2×2 ceil] blocks, Linear → 160, L2 normalisation.

    ``config`` holds the constructor's arguments (what :func:`load_network`
    needs besides the weights); ``block_shapes`` the (C, H, W) output of each
    block.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        n_blocks: int,
        padding: int = 0,
        pool_last: bool = True,
        bn_eps: float = 1e-5,
        n_filters: int = 50,
        embedding_dim: int = 160,
    ) -> None:
        super().__init__()
        c, h, w = (int(v) for v in image_shape)
        if n_blocks < 1:
            raise ValueError(f"n_blocks must be at least 1, got {n_blocks}")
        layers: list[nn.Module] = []
        self.block_ends: list[int] = []
        self.block_shapes: list[tuple[int, int, int]] = []
        for b in range(n_blocks):
            layers += [
                nn.Conv2d(c if b == 0 else n_filters, n_filters, 5, padding=padding),
                nn.BatchNorm2d(n_filters, eps=bn_eps),
                nn.ReLU(inplace=True),
            ]
            h, w = h + 2 * padding - 4, w + 2 * padding - 4
            if h < 1 or w < 1:
                raise ValueError(
                    f"images of shape {tuple(image_shape)} are too small for {n_blocks} blocks "
                    f"of 5x5 convolutions with padding {padding}; use fewer blocks or more padding"
                )
            if b < n_blocks - 1 or pool_last:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
                h, w = math.ceil(h / 2), math.ceil(w / 2)
            self.block_ends.append(len(layers))
            self.block_shapes.append((n_filters, h, w))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(n_filters * h * w, embedding_dim)
        self.image_shape = (int(image_shape[0]), int(image_shape[1]), int(image_shape[2]))
        self.n_blocks = int(n_blocks)
        self.config: dict[str, Any] = {
            "image_shape": self.image_shape,
            "n_blocks": int(n_blocks),
            "padding": int(padding),
            "pool_last": bool(pool_last),
            "bn_eps": float(bn_eps),
            "n_filters": int(n_filters),
            "embedding_dim": int(embedding_dim),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.features(x).flatten(1)), dim=1)

    def layer_dim(self, layer: str) -> int:
        """Width of :meth:`layer_output` at ``layer``."""
        depth = self._depth(layer)
        if depth == 0:
            return self.head.out_features
        return math.prod(self.block_shapes[self.n_blocks - depth])

    def _depth(self, layer: str) -> int:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; accepted values: {', '.join(LAYERS)}")
        depth = LAYERS.index(layer)
        if depth > self.n_blocks:
            raise ValueError(
                f"layer {layer!r} does not exist in a CNN of {self.n_blocks} block(s); "
                f"accepted values here: {', '.join(LAYERS[: self.n_blocks + 1])}"
            )
        return depth

    def layer_output(self, x: torch.Tensor, layer: str = "top") -> torch.Tensor:
        """L2-normalised activations at ``layer`` ("top", "top-1", "top-2"), flattened."""
        depth = self._depth(layer)
        if depth == 0:
            return self(x)
        end = self.block_ends[self.n_blocks - depth]
        return F.normalize(self.features[:end](x).flatten(1), dim=1)


def sample_triplets(
    labels: torch.Tensor,
    n_negatives: int,
    generator: torch.Generator | None = None,
    allowed: torch.Tensor | None = None,
    count: str = "available",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triplets (anchor, positive, negative) of positions in a mini-batch.

    Every pair i < j with ``labels[i] == labels[j]`` is an (anchor, positive)
    pair.  Its candidate negatives are the positions of other clusters
    (``allowed`` (B × B bool) further restricts those of anchor i to the k
    with ``allowed[i, k]``); it gets distinct candidates drawn uniformly
    without replacement, as many as ``count`` says:

    ``"available"``: min(``n_negatives``, its candidates);
    ``"clusters"``: min(``n_negatives``, clusters in the batch - 1, its candidates);
    ``"first-draw"``: min(``n_negatives``, its candidates), or none when a
    first uniform draw over the batch's B positions is not a candidate.

    Returns three int64 tensors of equal length (on the CPU).
    """
    if count not in NEGATIVE_COUNTS:
        raise ValueError(f"count must be one of {NEGATIVE_COUNTS}, got {count!r}")
    y = labels.detach().cpu()
    B = y.numel()
    empty = torch.empty(0, dtype=torch.long)
    if B < 2 or n_negatives < 1:
        return empty, empty, empty
    same = y[:, None] == y[None, :]
    iu = torch.triu_indices(B, B, 1)
    keep = same[iu[0], iu[1]]
    a, p = iu[0][keep], iu[1][keep]
    if a.numel() == 0:
        return empty, empty, empty
    cand = ~same[a]
    if allowed is not None:
        cand &= allowed.detach().cpu()[a]
    keys = torch.rand(a.numel(), B, generator=generator)
    keys[~cand] = 2.0
    vals, neg = torch.topk(keys, min(int(n_negatives), B), dim=1, largest=False)
    ok = vals < 1.5  # candidates come first (keys < 1), in random order
    if count == "clusters":
        ok[:, max(0, int(torch.unique(y).numel()) - 1) :] = False
    elif count == "first-draw":
        first = torch.randint(0, B, (a.numel(),), generator=generator)
        ok &= cand[torch.arange(a.numel()), first][:, None]
    counts = ok.sum(1)
    return a.repeat_interleave(counts), p.repeat_interleave(counts), neg[ok]


def weighted_triplet_loss(
    f: torch.Tensor,
    a: torch.Tensor,
    p: torch.Tensor,
    n: torch.Tensor,
    gamma: float = 1.0,
    margin: float = 0.2,
) -> torch.Tensor:
    """mean over triplets of max(0, γ ‖f_a - f_p‖² - ‖f_a - f_n‖² + margin)."""
    fa = f[a]
    d_pos = (fa - f[p]).pow(2).sum(1)
    d_neg = (fa - f[n]).pow(2).sum(1)
    return F.relu(gamma * d_pos - d_neg + margin).mean()


def torch7_triplet_surrogate(
    f: torch.Tensor,
    a: torch.Tensor,
    p: torch.Tensor,
    n: torch.Tensor,
    gamma: float = 1.0,
    margin: float = 0.2,
) -> torch.Tensor:
    """A scalar whose gradient w.r.t. ``f`` is what the authors' criterion passes back.

    Per active triplet (γ‖f_a - f_p‖² - ‖f_a - f_n‖² + margin > 0), times 2/N
    (N triplets): (γ-1)f_a + f_n - γf_p to the anchor, γ(γf_p - (γ-1)f_a) to
    the positive, (γ-1)f_a - f_n to the negative (module docstring).  Its
    value is not the loss: use :func:`weighted_triplet_loss` for that.
    """
    fa, fp, fn = f[a], f[p], f[n]
    with torch.no_grad():
        d = gamma * (fa - fp).pow(2).sum(1) - (fa - fn).pow(2).sum(1) + margin
        w = (d > 0).to(f.dtype)[:, None] * (2.0 / max(a.numel(), 1))
        grad_p = w * gamma * (gamma * fp - (gamma - 1.0) * fa)
        grad_n = w * ((gamma - 1.0) * fa - fn)
    # the anchor's part is the loss's own gradient: the loss with p and n held fixed
    d_pos = (fa - fp.detach()).pow(2).sum(1)
    d_neg = (fa - fn.detach()).pow(2).sum(1)
    anchor_part = F.relu(gamma * d_pos - d_neg + margin).mean()
    return anchor_part + (fp * grad_p).sum() + (fn * grad_n).sum()


class JULE(ClusterMixin, BaseEstimator):
    """Joint unsupervised learning of a CNN and agglomerative image clusters.

    Parameters
    ----------
    n_clusters : int, default 10
    image_shape : (C, H, W) or None
        Shape of the rows of X; None infers a square grey image (d = H²).
    arch : str or None, default "mnist"
        CNN preset: "mnist", "usps", "coil20", "coil100", "umist", "frgc",
        "cmu-pie", "ytf".
    n_blocks, padding, pool_last, bn_eps : int, int, bool, float or None
        Override the preset (``n_blocks`` is needed when ``arch`` is None;
        ``padding`` then defaults to 0, ``pool_last`` to True, ``bn_eps`` to
        1e-5).
    n_filters : int, default 50
    embedding_dim : int, default 160
    unroll : {"partial", "full"}, default "partial"
        OURS-RC (periods of ⌈η n_c⌉ merges) or OURS-SF (one period).
    eta : float, default 0.9
        Unrolling rate (0.2 for the face data sets).
    epochs_per_period : int, default 20
    K_s : int, default 20
    a : float, default 1.0
    K_c : int, default 5
    lam : float, default 1.0
    plain_from : int, default 100
        Plain A¹ merge criterion once at most this many clusters remain
        (code); 0 for the paper's criterion throughout.
    isolated_factor : float, default 20.0
        Zero-affinity merges while more than this × K clusters remain; 0 off.
    gamma : float, default 1.0
    margin : float, default 0.2
    n_negatives : int, default 20
    negatives : {"batch", "neighbours"}, default "batch"
        Pool of the negatives: other clusters in the batch (code), or only
        the K_c nearest clusters (paper's wording).
    negatives_count : {"first-draw", "clusters", "available"}, default "first-draw"
        Negatives per pair: the code as it runs, the code's intent
        (min(n_negatives, clusters in the batch - 1)), or min(n_negatives,
        candidates in the batch).  See the module docstring.
    triplet_gradient : {"loss", "torch7"}, default "loss"
        Back-propagate the loss (paper), or the authors' criterion's
        gradients (only anchors learn at gamma = 1).
    step_without_triplets : bool, default True
        Call the optimiser on a batch without triplets too (zero gradient;
        weight decay and momentum still act), as the code does.
    batch_size : int, default 100
    lr : float, default 0.01
    lr_gamma : float, default 1e-4
    lr_power : float, default 0.75
        lr_t = lr · (1 + lr_gamma · t)^(-lr_power).
    momentum : float, default 0.9
    dampening : float or None, default None
        Momentum dampening; None = ``momentum`` (Torch7's ``optim.sgd``, the
        authors' code); 0 = PyTorch's default.
    weight_decay : float, default 5e-5
    init_std : float, default 0.01
    knn_block_size : int, default 4096
    random_state : int, default 0
    device : str, default "auto"
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the CNN's forward and backward passes
        (:mod:`mmclust.nn.precision`; features come back as float32 before the
        triplet loss and the agglomeration); set by the workflow's top-level
        ``precision`` key.  :func:`extract_layer` (features of a trained CNN
        for another input) always computes in float32.
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, embedding_dim), final CNN features
    history_ : list of dict per period: period, n_clusters (clusters whose
        labels the CNN was trained on; after the merges of that period),
        loss (mean triplet loss over the period's batches with triplets, nan
        when none), n_triplets, trained (bool)
    n_initial_clusters_ : int, 1-NN clusters of the pixels
    convergence_ : dict, label-free record of the run: converged (the final
        re-clustering reached n_clusters), rule, periods (training periods
        run), epochs_per_period, epochs, final_loss (mean triplet loss of the
        last trained period; None when it had no triplet), n_clusters (final),
        n_initial_clusters, n_triplets (over the whole run)
    module_ : JuleCNN
    """

    def __init__(
        self,
        n_clusters: int = 10,
        image_shape: tuple[int, int, int] | None = None,
        arch: str | None = "mnist",
        n_blocks: int | None = None,
        padding: int | None = None,
        pool_last: bool | None = None,
        bn_eps: float | None = None,
        n_filters: int = 50,
        embedding_dim: int = 160,
        unroll: str = "partial",
        eta: float = 0.9,
        epochs_per_period: int = 20,
        K_s: int = 20,
        a: float = 1.0,
        K_c: int = 5,
        lam: float = 1.0,
        plain_from: int = 100,
        isolated_factor: float = 20.0,
        gamma: float = 1.0,
        margin: float = 0.2,
        n_negatives: int = 20,
        negatives: str = "batch",
        negatives_count: str = "first-draw",
        triplet_gradient: str = "loss",
        step_without_triplets: bool = True,
        batch_size: int = 100,
        lr: float = 0.01,
        lr_gamma: float = 1e-4,
        lr_power: float = 0.75,
        momentum: float = 0.9,
        dampening: float | None = None,
        weight_decay: float = 5e-5,
        init_std: float = 0.01,
        knn_block_size: int = 4096,
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.image_shape = image_shape
        self.arch = arch
        self.n_blocks = n_blocks
        self.padding = padding
        self.pool_last = pool_last
        self.bn_eps = bn_eps
        self.n_filters = n_filters
        self.embedding_dim = embedding_dim
        self.unroll = unroll
        self.eta = eta
        self.epochs_per_period = epochs_per_period
        self.K_s = K_s
        self.a = a
        self.K_c = K_c
        self.lam = lam
        self.plain_from = plain_from
        self.isolated_factor = isolated_factor
        self.gamma = gamma
        self.margin = margin
        self.n_negatives = n_negatives
        self.negatives = negatives
        self.negatives_count = negatives_count
        self.triplet_gradient = triplet_gradient
        self.step_without_triplets = step_without_triplets
        self.batch_size = batch_size
        self.lr = lr
        self.lr_gamma = lr_gamma
        self.lr_power = lr_power
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.init_std = init_std
        self.knn_block_size = knn_block_size
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose

    # -- set-up ------------------------------------------------------------------------------
    def _shape(self, d: int) -> tuple[int, int, int]:
        if self.image_shape is not None:
            shape = tuple(int(v) for v in self.image_shape)
            if len(shape) != 3 or math.prod(shape) != d:
                raise ValueError(
                    f"image_shape {self.image_shape} does not match rows of {d} values; "
                    "give (C, H, W) with C*H*W equal to the number of columns"
                )
            return shape  # type: ignore[return-value]
        side = math.isqrt(d)
        if side * side != d:
            raise ValueError(
                f"cannot infer a square grey image from {d} values; set image_shape=(C, H, W)"
            )
        return (1, side, side)

    def _architecture(self) -> tuple[int, int, bool, float]:
        if self.arch is not None:
            if self.arch not in ARCHITECTURES:
                raise ValueError(
                    f"unknown arch {self.arch!r}; use one of {sorted(ARCHITECTURES)} or None "
                    "with n_blocks"
                )
            blocks, pad, pool, eps = ARCHITECTURES[self.arch]
        elif self.n_blocks is None:
            raise ValueError("arch is None: give n_blocks (and optionally padding, pool_last)")
        else:
            blocks, pad, pool, eps = self.n_blocks, 0, True, 1e-5
        if self.n_blocks is not None:
            blocks = self.n_blocks
        if self.padding is not None:
            pad = self.padding
        if self.pool_last is not None:
            pool = self.pool_last
        if self.bn_eps is not None:
            eps = self.bn_eps
        return int(blocks), int(pad), bool(pool), float(eps)

    def _check(self) -> None:
        if self.unroll not in ("partial", "full"):
            raise ValueError(f"unroll must be 'partial' or 'full', got {self.unroll!r}")
        if self.negatives not in ("batch", "neighbours"):
            raise ValueError(f"negatives must be 'batch' or 'neighbours', got {self.negatives!r}")
        if self.unroll == "partial" and not 0 < self.eta <= 1:
            raise ValueError(f"eta must be in (0, 1], got {self.eta}")
        if self.negatives_count not in NEGATIVE_COUNTS:
            raise ValueError(
                f"negatives_count must be one of {', '.join(NEGATIVE_COUNTS)}, "
                f"got {self.negatives_count!r}"
            )
        if self.triplet_gradient not in TRIPLET_GRADIENTS:
            raise ValueError(
                f"triplet_gradient must be one of {', '.join(TRIPLET_GRADIENTS)}, "
                f"got {self.triplet_gradient!r}"
            )
        if self.dampening is not None and not 0 <= self.dampening <= 1:
            raise ValueError(f"dampening must be None or in [0, 1], got {self.dampening}")

    def _dampening(self) -> float:
        """The dampening used: ``momentum`` when None (Torch7's optim.sgd)."""
        return float(self.momentum if self.dampening is None else self.dampening)

    def _optimizer(self, params: Any) -> torch.optim.Optimizer:
        """SGD with the estimator's momentum, dampening and weight decay.

        PyTorch's ``dampening`` has the meaning of Torch7's (buffer ← μ·buffer
        + (1 - d)·g, the first buffer being g).  Built by
        :func:`~mmclust.nn.utils.make_optimizer`: torch's fused SGD kernel
        where the device has one, which applies the dampening and weight
        decay exactly as the per-tensor loop does.
        """
        return make_optimizer(
            "sgd",
            params,
            self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            dampening=self._dampening(),
        )

    def _engine(self, feats: np.ndarray, labels: np.ndarray | None) -> GDLAgglomeration:
        graph = build_graph(
            feats, self.K_s, self.a, device=self._device, block_size=self.knn_block_size
        )
        if labels is None:
            labels = initial_clusters(graph.indices)
        return GDLAgglomeration(
            graph, labels, K_c=self.K_c, lam=self.lam, plain_from=self.plain_from, features=feats
        )

    def _period_merges(self, engine: GDLAgglomeration) -> None:
        """The zero-affinity step, then this period's merges."""
        K = self.n_clusters
        if self.isolated_factor and engine.n_clusters > self.isolated_factor * K:
            engine.merge_isolated()
        m = engine.n_clusters
        steps = m - K if self.unroll == "full" else min(math.ceil(self.eta * m), m - K)
        if steps > 0:
            engine.run(n_merges=steps, progress=self.verbose)

    @torch.no_grad()
    def _features(self, module: nn.Module, images: torch.Tensor) -> np.ndarray:
        module.eval()
        forward = Precision(self.precision, images.device).wrap(module)
        return batched(forward, images, batch_size=self.batch_size).cpu().numpy()

    # -- training ----------------------------------------------------------------------------
    def _train(
        self,
        module: nn.Module,
        opt: torch.optim.Optimizer,
        images: torch.Tensor,
        labels: np.ndarray,
        neighbours: np.ndarray | None,
        gen: torch.Generator,
        period: int,
    ) -> tuple[float, int]:
        n = images.shape[0]
        y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        nb_all = torch.from_numpy(neighbours) if neighbours is not None else None
        losses: list[float] = []
        n_trip = 0
        prec = Precision(self.precision, images.device)
        forward = prec.wrap(module)
        module.train()
        bar = tqdm(
            range(self.epochs_per_period),
            desc=f"JULE period {period}",
            disable=not self.verbose,
            mininterval=1.0,
        )
        for _epoch in bar:
            for idx in minibatches(n, self.batch_size, gen):
                lr = self.lr * (1.0 + self.lr_gamma * self._iter) ** (-self.lr_power)
                for group in opt.param_groups:
                    group["lr"] = lr
                self._iter += 1
                y = y_all[idx]
                allowed = None
                if nb_all is not None:
                    allowed = (nb_all[y][:, :, None] == y[None, None, :]).any(1)
                a, p, neg = sample_triplets(
                    y, self.n_negatives, gen, allowed, count=self.negatives_count
                )
                x = images[idx.to(images.device)]
                if a.numel() == 0:
                    if not self.step_without_triplets:
                        with torch.no_grad():
                            forward(x)  # batch-norm statistics, as a forward pass in the code
                        continue
                    # as the code: a forward pass, a zero gradient, an optimiser step
                    opt.zero_grad(set_to_none=True)
                    prec.backward(forward(x).sum() * 0.0)
                    opt.step()
                    continue
                dev = images.device
                f = forward(x)
                a, p, neg = a.to(dev), p.to(dev), neg.to(dev)
                loss = weighted_triplet_loss(f, a, p, neg, self.gamma, self.margin)
                opt.zero_grad(set_to_none=True)
                if self.triplet_gradient == "torch7":
                    prec.backward(torch7_triplet_surrogate(f, a, p, neg, self.gamma, self.margin))
                else:
                    prec.backward(loss)
                opt.step()
                losses.append(float(loss.detach()))
                n_trip += int(a.numel())
            if losses:
                bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        bar.close()
        return (float(np.mean(losses)) if losses else float("nan")), n_trip

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: Any = None) -> JULE:
        check_input(X, self.n_clusters, type(self).__name__)
        self._check()
        X = np.ascontiguousarray(X, dtype=np.float32)
        n, d = X.shape
        shape = self._shape(d)
        blocks, pad, pool, eps = self._architecture()
        self._device = resolve_device(self.device)
        Precision(self.precision, self._device).log("JULE")
        gen = seed_everything(self.random_state)
        module = JuleCNN(shape, blocks, pad, pool, eps, self.n_filters, self.embedding_dim)
        init_gen = torch.Generator().manual_seed(self.random_state)
        with torch.no_grad():
            for mod in module.modules():
                if isinstance(mod, (nn.Conv2d, nn.Linear)):
                    mod.weight.normal_(0.0, self.init_std, generator=init_gen)
                    mod.bias.zero_()
        module = module.to(self._device)
        opt = self._optimizer(module.parameters())
        images = as_tensor(X, self._device).view(n, *shape)
        self._iter = 0
        K = self.n_clusters
        self.history_: list[dict[str, Any]] = []

        # period 0: 1-NN clusters of the L2-normalised pixels (merged to K at once for "full")
        pixels = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        engine = self._engine(pixels, None)
        self.n_initial_clusters_ = engine.n_clusters
        if engine.n_clusters < K:
            log.warning(
                "only %d initial clusters for %d wanted: JULE only merges, so fewer "
                "clusters than n_clusters will be returned",
                engine.n_clusters,
                K,
            )
        if self.unroll == "full":
            self._period_merges(engine)
        period = 0
        while True:
            labels = engine.labels_
            m = engine.n_clusters
            if period > 0 and m <= K:
                entry = dict(period=period, n_clusters=m, loss=float("nan"), n_triplets=0)
                self.history_.append({**entry, "trained": False})
                break
            neighbours = engine.top_affinities()[1] if self.negatives == "neighbours" else None
            loss, n_trip = self._train(module, opt, images, labels, neighbours, gen, period)
            self.history_.append(
                dict(period=period, n_clusters=m, loss=loss, n_triplets=n_trip, trained=True)
            )
            log.info("JULE period %d: %d clusters, loss %.4f", period, m, loss)
            if self.unroll == "full" or m <= K:
                break
            period += 1
            engine = self._engine(self._features(module, images), labels)
            self._period_merges(engine)

        # final: the whole agglomeration again on the learned features, without training
        feats = self._features(module, images)
        engine = self._engine(feats, None)
        if self.unroll == "full":
            self._period_merges(engine)
        else:
            agglomerate(
                engine,
                K,
                eta=self.eta,
                isolated_factor=self.isolated_factor,
                progress=self.verbose,
            )
        self.labels_ = engine.labels_
        self.embedding_ = feats
        self.module_ = module
        self._shape_ = shape
        self.convergence_ = self._convergence_record(engine.n_clusters)
        log.info("JULE: %d clusters after the final re-clustering", engine.n_clusters)
        return self

    def _convergence_record(self, final_clusters: int) -> dict[str, Any]:
        trained = [h for h in self.history_ if h["trained"]]
        last = trained[-1]["loss"] if trained else float("nan")
        return {
            "converged": bool(final_clusters == self.n_clusters),
            "rule": (
                "the final re-clustering of the learned features reached n_clusters "
                "(JULE merges down to it; it fails only when the 1-NN initialisation gives "
                "fewer clusters or no merge is left)"
            ),
            "periods": len(trained),
            "epochs_per_period": int(self.epochs_per_period),
            "epochs": len(trained) * int(self.epochs_per_period),
            "final_loss": None if math.isnan(last) else float(last),
            "n_clusters": int(final_clusters),
            "n_initial_clusters": int(self.n_initial_clusters_),
            "n_triplets": int(sum(h["n_triplets"] for h in self.history_)),
        }

    def transform(self, X: np.ndarray, layer: str = "top") -> np.ndarray:
        """CNN features of new images (rows of ``image_shape``) at ``layer``.

        "top" (default) is the 160-d L2-normalised output (``embedding_`` for
        the training images); "top-1" and "top-2" are the flattened,
        L2-normalised outputs of the last and second-to-last conv blocks.
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != math.prod(self._shape_):
            raise ValueError(
                f"rows of {math.prod(self._shape_)} values (images {self._shape_}) expected, "
                f"got an array of shape {X.shape}; use extract_layer for images of another size"
            )
        images = torch.from_numpy(X).view(X.shape[0], *self._shape_)
        return _layer_features(
            self.module_, images, layer, self.batch_size, self._device,
            Precision(self.precision, self._device),
        )  # fmt: skip

    def network_state(self) -> dict[str, Any]:
        """What :func:`load_network` needs to rebuild the trained CNN (weights on the CPU)."""
        return {
            "class": "JuleCNN",
            "config": dict(self.module_.config),
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
        }


# -- transfer: a trained CNN applied to other images --------------------------------------------

#: ITU-R BT.601 luma weights (RGB -> grey)
_LUMA = (0.299, 0.587, 0.114)


def to_image_shape(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Images (n, C, H, W) converted to ``shape`` = (C', H', W').

    Grey images (C = 1) are repeated to C' channels; RGB images (C = 3) become
    one luminance channel (0.299 R + 0.587 G + 0.114 B) when C' = 1.  The size
    is changed with bilinear interpolation (``F.interpolate``,
    ``align_corners=False``, antialiased so that shrinking averages instead of
    skipping pixels).  Images already of ``shape`` are returned unchanged.
    """
    c, h, w = (int(v) for v in shape)
    if x.ndim != 4:
        raise ValueError(f"images (n, C, H, W) expected, got a tensor of shape {tuple(x.shape)}")
    if x.shape[1] != c:
        if x.shape[1] == 1:
            x = x.expand(-1, c, -1, -1)
        elif x.shape[1] == 3 and c == 1:
            luma = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            x = (x * luma).sum(1, keepdim=True)
        else:
            raise ValueError(
                f"cannot convert images of {x.shape[1]} channels to {c}: grey (1) to any "
                "and RGB (3) to grey (1) are supported"
            )
    if tuple(x.shape[2:]) != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous()


def load_network(model: str | Any, device: str | torch.device = "cpu") -> JuleCNN:
    """The trained CNN of a JULE run, in evaluation mode on ``device``.

    ``model`` is the run's ``model.pt`` (path or its loaded dictionary, as the
    ``cluster`` command writes it) or :meth:`JULE.network_state`'s dictionary.
    """
    state = model
    if not isinstance(model, dict):
        from mmclust.fitting import read_model

        state = read_model(model)
    if "network" in state:
        if state["network"] is None:
            raise ValueError(
                f"{model if not isinstance(model, dict) else 'the model'} holds no network: "
                f"estimator {state.get('estimator')!r} saves its parameters only; "
                "features can be extracted from a JULE run's model.pt"
            )
        state = state["network"]
    if state.get("class") != "JuleCNN":
        raise ValueError(f"not a JULE CNN: network class {state.get('class')!r}")
    cfg = dict(state["config"])
    net = JuleCNN(tuple(cfg.pop("image_shape")), **cfg)
    net.load_state_dict(state["state_dict"])
    return net.to(resolve_device(device)).eval()


@torch.no_grad()
def _layer_features(
    net: JuleCNN,
    images: np.ndarray | torch.Tensor,
    layer: str,
    batch_size: int,
    device: torch.device,
    precision: Precision | None = None,
) -> np.ndarray:
    net.layer_dim(layer)  # a bad layer name fails before any work
    net.eval()
    prec = precision or Precision("fp32", device)
    images = torch.as_tensor(images, dtype=torch.float32)
    out = [np.zeros((0, net.layer_dim(layer)), dtype=np.float32)]
    for i in range(0, images.shape[0], batch_size):
        x = to_image_shape(images[i : i + batch_size].to(device), net.image_shape)
        out.append(prec.run(net.layer_output, x, layer).cpu().numpy())
    return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)


def extract_layer(
    model: str | Any,
    images: np.ndarray | torch.Tensor,
    layer: str = "top",
    device: str | torch.device = "auto",
    batch_size: int = 256,
) -> np.ndarray:
    """Features (n, d) of ``images`` at ``layer`` of a trained JULE CNN.

    ``model`` is a :class:`JuleCNN` or what :func:`load_network` reads;
    ``images`` are (n, C, H, W) channel-first, or (n, H, W) grey, scaled as
    the network's training images were.  Images of another size or channel
    count are first converted to the network's input shape
    (:func:`to_image_shape`).  ``layer``: "top" (the 160-d L2-normalised
    output), "top-1" / "top-2" (the last / second-to-last conv block's output,
    flattened and L2-normalised).  Returns float32.
    """
    dev = resolve_device(device)
    net = model.to(dev) if isinstance(model, JuleCNN) else load_network(model, dev)
    images = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if images.ndim == 3:
        images = images[:, None]
    return _layer_features(net, images, layer, batch_size, dev)
