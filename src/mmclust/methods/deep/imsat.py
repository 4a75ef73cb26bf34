"""IMSAT, a deep single-input baseline of the DM2C paper's Tables 3 and 4.

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

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.neighbors import NearestNeighbors
from torch import nn
from tqdm.auto import tqdm

from mmclust.methods.base import check_input
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
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the network's forward and backward passes
        (:mod:`mmclust.nn.precision`; logits are cast to float32 before the
        entropies and KL terms); set by the workflow's top-level ``precision`` key.
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
        precision: str = "fp32",
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
        self.precision = precision
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
        prec = self._prec
        forward = prec.wrap(net)
        with _FrozenBatchStats(net):
            for _ in range(self.power_iterations):
                d.requires_grad_(True)
                kl = _kl_from_logits(log_p, forward(x + self.xi * d))
                with prec.backward_context():
                    (grad,) = torch.autograd.grad(kl, d)
                d = _unit_rows(grad.detach())
            return _kl_from_logits(log_p, forward(x + eps.unsqueeze(1) * d))

    def fit(self, X: np.ndarray, y: Any = None) -> IMSAT:
        check_input(X, self.n_clusters, type(self).__name__)
        device = resolve_device(self.device)
        prec = self._prec = Precision(self.precision, device)
        prec.log("IMSAT")
        X = np.ascontiguousarray(X, dtype=np.float32)
        gen = seed_everything(self.random_state)
        eps_all = self._epsilon(X)
        self.epsilon_ = eps_all
        dims = [X.shape[1], *self.hidden_dims, self.n_clusters]
        net = _IMSATNet(dims, self.init_scales).to(device)
        Xt = as_tensor(X, device)
        Et = torch.as_tensor(eps_all, device=device)
        n = Xt.shape[0]
        opt = make_optimizer("adam", net.parameters(), self.lr, betas=(0.9, 0.999))
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
                logits = prec.run(net, x)
                h_marg, h_cond = imsat_entropies(logits)
                log_p = torch.log_softmax(logits, dim=1).detach()
                vat = self._vat(net, x, log_p, Et[idx.to(device)], gen)
                loss = vat + self.lambda_ * (h_cond - self.mu * h_marg)
                opt.zero_grad(set_to_none=True)
                prec.backward(loss)
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
        logits = batched(self._prec.wrap(self.module_), as_tensor(X, device))
        return torch.softmax(logits, dim=1).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(1)
