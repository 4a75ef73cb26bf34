"""DCCA: deep canonical correlation analysis, then k-means on the canonical variates.

Andrew, Arora, Bilmes & Livescu, "Deep Canonical Correlation Analysis",
ICML 2013.  The JECL table's "DCCA + KM" row.

Model
    Two networks f1 (view 0) and f2 (view 1) with o outputs each are trained
    to maximise the total canonical correlation of their outputs H1, H2
    (m x o, centred over the m training pairs):

        S11 = H1'H1 / (m - 1) + r1 I,  S22 = H2'H2 / (m - 1) + r2 I,  S12 = H1'H2 / (m - 1)
        T = S11^-1/2 S12 S22^-1/2
        corr(H1, H2) = sum of the top ``n_components`` singular values of T

    (all o of them by default: the trace norm of T, the paper's objective).
    :func:`cca_correlation` computes it differentiably; gradients flow
    through the symmetric eigendecompositions and the singular values.
    After training, linear CCA (same ridge) of the outputs of all training
    pairs gives the projections; the representation of a sample is its
    canonical variates in both views.

Training, as in the paper: pretraining, then fine-tuning
    1. Pretraining (``pretrain=True``, :func:`pretrain_network`).  Each
       network is initialised greedily, layer by layer from the input, as
       denoising autoencoders: the layer's input X (the view passed through
       the layers below, centred) is corrupted to X~, and the layer (W, b)
       minimises the squared error ||X - W' s(W X~ + b)||^2 of the tied-weight
       reconstruction (s the layer's nonlinearity); its codes s(W X + b) are
       the next layer's input.  The centring is folded into b afterwards.
    2. Fine-tuning: the whole of both networks maximises the total
       correlation, by full-batch L-BFGS as in the paper
       (``optimizer="lbfgs"``, the default) or by Adam over mini-batches or
       the full batch (``optimizer="adam"``).

Choices the paper leaves open here (each a parameter)
    * Architecture: the paper tunes depth and width per data set; default two
      hidden layers of 1024 units and o = 50 outputs (the paper's MNIST output
      size).  The nonlinearity defaults to the paper's modified cube root
      s = g^-1, g(y) = y^3/3 + y (``activation="cuberoot"``).  The output
      layer is linear here (the paper applies s to it too); CCA of the outputs
      is invariant to their invertible linear maps, not to s.
    * Pretraining: the paper adds Gaussian noise of variance sigma_a^2, puts
      a ridge lambda_a ||W||^2 on each layer, chooses both on held-out data
      and minimises with L-BFGS.  Here: Gaussian noise of standard deviation
      ``pretrain_noise`` = 0.2 (the inputs are standardised by the workflow)
      or masking noise (``pretrain_noise_type="masking"``: each entry zeroed,
      i.e. set to its mean, with that probability); the project's denoising
      trainer (:func:`mmclust.nn.autoencoder.pretrain_layer`: Adam, lr
      ``pretrain_lr``, mini-batches of ``pretrain_batch_size``,
      ``pretrain_epochs`` = 50 epochs per layer) instead of L-BFGS; lambda_a
      as Adam's weight decay ``pretrain_weight_decay``, 0 by default.  The
      linear output layer is pretrained the same way with s the identity.
      Each network pretrains on every sample that has its view, complete
      pair or not.
    * Fine-tuning: r1 = r2 = 1e-4, no weight decay (the paper selects both on
      held-out data).  L-BFGS: strong-Wolfe line search, history 10,
      ``max_iter`` iterations (Adam: ``max_iter`` epochs).
    * ``pretrain=False`` starts from PyTorch's default initialisation.
    * Only samples with both views fine-tune the networks.  ``embedding_`` is
      the concatenation [u1, u2] of the top ``n_components`` canonical
      variates of both views (2 x ``n_components`` columns).  A sample missing
      view 1 gets u2 = rho * u1 (rho the canonical correlations: the
      least-squares prediction of the whitened variates), and vice versa; no
      paper specifies this.
    * k-means++ with ``kmeans_n_init`` restarts on ``embedding_``.

No label is ever read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from tqdm.auto import tqdm

from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.deep.branches import encode_present, train_minibatches
from mmclust.methods.deep.vse import start_two_branch_fit
from mmclust.methods.multiview.common import kmeans_labels
from mmclust.nn.autoencoder import pretrain_layer
from mmclust.nn.utils import as_tensor, batched

log = logging.getLogger(__name__)

__all__ = [
    "DCCA",
    "cca_correlation",
    "inv_sqrt_psd",
    "linear_cca",
    "pretrain_network",
    "regularised_covariances",
]


# what the L-BFGS closure reports for a trial step where the objective is not finite
NONFINITE_LOSS = 1e30


def inv_sqrt_psd(S: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """S^-1/2 of a symmetric positive definite matrix through its eigendecomposition."""
    vals, vecs = torch.linalg.eigh((S + S.T) / 2)
    return (vecs * vals.clamp(min=eps).rsqrt()) @ vecs.T


def regularised_covariances(
    h1: torch.Tensor, h2: torch.Tensor, r1: float, r2: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(S11 + r1 I, S22 + r2 I, S12) of the centred rows of ``h1`` (m, o1) and ``h2`` (m, o2)."""
    m = h1.shape[0]
    if m < 2:
        raise ValueError("canonical correlation needs at least two pairs")
    c1 = h1 - h1.mean(dim=0, keepdim=True)
    c2 = h2 - h2.mean(dim=0, keepdim=True)
    s11 = c1.T @ c1 / (m - 1) + r1 * torch.eye(h1.shape[1], dtype=h1.dtype, device=h1.device)
    s22 = c2.T @ c2 / (m - 1) + r2 * torch.eye(h2.shape[1], dtype=h2.dtype, device=h2.device)
    s12 = c1.T @ c2 / (m - 1)
    return s11, s22, s12


