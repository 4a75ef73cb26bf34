"""DKM, a deep single-input baseline of the DM2C paper's Tables 3 and 4.

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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mmclust.methods.deep.finetune import FineTuning, squared_distances, sum_squared_error
from mmclust.nn.autoencoder import DenoisingAutoencoder
from mmclust.nn.utils import make_optimizer, minibatches

log = logging.getLogger(__name__)


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


class DKM(FineTuning):
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
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the forward and backward passes
        (:mod:`mmclust.nn.precision`; losses and centres in float32); set by the
        workflow's top-level ``precision`` key.
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
        precision: str = "fp32",
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
        self.precision = precision
        self.verbose = verbose

    def _alphas(self) -> list[float]:
        if self.alphas is None:
            return dkm_alphas(self.alpha_init, self.n_alphas)
        return [float(a) for a in self.alphas]

    def fit(self, X: np.ndarray, y: Any = None) -> DKM:
        start = self._start(X)
        module, Xt, n, device = start.module, start.X, start.n, start.device
        prec = start.precision
        centers = start.center_parameter()
        opt = make_optimizer(
            self.optimizer, [*module.parameters(), centers], self.lr, momentum=self.momentum
        )
        alphas = self._alphas()
        schedule = [a for a in alphas for _ in range(self.epochs_per_alpha)]
        n_batches = math.ceil(n / self.batch_size)
        self.history_: list[dict[str, float]] = []
        it = 0
        module.train()
        bar = self._progress(schedule)
        for alpha in bar:
            sums = torch.zeros(2, device=device)
            for idx in minibatches(n, self.batch_size, start.generator):
                x = Xt[idx]
                z, recon = prec.run(module, x)
                rec = sum_squared_error(recon, x)
                km_term = dkm_loss(z, centers, alpha)
                loss = rec + self.lambda_ * km_term
                opt.zero_grad(set_to_none=True)
                prec.backward(loss)
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
        self._finish(module, centers, Xt, it)
        return self
