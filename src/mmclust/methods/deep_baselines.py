"""The deep single-input baselines of the DM2C paper's Tables 3 and 4: DKM, DCN, IMSAT.

All three are scikit-learn style clusterers: ``fit(X)`` on one float32 matrix
(n, d), then ``labels_`` and ``embedding_``; ``predict(X)`` assigns new rows.
No label is ever read.

DKM (Deep k-Means; Moradi Fard, Thonet & Gaussier, Pattern Recognition
Letters 2020)
    Autoencoder and cluster representatives r_k are optimised jointly by
    gradient descent on

        L = ||x - A(x)||² + λ Σ_k ||h(x) - r_k||² G_k(h(x), α),

    G_k = exp(-α ||h(x) - r_k||²) / Σ_k' exp(-α ||h(x) - r_k'||²) (a
    parameterised softmin, differentiated through), averaged over the
    mini-batch.  α follows the paper's annealing schedule α_1 = 0.1,
    α_i = 2^(1 / ln(i)²) α_(i-1) for i = 2..40 (the form of the authors'
    code; the schedule ends near α ≈ 28.1), ``epochs_per_alpha`` epochs each (5,
    the authors' default).  The paper's variant with a pretrained autoencoder
    uses a constant α = 1000 instead (``alphas=[1000.0]``).  λ = 1.0 (the
    authors' default), Adam with lr 1e-3, batch 256 (the authors' defaults).
    Choices made here: the representatives start from k-means on the
    embedding of the given (pretrained) autoencoder, ``n_init`` restarts;
    ``labels_`` are the nearest representatives (the α → ∞ limit), not a
    k-means rerun.

DCN (Deep Clustering Network; Yang, Fu, Sidiropoulos & Hong, ICML 2017)
    min Σ_i ||x_i - g(f(x_i))||² + (λ/2) ||f(x_i) - M s_i||², solved by
    alternating, per mini-batch: (1) a network step with M and the batch's
    assignments s fixed; (2) each sample of the batch is reassigned to its
    nearest centroid with the updated network; (3) each centroid is updated
    incrementally, sample by sample, m_k ← m_k - (1/c_k)(m_k - f(x_i)) with
    c_k the number of samples ever assigned to k (counted before x_i).  The
    sequential update over a batch equals the closed form
    m_k ← (c_k m_k + Σ_{i in batch, s_i = k} f(x_i)) / (c_k + r_k), r_k the
    batch's count (:func:`dcn_update_centroids`), computed in one pass.
    M, s start from k-means on the pretrained embedding.  The counts start at
    ``initial_count`` = 100, as in the authors' code (the paper does not say).
    The paper gives no single λ: 1.0 is the default here, with Adam lr 1e-4
    (the authors' code uses SGD with momentum 0.9; ``optimizer="sgd"``);
    50 epochs and batch 128 as the authors' MNIST script.  ``labels_`` are
    the nearest final centroids of the final embedding.

IMSAT (Information Maximizing Self-Augmented Training; Hu, Miyato, Tokui,
Matsumoto & Sugiyama, ICML 2017)
    An MLP d-1200-1200-K (BatchNorm and ReLU after the hidden layers) gives
    p(y|x) = softmax; the paper's objective is R_SAT - λ I(X; Y) with
    I(X; Y) = H(Y) - H(Y|X), H(Y) the entropy of the mini-batch mean of
    p(y|x) and H(Y|X) the mean entropy of p(y|x).  The published
    implementation weights the marginal entropy by μ = 4:

        L = R_SAT + λ (H(Y|X) - μ H(Y)),   λ = 0.1, μ = 4

    (``mu=1`` gives R_SAT - λ I exactly).  R_SAT is virtual adversarial
    training: KL(p(y|x) || p(y|x + r_adv)) with p(y|x) held constant and
    r_adv = ε(x) d, d the normalised gradient of that KL at x + ξ d₀ (one
    power iteration, ξ = 10, d₀ a random unit vector); ε(x) = 0.25 × the
    distance from x to its 10th nearest neighbour (other than itself) in the
    training data.  The perturbed forward passes use batch statistics without
    updating BatchNorm's running averages.  Adam lr 2e-3, batch 250,
    50 epochs; weights drawn N(0, s / sqrt(fan_in)) with s = 0.1 for the
    hidden layers and 1e-4 for the output layer, zero biases (all as the
    authors' code).  The network is trained from scratch (no autoencoder).
    ``labels_`` = argmax p(y|x) (BatchNorm in evaluation mode);
    ``embedding_`` = p(y|x).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors
from torch import nn
from tqdm.auto import tqdm

from mmclust.methods.base import check_input
from mmclust.nn.autoencoder import DenoisingAutoencoder, pretrain_autoencoder
from mmclust.nn.utils import as_tensor, batched, minibatches, resolve_device, seed_everything

log = logging.getLogger(__name__)

__all__ = [
    "DCN",
    "DKM",
    "IMSAT",
    "dcn_update_centroids",
    "dkm_alphas",
    "dkm_loss",
    "dkm_weights",
    "imsat_entropies",
    "make_fused_optimizer",
    "squared_distances",
]


# -- shared helpers ----------------------------------------------------------------------


def squared_distances(z: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """||z_i - c_k||² for every row i and centre k, shape (n, k)."""
    d2 = (z * z).sum(1, keepdim=True) - 2.0 * z @ centers.T + (centers * centers).sum(1)
    return d2.clamp_min(0.0)


def make_fused_optimizer(
    name: str, params: Any, lr: float, momentum: float = 0.9, **kwargs: Any
) -> torch.optim.Optimizer:
    """Adam (``**kwargs`` such as ``betas``) or SGD with momentum, fused kernels where possible.

    The fused implementations update every parameter in one kernel (on the CPU
    about 7x faster than the per-tensor loop for a d-500-500-2000-10
    autoencoder); they fall back to the default ones where unsupported.
    """
    params = list(params)
    if name == "adam":
        cls: type[torch.optim.Optimizer] = torch.optim.Adam
        kwargs = {"lr": lr, **kwargs}
    elif name == "sgd":
        cls = torch.optim.SGD
        kwargs = {"lr": lr, "momentum": momentum, **kwargs}
    else:
        raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'sgd'")
    try:
        return cls(params, fused=True, **kwargs)
    except (RuntimeError, ValueError):
        return cls(params, **kwargs)


def _sum_squared_error(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """||x - x̂||² summed over features, averaged over the batch."""
    return (recon - x).pow(2).sum(1).mean()


def _pretrained_module(
    autoencoder: DenoisingAutoencoder | None,
    pretrain_params: dict[str, Any] | None,
    X: np.ndarray,
    random_state: int,
    device: str,
    verbose: bool,
) -> nn.Module:
    """A private copy of the given autoencoder's network, or of one pretrained here."""
    if autoencoder is None:
        autoencoder = pretrain_autoencoder(X, pretrain_params, random_state, device, verbose)
    return copy.deepcopy(autoencoder.module_)