def cca_correlation(
    h1: torch.Tensor,
    h2: torch.Tensor,
    r1: float = 1e-4,
    r2: float = 1e-4,
    n_components: int | None = None,
) -> torch.Tensor:
    """DCCA's objective: the sum of the top ``n_components`` singular values of T.

    T = S11^-1/2 S12 S22^-1/2 with the ridge-regularised covariances of
    :func:`regularised_covariances`; ``None`` sums all of them (the trace
    norm of T).  With r1 = r2 = 0 these singular values are the canonical
    correlations of ``h1`` and ``h2``.  Differentiable in both inputs.
    """
    s11, s22, s12 = regularised_covariances(h1, h2, r1, r2)
    t = inv_sqrt_psd(s11) @ s12 @ inv_sqrt_psd(s22)
    sv = torch.linalg.svdvals(t)
    if n_components is not None:
        sv = sv[:n_components]
    return sv.sum()


def linear_cca(
    h1: torch.Tensor, h2: torch.Tensor, r1: float, r2: float, n_components: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Regularised linear CCA: (A, B, correlations, mean1, mean2).

    With U D V' the SVD of T, A = S11^-1/2 U and B = S22^-1/2 V (top
    ``n_components`` columns); the projections (h1 - mean1) A and
    (h2 - mean2) B have regularised covariance I and cross-covariance diag(D).
    Differentiable (the CCA layer of CCAL backpropagates through it).
    """
    s11, s22, s12 = regularised_covariances(h1, h2, r1, r2)
    w1, w2 = inv_sqrt_psd(s11), inv_sqrt_psd(s22)
    u, d, vh = torch.linalg.svd(w1 @ s12 @ w2, full_matrices=False)
    k = d.shape[0] if n_components is None else min(n_components, d.shape[0])
    a = w1 @ u[:, :k]
    b = w2 @ vh[:k].T
    return a, b, d[:k], h1.mean(dim=0), h2.mean(dim=0)


def _layers(branch: torch.nn.Sequential) -> list[tuple[torch.nn.Linear, torch.nn.Module | None]]:
    """(linear layer, the activation that follows it or None) of a :func:`make_mlp` network."""
    mods = list(branch)
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, torch.nn.Linear):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            out.append((m, None if isinstance(nxt, torch.nn.Linear) else nxt))
    return out


@torch.no_grad()
def _tied_reconstruction_error(
    lin: torch.nn.Linear, act: torch.nn.Module | None, X: torch.Tensor
) -> float:
    """Mean squared error of W' s(W x + b) against x, over the rows of ``X`` (no noise)."""
    total = 0.0
    for i in range(0, X.shape[0], 4096):
        x = X[i : i + 4096]
        h = lin(x)
        h = act(h) if act is not None else h
        total += float(((h @ lin.weight - x) ** 2).sum())
    return total / X.numel()


