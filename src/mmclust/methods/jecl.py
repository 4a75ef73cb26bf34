"""JECL: joint embedding and cluster learning for image–caption pairs.

Yang, Huang & Howe, "JECL: Joint Embedding and Cluster Learning for
Image-Text Pairs" (arXiv 1901.01860; an earlier version was titled MultiDEC).

Two encoders, one per view (image features X, caption features T), start from
their own pretrained stacked denoising autoencoders.  k-means on each initial
embedding gives the centroids μ (image) and μ' (text); the Hungarian algorithm
matches text clusters to image clusters (the permutation that maximises the
agreement of the two k-means labelings on the pairs) so that cluster j means
the same in both views.  Each view's embedding is softly assigned to its
centroids with Student's t (``alpha`` = 1): q_ij for images, r_ij for text.

Joint target, recomputed on the whole data every ``update_every_epochs``
epochs (or ``update_interval`` mini-batch iterations when that is set)::

    p_ij = λ · t(q)_ij + (1 − λ) · t(r)_ij,
    t(q)_ij = (q_ij² / Σ_i q_ij) / Σ_j' (q_ij'² / Σ_i q_ij')      (DEC's target)

Loss of a mini-batch B::

    L = L_cluster + γ · L_align + β · L_reg
    L_cluster = KL(P‖Q) + KL(P‖R)
    L_align   = JS(q_i, r_i), the Jensen–Shannon divergence of each pair
    L_reg     = KL(f_Q‖u) + KL(f_R‖u), f = the mean soft assignment over B,
                u uniform: penalises non-uniform use of the clusters

Encoders and both sets of centroids are trained jointly.  Training stops when
fewer than a fraction ``tol`` of the points changed cluster between two
target refreshes, or after ``max_epochs`` epochs; the last iterate is kept.

Choices the paper leaves open (each a parameter; see also the README):

* **Averaging.**  KL and JS terms are summed over the samples of the batch
  that have the view(s) the term needs and divided by the batch size, so the
  terms are means over the batch in which a sample lacking a view contributes
  zero.  L_reg uses the batch mean f (the MultiDEC abstract describes the
  regulariser as penalising non-uniform cluster distributions; KL(f‖u) is the
  form we chose).
* **Missing captions** (``masks``): a sample without text keeps its image
  terms; its target comes from the image view alone (p_i = t(q)_i) and its
  KL(P‖R) and JS terms are skipped, so that pairs with text weigh more in the
  gradient.  The column sums Σ_i r_ij of t(r) run over the samples that have
  text.  The same rules hold with the roles swapped for a missing image.
  A missing view is an explicit mask, never a zero vector.
* **Prediction** is the argmax of the joint target P computed on the data
  passed (the same quantity that training sharpens towards);
  ``predict_proba`` returns P.
* **Optimiser**: DEC's defaults (SGD, lr 0.01, momentum 0.9, batch 256,
  tol 0.1 %), as JECL builds on DEC and neither the paper nor any public
  source gives JECL's.
* **Target refresh**: every 0.512 epoch (``update_every_epochs``), DEC's
  140 iterations of 256 on the 70 000 MNIST digits expressed as a fraction of
  an epoch so that it means the same on 2 000 or 23 000 pairs (a fixed 140
  iterations is 18 epochs on 2 000 samples: on UCI Multiple Features 3
  refreshes in 50 epochs, 5.7 % of the labels still changing at the last,
  against DEC's 0.1 % tolerance).  ``update_interval`` keeps a fixed count of
  iterations available.  The schedule and the stopping rule are DEC's own code
  (:class:`mmclust.nn.clustering.RefreshSchedule`); ``history_`` holds the
  label change and the mean loss terms at every refresh, ``convergence_``
  whether the tol rule ended training.
* **Input scales** are the inputs' business, not the method's: JECL's soft
  assignments depend on distances in each view's embedding, and a view fed at
  a much smaller scale (Doc2Vec codes of the captioned digits: (1/d) ||x||^2
  = 0.014, against 2.7 for their pixels x 0.02, DEC's MNIST scaling) gets
  nearly flat assignments and hardly shapes the joint target.  The configurations give each view
  ``transform: unit_power`` (DEC's criterion (1/d) ||x||^2 = 1 on average, per
  view; :mod:`mmclust.features.inputs`).
* **embedding_** (for the t-SNE figure) is the concatenation of the image and
  text embeddings; a missing view's embedding is imputed by the soft-assigned
  mixture of that view's (aligned) centroids, Σ_j q_ij μ'_j.
* ``match_clusters=False`` skips the Hungarian matching (an extra switch, not
  one of the paper's ablations: "w/o alignment" is ``gamma = 0``).

No label is ever read.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin
from torch import nn

from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.deep.finetune import kmeans_on_codes, progress
from mmclust.nn.autoencoder import DenoisingAutoencoder, pretrain_autoencoder
from mmclust.nn.clustering import (
    RefreshSchedule,
    js_divergence,
    log_convergence,
    soft_assign,
    target_distribution,
    uniform_kl,
)
from mmclust.nn.precision import Precision
from mmclust.nn.utils import (
    as_tensor,
    batched,
    make_optimizer,
    minibatches,
    resolve_device,
    seed_everything,
)
from mmclust.validation import check_all_finite

log = logging.getLogger(__name__)
_EPS = 1e-12


def match_clusters(labels_ref: np.ndarray, labels_other: np.ndarray, k: int) -> np.ndarray:
    """Permutation aligning the clusters of ``labels_other`` to those of ``labels_ref``.

    Returns ``perm`` with ``perm[j]`` = the cluster of ``labels_other`` matched to
    cluster ``j`` of ``labels_ref``: the assignment maximising the number of
    samples on which the two labelings agree (Hungarian algorithm).
    """
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (labels_ref, labels_other), 1)
    rows, cols = linear_sum_assignment(-counts)
    perm = np.empty(k, dtype=np.int64)
    perm[rows] = cols
    return perm


def joint_target(
    qs: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], weights: Sequence[float]
) -> torch.Tensor:
    """JECL's joint target distribution.

    ``qs[v]`` holds the soft assignments (n_v, k) of the samples that have view
    v, ``masks[v]`` (n,) says which samples those are.  Each view's DEC target
    is computed over its own samples; a sample's joint target is the
    ``weights``-weighted mean of the targets of the views it has (weights
    renormalised over those views; equal weights if they are all zero).
    """
    n = masks[0].shape[0]
    k = qs[0].shape[1]
    num = torch.zeros(n, k, dtype=qs[0].dtype, device=qs[0].device)
    den = torch.zeros(n, 1, dtype=qs[0].dtype, device=qs[0].device)
    plain_num = torch.zeros_like(num)
    plain_den = torch.zeros_like(den)
    for q, m, w in zip(qs, masks, weights, strict=True):
        if q.shape[0] == 0:
            continue
        t = target_distribution(q)
        num[m] += w * t
        den[m] += w
        plain_num[m] += t
        plain_den[m] += 1.0
    weighted = den > 0
    return torch.where(weighted, num / den.clamp_min(_EPS), plain_num / plain_den.clamp_min(1.0))


def jecl_loss(
    p: torch.Tensor,
    qs: Sequence[torch.Tensor],
    present: Sequence[torch.Tensor | None],
    beta: float,
    gamma: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_cluster + γ L_align + β L_reg on one mini-batch of two views.

    ``p`` (b, k) is the joint target of the batch; ``qs[v]`` (b_v, k) the soft
    assignments of the batch samples that have view v, ``present[v]`` (b,)
    bool which samples those are (None: all of them).  Sums over the samples
    that have the needed views are divided by the batch size b.  Returns the
    loss and its three terms (detached).
    """
    b = p.shape[0]
    log_p = torch.log(p + _EPS)
    cluster = p.new_zeros(())
    reg = p.new_zeros(())
    for q, m in zip(qs, present, strict=True):
        if q.shape[0] == 0:
            continue
        pv, log_pv = (p, log_p) if m is None else (p[m], log_p[m])
        cluster = cluster + (pv * (log_pv - torch.log(q + _EPS))).sum() / b
        reg = reg + uniform_kl(q)
    m_img, m_txt = present
    if m_img is None and m_txt is None:
        q_img, q_txt = qs
    else:
        ones = torch.ones(b, dtype=torch.bool, device=p.device)
        m_img = ones if m_img is None else m_img
        m_txt = ones if m_txt is None else m_txt
        both = m_img & m_txt
        q_img, q_txt = qs[0][both[m_img]], qs[1][both[m_txt]]
    align = js_divergence(q_img, q_txt).sum() / b
    loss = cluster + gamma * align + beta * reg
    parts = {"cluster": cluster.detach(), "align": align.detach(), "reg": reg.detach()}
    return loss, parts


