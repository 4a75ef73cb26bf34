"""DCN, a deep single-input baseline of the DM2C paper's Tables 3 and 4.

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
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

from mmclust.methods.deep.finetune import FineTuning, squared_distances, sum_squared_error
from mmclust.nn.autoencoder import DenoisingAutoencoder
from mmclust.nn.utils import make_optimizer, minibatches

log = logging.getLogger(__name__)


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


class DCN(FineTuning):
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
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the forward and backward passes
        (:mod:`mmclust.nn.precision`; losses and centres in float32); set by the
        workflow's top-level ``precision`` key.
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
        precision: str = "fp32",
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
        self.precision = precision
        self.verbose = verbose

    def fit(self, X: np.ndarray, y: Any = None) -> DCN:
        start = self._start(X)
        module, Xt, n, device = start.module, start.X, start.n, start.device
        prec = start.precision
        centers = start.centers()
        labels = torch.as_tensor(start.kmeans.labels_, dtype=torch.long, device=device)
        counts = torch.full((self.n_clusters,), float(self.initial_count), device=device)
        opt = make_optimizer(self.optimizer, module.parameters(), self.lr, momentum=self.momentum)
        n_batches = math.ceil(n / self.batch_size)
        self.history_: list[dict[str, float]] = []
        it = 0
        module.train()
        bar = self._progress(range(self.epochs))
        for _epoch in bar:
            sums = torch.zeros(3, device=device)
            for idx in minibatches(n, self.batch_size, start.generator):
                idx = idx.to(device)
                x = Xt[idx]
                z, recon = prec.run(module, x)
                rec = sum_squared_error(recon, x)
                clu = (z - centers[labels[idx]]).pow(2).sum(1).mean()
                loss = rec + 0.5 * self.lambda_ * clu
                opt.zero_grad(set_to_none=True)
                prec.backward(loss)
                opt.step()
                with torch.no_grad():
                    z_new = prec.run(module.encoder, x)
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
        self.counts_ = counts.cpu().numpy()
        self._finish(module, centers, Xt, it)
        return self