def pretrain_network(
    branch: torch.nn.Sequential,
    X: torch.Tensor,
    generator: torch.Generator,
    *,
    epochs: int,
    noise: float,
    noise_type: str = "gaussian",
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    verbose: bool = False,
    desc: str = "DCCA pretraining",
) -> list[tuple[float, float]]:
    """Greedy layer-wise denoising-autoencoder initialisation of one DCCA network, in place.

    Layer by layer, outermost first: the layer's input (the rows of ``X``
    passed through the layers already pretrained) is centred, and the layer
    (W, b) is trained as a denoising autoencoder with tied weights,
    reconstruction W' s(W x~ + b) of the clean centred input x from its
    corrupted copy x~ (s the layer's nonlinearity, the identity for the
    linear output layer), by :func:`mmclust.nn.autoencoder.pretrain_layer`.
    The centring is then folded into the bias (b <- b - W mean), so the
    network applies to uncentred inputs unchanged.

    Returns, per layer, the clean reconstruction error (mean squared error)
    before and after the layer's pretraining.
    """
    errors: list[tuple[float, float]] = []
    codes = X
    layers = _layers(branch)
    for depth, (lin, act) in enumerate(layers):
        mean = codes.mean(dim=0)
        centred = codes - mean
        before = _tied_reconstruction_error(lin, act, centred)
        pretrain_layer(
            lin,
            centred,
            generator,
            activation=act,
            dec=None,
            epochs=epochs,
            noise=noise,
            noise_type=noise_type,
            batch_size=batch_size,
            optimizer="adam",
            lr=lr,
            weight_decay=weight_decay,
            verbose=verbose,
            desc=f"{desc} {depth + 1}/{len(layers)}",
        )
        after = _tied_reconstruction_error(lin, act, centred)
        errors.append((before, after))
        log.debug("%s layer %d: reconstruction error %.4g -> %.4g", desc, depth + 1, before, after)
        with torch.no_grad():
            lin.bias -= lin.weight @ mean

        def encode(x: torch.Tensor, lin: torch.nn.Linear = lin, act=act) -> torch.Tensor:
            h = lin(x)
            return act(h) if act is not None else h

        if depth < len(layers) - 1:
            codes = batched(encode, codes)
    return errors


def canonical_embedding(
    views: list[np.ndarray],
    masks: list[np.ndarray],
    branches: tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]],
    proj: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    device: torch.device,
    normalise: bool,
) -> np.ndarray:
    """[u1, u2] for every sample; a missing view's variates are rho times the other's."""
    a, b, rho, m1, m2 = proj
    n = views[0].shape[0]
    k = rho.shape[0]
    us = []
    for branch, X, mask, w, mean in zip(branches, views, masks, (a, b), (m1, m2), strict=True):
        idx, out = encode_present(branch, X, mask, device)
        u = np.zeros((n, k))
        u[idx] = (out - mean) @ w
        us.append(u)
    u1, u2 = us
    u1[~masks[0]] = rho * u2[~masks[0]]
    u2[~masks[1]] = rho * u1[~masks[1]]
    if normalise:
        u1 /= np.maximum(np.linalg.norm(u1, axis=1, keepdims=True), 1e-12)
        u2 /= np.maximum(np.linalg.norm(u2, axis=1, keepdims=True), 1e-12)
    return np.hstack([u1, u2]).astype(np.float32)