def _initial_kmeans(z: np.ndarray, n_clusters: int, n_init: int, seed: int) -> KMeans:
    return KMeans(n_clusters, n_init=n_init, random_state=seed).fit(z)


# -- DKM ---------------------------------------------------------------------------------


def dkm_alphas(alpha_init: float = 0.1, n_alphas: int = 40) -> list[float]:
    """DKM's annealing schedule: α_1 = alpha_init, α_i = 2^(1 / ln(i)²) α_(i-1), i = 2..n."""
    alphas = [float(alpha_init)]
    for i in range(2, n_alphas + 1):
        alphas.append(2.0 ** (1.0 / math.log(i) ** 2) * alphas[-1])
    return alphas


def dkm_weights(d2: torch.Tensor, alpha: float) -> torch.Tensor:
    """Softmin weights G_k = exp(-α d²_k) / Σ_k' exp(-α d²_k') per row (stable)."""
    return torch.softmax(-alpha * d2, dim=1)


def dkm_loss(z: torch.Tensor, centers: torch.Tensor, alpha: float) -> torch.Tensor:
    """DKM's k-means term: Σ_k ||z - r_k||² G_k(z, α), averaged over rows."""
    d2 = squared_distances(z, centers)
    return (d2 * dkm_weights(d2, alpha)).sum(1).mean()