class JECL(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Joint embedding and cluster learning of two views (image, text).

    Parameters
    ----------
    n_clusters : int, default 10
    lam : float, default 0.5
        λ, weight of the image view in the joint target (1 − λ: text).
    beta : float, default 0.1
        β, weight of the uniform-usage regulariser (0: "w/o regularizer").
    gamma : float, default 0.1
        γ, weight of the Jensen–Shannon alignment (0: "w/o alignment").
    alpha : float, default 1.0
        Student's t degrees of freedom.
    update_every_epochs : float, default 0.512
        Epochs between refreshes of the joint target (rounded to whole
        mini-batch iterations; DEC's 140 iterations of 256 on MNIST-70k).
    update_interval : int or None, default None
        Mini-batch iterations between refreshes; when set, replaces
        ``update_every_epochs``.
    tol : float, default 0.001
        Stop when fewer than this fraction of the points changed cluster
        between two refreshes.
    max_epochs : int, default 200
    batch_size : int, default 256
    optimizer : {"sgd", "adam"}, default "sgd"
    lr : float, default 0.01
    momentum : float, default 0.9
        Used by SGD only.
    n_init : int, default 20
        k-means restarts for each view's initial centroids.
    match_clusters : bool, default True
        Align text clusters to image clusters with the Hungarian algorithm.
    autoencoders : [DenoisingAutoencoder, DenoisingAutoencoder] or None
        Fitted autoencoders of the image and the text view whose encoders are
        fine-tuned.  When None, both are pretrained in ``fit`` (each on the
        samples that have its view) with ``pretrain_params``.
    pretrain_params : dict or None
    random_state : int, default 0
    device : str, default "auto"
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the encoders' forward and backward passes
        (:mod:`mmclust.nn.precision`; the soft assignments, joint target and
        loss terms are float32 in every case); set by the workflow's top-level
        ``precision`` key.
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,), argmax of the joint target
    target_ : ndarray (n, k), the final joint target P
    embedding_ : ndarray (n, 2 d), image and text embeddings side by side
    cluster_centers_ : [ndarray (k, d), ndarray (k, d)], μ and μ' (aligned)
    cluster_permutation_ : ndarray (k,), the Hungarian matching applied to μ'
    n_iter_, stopped_early_, history_, convergence_ : as DEC (``history_`` also holds
        the mean loss terms between refreshes)
    """

    def __init__(
        self,
        n_clusters: int = 10,
        lam: float = 0.5,
        beta: float = 0.1,
        gamma: float = 0.1,
        alpha: float = 1.0,
        update_every_epochs: float = 0.512,
        update_interval: int | None = None,
        tol: float = 0.001,
        max_epochs: int = 200,
        batch_size: int = 256,
        optimizer: str = "sgd",
        lr: float = 0.01,
        momentum: float = 0.9,
        n_init: int = 20,
        match_clusters: bool = True,
        autoencoders: Sequence[DenoisingAutoencoder] | None = None,
        pretrain_params: dict[str, Any] | None = None,
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.lam = lam
        self.beta = beta
        self.gamma = gamma
        self.alpha = alpha
        self.update_every_epochs = update_every_epochs
        self.update_interval = update_interval
        self.tol = tol
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.n_init = n_init
        self.match_clusters = match_clusters
        self.autoencoders = autoencoders
        self.pretrain_params = pretrain_params
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose

    # -- fitting -------------------------------------------------------------------
    def _pretrained(self, views: list[np.ndarray], masks: list[np.ndarray]) -> list[nn.Module]:
        aes = self.autoencoders
        if aes is None:
            aes = [
                pretrain_autoencoder(
                    x[m],
                    self.pretrain_params,
                    self.random_state,
                    self.device,
                    self.verbose,
                    self.precision,
                )
                for x, m in zip(views, masks, strict=True)
            ]
        if len(aes) != 2:
            raise ValueError(f"JECL takes one autoencoder per view (2), got {len(aes)}")
        encoders = []
        for v, (ae, x) in enumerate(zip(aes, views, strict=True)):
            dims = ae.module_.dims
            if dims[0] != x.shape[1]:
                raise ValueError(
                    f"autoencoder {v} was trained on {dims[0]}-d inputs but view {v} is "
                    f"{x.shape[1]}-d: pretrain it on this view's features"
                )
            encoders.append(copy.deepcopy(ae.module_.encoder))
        if encoders[0][-1].out_features != encoders[1][-1].out_features:
            log.info("the two views have different embedding sizes")
        return encoders

    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> JECL:
        views, masks = check_views(views, masks, n_views=2)
        k = self.n_clusters
        for v, m in enumerate(masks):
            if m.sum() < k:
                raise ValueError(f"view {v} is present in {int(m.sum())} samples, fewer than k={k}")
        device = resolve_device(self.device)
        prec = self._prec = Precision(self.precision, device)
        prec.log("JECL")
        encoders = [e.to(device) for e in self._pretrained(views, masks)]
        gen = seed_everything(self.random_state)
        X = [as_tensor(x, device) for x in views]
        M = [torch.as_tensor(m, device=device) for m in masks]
        n = X[0].shape[0]
        weights = (self.lam, 1.0 - self.lam)

        # initial centroids: k-means on each view's pretrained embedding
        centers, km_labels = [], []
        for enc, x, m, mask in zip(encoders, X, M, masks, strict=True):
            km = kmeans_on_codes(prec.wrap(enc), x[m], k, self.n_init, self.random_state)
            centers.append(km.cluster_centers_)
            lab = np.full(n, -1, dtype=np.int64)
            lab[mask] = km.labels_
            km_labels.append(lab)
        perm = np.arange(k)
        both = masks[0] & masks[1]
        if self.match_clusters:
            if both.any():
                perm = match_clusters(km_labels[0][both], km_labels[1][both], k)
            else:
                log.warning("no sample has both views: text clusters are not matched")
        centers[1] = centers[1][perm]
        self.cluster_permutation_ = perm
        mus = [
            nn.Parameter(torch.as_tensor(c, dtype=torch.float32, device=device)) for c in centers
        ]
        params = [p for enc in encoders for p in enc.parameters()] + mus
        opt = make_optimizer(self.optimizer, params, self.lr, momentum=self.momentum)

        schedule = RefreshSchedule(
            n, self.batch_size, self.tol, self.max_epochs,
            self.update_every_epochs, self.update_interval,
        )  # fmt: skip
        stop = False
        p_all: torch.Tensor | None = None
        running = {"cluster": 0.0, "align": 0.0, "reg": 0.0, "batches": 0}
        full = [bool(m.all()) for m in masks]  # views every sample has: no row selection
        it = 0
        for enc in encoders:
            enc.train()
        bar = progress(range(self.max_epochs), "JECL", self.verbose)
        for _epoch in bar:
            for idx in minibatches(n, self.batch_size, gen):
                idx = idx.to(device)
                if schedule.due(it):
                    p_all = self._joint_target(encoders, mus, X, M, weights)
                    check_all_finite(p_all, "JECL", f"iteration {it}", "joint target")
                    losses: dict[str, float] = {}
                    if running["batches"]:
                        for key in ("cluster", "align", "reg"):
                            losses[key] = float(running[key]) / running["batches"]
                    running = {"cluster": 0.0, "align": 0.0, "reg": 0.0, "batches": 0}
                    stop = schedule.record(it, p_all.argmax(1).cpu().numpy(), **losses)
                    bar.set_postfix(delta=f"{schedule.history[-1]['delta_label']:.4f}")
                    if stop:
                        break
                assert p_all is not None
                present = [None if f else m[idx] for m, f in zip(M, full, strict=True)]
                qs = [
                    soft_assign(prec.run(enc, x[idx] if pr is None else x[idx[pr]]), mu, self.alpha)
                    for enc, mu, x, pr in zip(encoders, mus, X, present, strict=True)
                ]
                loss, parts = jecl_loss(p_all[idx], qs, present, self.beta, self.gamma)
                opt.zero_grad(set_to_none=True)
                prec.backward(loss)
                opt.step()
                for key, value in parts.items():
                    running[key] += value
                running["batches"] += 1
                it += 1
            if stop:
                break
        for enc in encoders:
            enc.eval()
        self.history_ = schedule.history
        self.stopped_early_ = schedule.converged
        self.convergence_ = schedule.convergence(it)
        log_convergence("JECL", self.convergence_)
        self.n_iter_ = it
        self.encoders_ = encoders
        self._mus = [mu.detach() for mu in mus]
        self.cluster_centers_ = [mu.cpu().numpy() for mu in self._mus]
        self.target_ = self._joint_target(encoders, self._mus, X, M, weights).cpu().numpy()
        self.labels_ = self.target_.argmax(1)
        self.embedding_ = self._embed(X, M)
        return self

    @torch.no_grad()
    def _soft(self, enc: nn.Module, mu: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        encode = self._prec.wrap(enc)
        return batched(lambda b: soft_assign(encode(b), mu, self.alpha), x)

    @torch.no_grad()
    def _joint_target(
        self,
        encoders: Sequence[nn.Module],
        mus: Sequence[torch.Tensor],
        X: Sequence[torch.Tensor],
        M: Sequence[torch.Tensor],
        weights: Sequence[float],
    ) -> torch.Tensor:
        qs = [self._soft(enc, mu, x[m]) for enc, mu, x, m in zip(encoders, mus, X, M, strict=True)]
        return joint_target(qs, M, weights)

    @torch.no_grad()
    def _embed(self, X: Sequence[torch.Tensor], M: Sequence[torch.Tensor]) -> np.ndarray:
        n = X[0].shape[0]
        zs = []
        for enc, mu, x, m in zip(self.encoders_, self._mus, X, M, strict=True):
            z = torch.zeros(n, mu.shape[1], device=x.device)
            z[m] = batched(self._prec.wrap(enc), x[m])
            zs.append(z)
        # impute a missing view from the other view's soft assignment to the
        # (aligned) centroids of the missing view
        for v in (0, 1):
            other = 1 - v
            missing = ~M[v] & M[other]
            if bool(missing.any()):
                q = soft_assign(zs[other][missing], self._mus[other], self.alpha)
                zs[v][missing] = q @ self._mus[v]
        return torch.cat(zs, dim=1).cpu().numpy()

    # -- inference -----------------------------------------------------------------
    def _tensors(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        views, masks = check_views(views, masks, n_views=2)
        device = self._mus[0].device
        return [as_tensor(x, device) for x in views], [
            torch.as_tensor(m, device=device) for m in masks
        ]

    def predict_proba(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """The joint target P of the given samples (computed over them)."""
        X, M = self._tensors(views, masks)
        weights = (self.lam, 1.0 - self.lam)
        return self._joint_target(self.encoders_, self._mus, X, M, weights).cpu().numpy()

    def predict(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        return self.predict_proba(views, masks).argmax(1)

    def transform(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        X, M = self._tensors(views, masks)
        return self._embed(X, M)

    def fit_predict(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        return self.fit(views, masks=masks).labels_