@torch.no_grad()
def fit_projections(
    branches: tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]],
    x1: torch.Tensor,
    x2: torch.Tensor,
    r1: float,
    r2: float,
    n_components: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linear CCA (float64) of the branch outputs of all training pairs."""
    b1, b2 = branches
    h1 = torch.cat([b1(x1[i : i + 4096]) for i in range(0, x1.shape[0], 4096)])
    h2 = torch.cat([b2(x2[i : i + 4096]) for i in range(0, x2.shape[0], 4096)])
    out = linear_cca(h1.double(), h2.double(), r1, r2, n_components)
    return tuple(t.cpu().numpy() for t in out)  # type: ignore[return-value]


class CanonicalEmbeddingMixin:
    """The end shared by DCCA and CCAL: linear CCA on the two branches' outputs.

    ``_project_and_cluster`` fits the projections on the complete pairs
    ``x1``, ``x2``, embeds every sample (:func:`canonical_embedding`, its rows
    L2-normalised when ``normalise_embedding``) and runs k-means on it;
    ``transform`` embeds new samples the same way.
    """

    normalise_embedding = False

    def _branches(self) -> tuple[Any, Any]:
        """The two branches as the embedding computes them (DCCA: the networks in float32;
        CCAL: with its ``precision``)."""
        return self.module_.branch1, self.module_.branch2

    def _project_and_cluster(
        self,
        views: Sequence[np.ndarray],
        masks: Sequence[np.ndarray],
        x1: torch.Tensor,
        x2: torch.Tensor,
        device: torch.device,
    ) -> None:
        self.projections_ = fit_projections(
            self._branches(), x1, x2, self.r1, self.r2, self.n_components
        )
        self.correlations_ = self.projections_[2]
        self.embedding_ = self._embed(views, masks, device)
        self.labels_, self.cluster_centers_ = kmeans_labels(
            self.embedding_, self.n_clusters, self.kmeans_n_init, self.random_state
        )

    def _embed(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray], device: torch.device
    ) -> np.ndarray:
        return canonical_embedding(
            views,
            masks,
            self._branches(),
            self.projections_,
            device,
            normalise=self.normalise_embedding,
        )

    def transform(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """The embedding of new samples (canonical variates [u1, u2]; CCAL: normalised)."""
        views, masks = check_views(views, masks, n_views=2)
        return self._embed(views, masks, next(self.module_.parameters()).device)


class DCCA(CanonicalEmbeddingMixin, MultiViewMixin, ClusterMixin, BaseEstimator):
    """Deep CCA of two views followed by k-means on the canonical variates.

    Parameters
    ----------
    n_clusters : int, default 10
    hidden_dims : sequence of int, default (1024, 1024)
    out_dim : int, default 50
        Outputs o of each network.
    activation : {"cuberoot", "sigmoid", "tanh", "relu"}, default "cuberoot"
    r1, r2 : float, default 1e-4
        Ridge added to the covariance of each view's outputs.
    n_components : int or None, default None
        Singular values summed in the objective and canonical variates kept
        per view; None means all ``out_dim``.
    optimizer : {"lbfgs", "adam"}, default "lbfgs"
    max_iter : int, default 100
        L-BFGS iterations, or Adam epochs.
    lr : float or None, default None
        None means 1.0 for L-BFGS, 1e-3 for Adam.
    batch_size : int or None, default None
        Adam only; None means full batch.
    weight_decay : float, default 0.0
        Squared L2 norm of the weights added to the loss.
    pretrain : bool, default True
        Initialise each network layer-wise as denoising autoencoders (see the
        module docstring); False keeps PyTorch's random initialisation.
    pretrain_epochs : int, default 50
        Adam epochs per layer.
    pretrain_noise : float, default 0.2
        Corruption level: Gaussian standard deviation, or masking probability.
    pretrain_noise_type : {"gaussian", "masking"}, default "gaussian"
    pretrain_lr : float, default 1e-3
    pretrain_batch_size : int, default 256
    pretrain_weight_decay : float, default 0.0
        L2 penalty (Adam's weight decay) on the weight matrices while pretraining.
    kmeans_n_init : int, default 20
    random_state : int, default 0
    device : str, default "auto"
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, 2 * n_components)
    correlations_ : ndarray, canonical correlations of the training pairs' outputs
    projections_ : tuple (A, B, correlations, mean1, mean2) of the final linear CCA
    history_ : list of float, objective (total correlation) during training
    cluster_centers_ : ndarray
    module_ : the trained networks (``branch1``, ``branch2``)
    pretrain_errors_ : list (per view) of lists (per layer) of (before, after)
        Clean reconstruction error of each layer's denoising autoencoder before
        and after its pretraining (empty lists when ``pretrain`` is False).
    """

    def __init__(
        self,
        n_clusters: int = 10,
        hidden_dims: Sequence[int] = (1024, 1024),
        out_dim: int = 50,
        activation: str = "cuberoot",
        r1: float = 1e-4,
        r2: float = 1e-4,
        n_components: int | None = None,
        optimizer: str = "lbfgs",
        max_iter: int = 100,
        lr: float | None = None,
        batch_size: int | None = None,
        weight_decay: float = 0.0,
        pretrain: bool = True,
        pretrain_epochs: int = 50,
        pretrain_noise: float = 0.2,
        pretrain_noise_type: str = "gaussian",
        pretrain_lr: float = 1e-3,
        pretrain_batch_size: int = 256,
        pretrain_weight_decay: float = 0.0,
        kmeans_n_init: int = 20,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.hidden_dims = hidden_dims
        self.out_dim = out_dim
        self.activation = activation
        self.r1 = r1
        self.r2 = r2
        self.n_components = n_components
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_noise = pretrain_noise
        self.pretrain_noise_type = pretrain_noise_type
        self.pretrain_lr = pretrain_lr
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_weight_decay = pretrain_weight_decay
        self.kmeans_n_init = kmeans_n_init
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _loss(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        h1, h2 = self.module_.branch1(a), self.module_.branch2(b)
        loss = -cca_correlation(h1, h2, self.r1, self.r2, self.n_components)
        if self.weight_decay > 0:
            loss = loss + self.weight_decay * sum(
                p.pow(2).sum() for name, p in self.module_.named_parameters() if "weight" in name
            )
        return loss

    def fit(
        self, views: Sequence[np.ndarray], y: Any = None, masks: Sequence[np.ndarray] | None = None
    ) -> DCCA:
        views, masks = check_views(views, masks, n_views=2)
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; use 'lbfgs' or 'adam'")
        if self.n_components is not None and self.n_components > self.out_dim:
            raise ValueError("n_components cannot exceed out_dim")
        device, gen, _, x1, x2 = start_two_branch_fit(self, views, masks, self.out_dim)
        self.pretrain_errors_: list[list[tuple[float, float]]] = [[], []]
        if self.pretrain and self.pretrain_epochs > 0:
            for v, branch in enumerate((self.module_.branch1, self.module_.branch2)):
                # every sample that has the view, not only the complete pairs
                self.pretrain_errors_[v] = pretrain_network(
                    branch,
                    as_tensor(views[v][masks[v]], device),
                    gen,
                    epochs=self.pretrain_epochs,
                    noise=self.pretrain_noise,
                    noise_type=self.pretrain_noise_type,
                    batch_size=self.pretrain_batch_size,
                    lr=self.pretrain_lr,
                    weight_decay=self.pretrain_weight_decay,
                    verbose=self.verbose,
                    desc=f"DCCA pretraining view {v}, layer",
                )
        self.module_.train()
        if self.optimizer == "lbfgs":
            self.history_ = self._fit_lbfgs(x1, x2)
        else:
            bs = self.batch_size or x1.shape[0]
            losses = train_minibatches(
                list(self.module_.parameters()),
                self._loss,
                x1,
                x2,
                batch_size=bs,
                max_epochs=self.max_iter,
                lr=self.lr or 1e-3,
                generator=gen,
                grad_clip=None,
                verbose=self.verbose,
                desc="DCCA",
                min_batch=max(2, self.out_dim + 1),
            )
            self.history_ = [-v for v in losses]
        self.module_.eval()
        self._project_and_cluster(views, masks, x1, x2, device)
        return self

    def _fit_lbfgs(self, x1: torch.Tensor, x2: torch.Tensor) -> list[float]:
        chunk = 10
        opt = torch.optim.LBFGS(
            self.module_.parameters(),
            lr=self.lr or 1.0,
            max_iter=chunk,
            history_size=10,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-7,
            tolerance_change=1e-10,
        )

        params = list(self.module_.parameters())

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            try:
                loss = self._loss(x1, x2)
            except torch.linalg.LinAlgError:
                loss = None
            if loss is None or not torch.isfinite(loss):
                # a line-search trial step too long for the unbounded output
                # layer: report a huge loss with a zero gradient, so that the
                # strong-Wolfe search shortens the step instead of failing
                for p in params:
                    p.grad = torch.zeros_like(p)
                return torch.tensor(NONFINITE_LOSS, dtype=x1.dtype, device=x1.device)
            loss.backward()
            return loss

        history: list[float] = []
        n_chunks = math.ceil(self.max_iter / chunk)
        bar = tqdm(range(n_chunks), desc="DCCA", disable=not self.verbose, mininterval=1.0)
        for i in bar:
            opt.param_groups[0]["max_iter"] = min(chunk, self.max_iter - i * chunk)
            loss = opt.step(closure)
            history.append(-float(loss.detach()))
            bar.set_postfix(corr=f"{history[-1]:.4f}")
            if not math.isfinite(history[-1]) or loss >= NONFINITE_LOSS:
                raise FloatingPointError(
                    "DCCA's objective became non-finite: standardise the views or raise r1/r2"
                )
        with torch.no_grad():
            history.append(-float(self._loss(x1, x2)))
        return history