class DKM(ClusterMixin, BaseEstimator):
    """Deep k-Means (see the module doc).

    Parameters
    ----------
    n_clusters : int, default 10
    lambda_ : float, default 1.0
        Weight of the k-means term against the reconstruction error.
    alphas : sequence of float or None, default None
        The α values, in order; None: :func:`dkm_alphas` (``alpha_init``,
        ``n_alphas``).  The paper's pretrained variant: ``[1000.0]``.
    alpha_init : float, default 0.1
    n_alphas : int, default 40
    epochs_per_alpha : int, default 5
    batch_size : int, default 256
    optimizer : {"adam", "sgd"}, default "adam"
    lr : float, default 1e-3
    momentum : float, default 0.9 (SGD only)
    n_init : int, default 20
        k-means restarts for the initial representatives.
    autoencoder : DenoisingAutoencoder or None
        A fitted autoencoder (its network is copied and fine-tuned); None:
        one is pretrained in ``fit`` with ``pretrain_params``.
    pretrain_params : dict or None
    random_state : int, default 0
    device : str, default "auto"
    verbose : bool, default True

    Attributes
    ----------
    labels_, embedding_ (encoder output), cluster_centers_ (the
    representatives), module_ (the fine-tuned autoencoder network), history_
    (one dict per epoch: alpha, loss, reconstruction, kmeans), n_iter_
    """

    def __init__(
        self,
        n_clusters: int = 10,
        lambda_: float = 1.0,
        alphas: Sequence[float] | None = None,
        alpha_init: float = 0.1,
        n_alphas: int = 40,
        epochs_per_alpha: int = 5,
        batch_size: int = 256,
        optimizer: str = "adam",
        lr: float = 1e-3,
        momentum: float = 0.9,
        n_init: int = 20,
        autoencoder: DenoisingAutoencoder | None = None,
        pretrain_params: dict[str, Any] | None = None,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.lambda_ = lambda_
        self.alphas = alphas
        self.alpha_init = alpha_init
        self.n_alphas = n_alphas
        self.epochs_per_alpha = epochs_per_alpha
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.n_init = n_init
        self.autoencoder = autoencoder
        self.pretrain_params = pretrain_params
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _alphas(self) -> list[float]:
        if self.alphas is None:
            return dkm_alphas(self.alpha_init, self.n_alphas)
        return [float(a) for a in self.alphas]

    def fit(self, X: np.ndarray, y: Any = None) -> DKM:
        check_input(X, self.n_clusters, type(self).__name__)
        device = resolve_device(self.device)
        module = _pretrained_module(
            self.autoencoder,
            self.pretrain_params,
            X,
            self.random_state,
            self.device,
            self.verbose,
        ).to(device)
        gen = seed_everything(self.random_state)
        Xt = as_tensor(X, device)
        n = Xt.shape[0]
        z0 = batched(module.encoder, Xt).cpu().numpy()
        km = _initial_kmeans(z0, self.n_clusters, self.n_init, self.random_state)
        centers = nn.Parameter(
            torch.as_tensor(km.cluster_centers_, dtype=torch.float32, device=device)
        )
        opt = make_fused_optimizer(
            self.optimizer, [*module.parameters(), centers], self.lr, momentum=self.momentum
        )
        alphas = self._alphas()
        schedule = [a for a in alphas for _ in range(self.epochs_per_alpha)]
        n_batches = math.ceil(n / self.batch_size)
        self.history_: list[dict[str, float]] = []
        it = 0
        module.train()
        bar = tqdm(schedule, desc="DKM", disable=not self.verbose, mininterval=1.0)
        for alpha in bar:
            sums = torch.zeros(2, device=device)
            for idx in minibatches(n, self.batch_size, gen):
                x = Xt[idx]
                z = module.encoder(x)
                rec = _sum_squared_error(module.decoder(z), x)
                km_term = dkm_loss(z, centers, alpha)
                loss = rec + self.lambda_ * km_term
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums += torch.stack((rec.detach(), km_term.detach()))
                it += 1
            rec_m, km_m = (sums / n_batches).tolist()
            self.history_.append(
                {
                    "alpha": alpha,
                    "loss": rec_m + self.lambda_ * km_m,
                    "reconstruction": rec_m,
                    "kmeans": km_m,
                }
            )
            bar.set_postfix(alpha=f"{alpha:.3g}", km=f"{km_m:.4f}")
        module.eval()
        self.n_iter_ = it
        self.module_ = module
        self._centers = centers.detach()
        self.cluster_centers_ = self._centers.cpu().numpy()
        self.embedding_ = batched(module.encoder, Xt).cpu().numpy()
        self.labels_ = self._nearest(torch.as_tensor(self.embedding_, device=device))
        return self

    def _nearest(self, z: torch.Tensor) -> np.ndarray:
        return squared_distances(z, self._centers).argmin(1).cpu().numpy()

    def transform(self, X: np.ndarray) -> np.ndarray:
        device = self._centers.device
        return batched(self.module_.encoder, as_tensor(X, device)).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._nearest(torch.as_tensor(self.transform(X), device=self._centers.device))


# -- DCN ---------------------------------------------------------------------------------


def dcn_update_centroids(
    centers: torch.Tensor, counts: torch.Tensor, z: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """DCN's per-sample incremental centroid update over a batch, in closed form.

    Processing the rows of ``z`` in order with c_k += 1 and
    m_k ← m_k - (1/c_k)(m_k - z_i) gives, per centroid k with r_k rows of
    the batch, m_k = (c_k m_k + Σ z_i) / (c_k + r_k).  Returns the new
    centres and counts (float tensors); centroids without rows are unchanged.
    """
    k = centers.shape[0]
    batch_counts = torch.bincount(labels, minlength=k).to(counts.dtype)
    sums = torch.zeros_like(centers).index_add_(0, labels, z)
    new_counts = counts + batch_counts
    new_centers = (centers * counts.unsqueeze(1) + sums) / new_counts.unsqueeze(1)
    return new_centers, new_counts


class DCN(ClusterMixin, BaseEstimator):
    """Deep Clustering Network (see the module doc).

    Parameters
    ----------
    n_clusters : int, default 10
    lambda_ : float, default 1.0
        L = ||x - x̂||² + (λ/2) ||f(x) - M s||².
    epochs : int, default 50
    batch_size : int, default 128
    optimizer : {"adam", "sgd"}, default "adam"
    lr : float, default 1e-4
    momentum : float, default 0.9 (SGD only)
    initial_count : float, default 100
        Starting value of every centroid's assignment count.
    n_init : int, default 20
        k-means restarts for the initial centroids and assignments.
    autoencoder : DenoisingAutoencoder or None
    pretrain_params : dict or None
    random_state : int, default 0
    device : str, default "auto"
    verbose : bool, default True

    Attributes
    ----------
    labels_, embedding_, cluster_centers_, counts_ (final assignment counts),
    module_, history_ (one dict per epoch: loss, reconstruction, clustering,
    changed = fraction of samples whose assignment changed), n_iter_
    """

    def __init__(
        self,
        n_clusters: int = 10,
        lambda_: float = 1.0,
        epochs: int = 50,
        batch_size: int = 128,
        optimizer: str = "adam",
        lr: float = 1e-4,
        momentum: float = 0.9,
        initial_count: float = 100.0,
        n_init: int = 20,
        autoencoder: DenoisingAutoencoder | None = None,
        pretrain_params: dict[str, Any] | None = None,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.lambda_ = lambda_
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.initial_count = initial_count
        self.n_init = n_init
        self.autoencoder = autoencoder
        self.pretrain_params = pretrain_params
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X: np.ndarray, y: Any = None) -> DCN:
        check_input(X, self.n_clusters, type(self).__name__)
        device = resolve_device(self.device)
        module = _pretrained_module(
            self.autoencoder,
            self.pretrain_params,
            X,
            self.random_state,
            self.device,
            self.verbose,
        ).to(device)
        gen = seed_everything(self.random_state)
        Xt = as_tensor(X, device)
        n = Xt.shape[0]
        z0 = batched(module.encoder, Xt).cpu().numpy()
        km = _initial_kmeans(z0, self.n_clusters, self.n_init, self.random_state)
        centers = torch.as_tensor(km.cluster_centers_, dtype=torch.float32, device=device)
        labels = torch.as_tensor(km.labels_, dtype=torch.long, device=device)
        counts = torch.full((self.n_clusters,), float(self.initial_count), device=device)
        opt = make_fused_optimizer(
            self.optimizer, module.parameters(), self.lr, momentum=self.momentum
        )
        n_batches = math.ceil(n / self.batch_size)
        self.history_: list[dict[str, float]] = []
        it = 0
        module.train()
        bar = tqdm(range(self.epochs), desc="DCN", disable=not self.verbose, mininterval=1.0)
        for _epoch in bar:
            sums = torch.zeros(3, device=device)
            for idx in minibatches(n, self.batch_size, gen):
                idx = idx.to(device)
                x = Xt[idx]
                z = module.encoder(x)
                rec = _sum_squared_error(module.decoder(z), x)
                clu = (z - centers[labels[idx]]).pow(2).sum(1).mean()
                loss = rec + 0.5 * self.lambda_ * clu
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    z_new = module.encoder(x)
                    s = squared_distances(z_new, centers).argmin(1)
                    changed = (s != labels[idx]).sum()
                    labels[idx] = s
                    centers, counts = dcn_update_centroids(centers, counts, z_new, s)
                sums += torch.stack((rec.detach(), clu.detach(), changed.to(sums.dtype)))
                it += 1
            rec_m, clu_m, changed_m = sums.tolist()
            rec_m, clu_m = rec_m / n_batches, clu_m / n_batches
            self.history_.append(
                {
                    "loss": rec_m + 0.5 * self.lambda_ * clu_m,
                    "reconstruction": rec_m,
                    "clustering": clu_m,
                    "changed": changed_m / n,
                }
            )
            bar.set_postfix(clu=f"{clu_m:.4f}", changed=f"{changed_m / n:.4f}")
        module.eval()
        self.n_iter_ = it
        self.module_ = module
        self._centers = centers
        self.cluster_centers_ = centers.cpu().numpy()
        self.counts_ = counts.cpu().numpy()
        self.embedding_ = batched(module.encoder, Xt).cpu().numpy()
        self.labels_ = self._nearest(torch.as_tensor(self.embedding_, device=device))
        return self

    def _nearest(self, z: torch.Tensor) -> np.ndarray:
        return squared_distances(z, self._centers).argmin(1).cpu().numpy()

    def transform(self, X: np.ndarray) -> np.ndarray:
        device = self._centers.device
        return batched(self.module_.encoder, as_tensor(X, device)).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._nearest(torch.as_tensor(self.transform(X), device=self._centers.device))


# -- IMSAT -------------------------------------------------------------------------------


def imsat_entropies(logits: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """(H(Y), H(Y|X)) of the batch: entropy of the mean p(y|x), mean entropy of p(y|x).

    I(X; Y) = H(Y) - H(Y|X).  Natural logarithms.
    """
    log_p = torch.log_softmax(logits, dim=1)
    p = log_p.exp()
    h_cond = -(p * log_p).sum(1).mean()
    p_mean = p.mean(0)
    h_marg = -(p_mean * torch.log(p_mean + eps)).sum()
    return h_marg, h_cond


def _kl_from_logits(log_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) averaged over rows; ``log_p`` fixed log-probabilities."""
    return (log_p.exp() * (log_p - torch.log_softmax(logits_q, dim=1))).sum(1).mean()


def _unit_rows(d: torch.Tensor) -> torch.Tensor:
    return d / (d.flatten(1).norm(dim=1, keepdim=True) + 1e-12)


class _IMSATNet(nn.Module):
    def __init__(self, dims: Sequence[int], scales: Sequence[float]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        n_layers = len(dims) - 1
        for i in range(n_layers):
            linear = nn.Linear(dims[i], dims[i + 1])
            scale = scales[1] if i == n_layers - 1 else scales[0]
            nn.init.normal_(linear.weight, 0.0, scale / math.sqrt(dims[i]))
            nn.init.zeros_(linear.bias)
            layers.append(linear)
            if i < n_layers - 1:
                layers += [nn.BatchNorm1d(dims[i + 1]), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _FrozenBatchStats:
    """Within the block, BatchNorm layers use batch statistics but do not update running ones."""

    def __init__(self, module: nn.Module) -> None:
        self.bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.saved: list[float | None] = []

    def __enter__(self) -> None:
        self.saved = [bn.momentum for bn in self.bns]
        for bn in self.bns:
            bn.momentum = 0.0

    def __exit__(self, *exc: object) -> None:
        for bn, m in zip(self.bns, self.saved, strict=True):
            bn.momentum = m


class IMSAT(ClusterMixin, BaseEstimator):
    """Information Maximizing Self-Augmented Training for clustering (see the module doc).

    Parameters
    ----------
    n_clusters : int, default 10
    hidden_dims : sequence of int, default (1200, 1200)
    lambda_ : float, default 0.1
        Weight of the information term against R_SAT.
    mu : float, default 4.0
        Weight of the marginal entropy H(Y) (1: plain mutual information).
    xi : float, default 10.0
        Finite-difference step of the power iteration.
    eps_scale : float, default 0.25
        ε(x) = eps_scale × distance to the ``n_neighbors``-th neighbour.
    n_neighbors : int, default 10
    power_iterations : int, default 1
    epochs : int, default 50
    batch_size : int, default 250
    lr : float, default 2e-3
        Adam (β1 = 0.9).
    init_scales : (float, float), default (0.1, 1e-4)
        Weight scales of the hidden and the output layers.
    random_state : int, default 0
    device : str, default "auto"
    verbose : bool, default True

    Attributes
    ----------
    labels_, embedding_ (p(y|x), shape (n, k)), module_, epsilon_ (per-sample
    perturbation radius), history_ (one dict per epoch: loss, vat,
    marginal_entropy, conditional_entropy), n_iter_
    """

    def __init__(
        self,
        n_clusters: int = 10,
        hidden_dims: Sequence[int] = (1200, 1200),
        lambda_: float = 0.1,
        mu: float = 4.0,
        xi: float = 10.0,
        eps_scale: float = 0.25,
        n_neighbors: int = 10,
        power_iterations: int = 1,
        epochs: int = 50,
        batch_size: int = 250,
        lr: float = 2e-3,
        init_scales: Sequence[float] = (0.1, 1e-4),
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.hidden_dims = hidden_dims
        self.lambda_ = lambda_
        self.mu = mu
        self.xi = xi
        self.eps_scale = eps_scale
        self.n_neighbors = n_neighbors
        self.power_iterations = power_iterations
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.init_scales = init_scales
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _epsilon(self, X: np.ndarray) -> np.ndarray:
        t = min(self.n_neighbors, X.shape[0] - 1)
        if t < 1:
            raise ValueError("IMSAT needs at least two samples")
        dist, _ = NearestNeighbors(n_neighbors=t + 1).fit(X).kneighbors(X)
        return (self.eps_scale * dist[:, t]).astype(np.float32)

    def _vat(
        self,
        net: nn.Module,
        x: torch.Tensor,
        log_p: torch.Tensor,
        eps: torch.Tensor,
        gen: torch.Generator,
    ) -> torch.Tensor:
        d = torch.randn(x.shape, generator=gen).to(x.device)
        d = _unit_rows(d)
        with _FrozenBatchStats(net):
            for _ in range(self.power_iterations):
                d.requires_grad_(True)
                kl = _kl_from_logits(log_p, net(x + self.xi * d))
                (grad,) = torch.autograd.grad(kl, d)
                d = _unit_rows(grad.detach())
            return _kl_from_logits(log_p, net(x + eps.unsqueeze(1) * d))

    def fit(self, X: np.ndarray, y: Any = None) -> IMSAT:
        check_input(X, self.n_clusters, type(self).__name__)
        device = resolve_device(self.device)
        X = np.ascontiguousarray(X, dtype=np.float32)
        gen = seed_everything(self.random_state)
        eps_all = self._epsilon(X)
        self.epsilon_ = eps_all
        dims = [X.shape[1], *self.hidden_dims, self.n_clusters]
        net = _IMSATNet(dims, self.init_scales).to(device)
        Xt = as_tensor(X, device)
        Et = torch.as_tensor(eps_all, device=device)
        n = Xt.shape[0]
        opt = make_fused_optimizer("adam", net.parameters(), self.lr, betas=(0.9, 0.999))
        n_batches = math.ceil(n / self.batch_size)
        self.history_: list[dict[str, float]] = []
        it = 0
        net.train()
        bar = tqdm(range(self.epochs), desc="IMSAT", disable=not self.verbose, mininterval=1.0)
        for _epoch in bar:
            sums = torch.zeros(3, device=device)
            for idx in minibatches(n, self.batch_size, gen):
                if idx.numel() < 2:  # BatchNorm needs two rows
                    continue
                x = Xt[idx]
                logits = net(x)
                h_marg, h_cond = imsat_entropies(logits)
                log_p = torch.log_softmax(logits, dim=1).detach()
                vat = self._vat(net, x, log_p, Et[idx.to(device)], gen)
                loss = vat + self.lambda_ * (h_cond - self.mu * h_marg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums += torch.stack((vat.detach(), h_marg.detach(), h_cond.detach()))
                it += 1
            vat_m, hm, hc = (sums / n_batches).tolist()
            self.history_.append(
                {
                    "loss": vat_m + self.lambda_ * (hc - self.mu * hm),
                    "vat": vat_m,
                    "marginal_entropy": hm,
                    "conditional_entropy": hc,
                }
            )
            bar.set_postfix(hy=f"{hm:.3f}", hyx=f"{hc:.3f}")
        net.eval()
        self.n_iter_ = it
        self.module_ = net
        self.embedding_ = self.predict_proba(X)
        self.labels_ = self.embedding_.argmax(1)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        device = next(self.module_.parameters()).device
        logits = batched(self.module_, as_tensor(X, device))
        return torch.softmax(logits, dim=1).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(1)
