"""DEC and IDEC.

DEC (Xie, Girshick & Farhadi, ICML 2016): an encoder pretrained as a stacked
denoising autoencoder is fine-tuned together with cluster centroids by
minimising KL(P || Q), where Q is the Student's t soft assignment of the
embedded points to the centroids and P the sharpened target distribution
computed from Q on the whole data set.  P is refreshed every
``update_every_epochs`` epochs (rounded to whole mini-batch iterations), or
every ``update_interval`` iterations when that is set; training stops when
fewer than a fraction ``tol`` of the points changed cluster between two
refreshes, or after ``max_epochs`` epochs.  Centroids start from k-means
(``n_init`` restarts) on the pretrained embedding.

The refresh interval.  The IDEC paper refreshes the target every 140
iterations of 256 samples on the 70 000 MNIST digits (the interval this
package used for DEC too), about half an epoch (0.512).  A fixed
count of iterations means something else on another data-set size: on 2 000
samples 140 iterations are 18 epochs (JECL, which shares this schedule, on UCI
Multiple Features: 3 refreshes in 50 epochs, 5.7 % of the labels still
changing at the last), on 70 000 half an epoch.  The default
here is therefore the fraction of an epoch, 0.512, which gives DEC's 140 on
MNIST-70k and keeps DEC's tol rule (0.1 % of the labels) able to fire on small
data; ``update_interval`` keeps the fixed count available
(:class:`mmclust.nn.clustering.RefreshSchedule`, shared with JECL).  The label
change at every refresh is in ``history_``; ``convergence_`` records whether
the tol rule ended training (else ``max_epochs`` did), with the refreshes,
the last label change and the epochs run.

IDEC (Guo et al., IJCAI 2017) keeps the decoder and adds its reconstruction
loss: L = L_rec + gamma * KL(P || Q).

Predictions are the argmax of Q.  No label is ever read.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from mmclust.methods.deep.finetune import FineTuning
from mmclust.nn.autoencoder import DenoisingAutoencoder
from mmclust.nn.clustering import (
    RefreshSchedule,
    kl_divergence,
    log_convergence,
    soft_assign,
    target_distribution,
)
from mmclust.nn.utils import (
    as_tensor,
    batched,
    make_optimizer,
    minibatches,
)
from mmclust.validation import check_all_finite

log = logging.getLogger(__name__)


class DEC(FineTuning):
    """Deep Embedded Clustering.

    Parameters
    ----------
    n_clusters : int, default 10
    alpha : float, default 1.0
        Degrees of freedom of the Student's t kernel.
    update_every_epochs : float, default 0.512
        Epochs between refreshes of the target distribution (rounded to whole
        mini-batch iterations, at least 1; DEC's 140 iterations of 256 on
        MNIST-70k).
    update_interval : int or None, default None
        Mini-batch iterations between refreshes; when set, replaces
        ``update_every_epochs``.
    tol : float, default 0.001
        Stop when the fraction of points changing cluster between two
        refreshes falls below this.
    max_epochs : int, default 200
    batch_size : int, default 256
    optimizer : {"sgd", "adam"}, default "sgd"
    lr : float, default 0.01
    momentum : float, default 0.9
        Used by SGD only.
    n_init : int, default 20
        k-means restarts for the centroid initialisation.
    autoencoder : DenoisingAutoencoder or None
        A fitted autoencoder whose encoder is fine-tuned.  When None, one is
        pretrained in ``fit`` with ``pretrain_params``.
    pretrain_params : dict or None
        Parameters of the autoencoder trained when ``autoencoder`` is None.
    random_state : int, default 0
    device : str, default "auto"
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the forward and backward passes
        (:mod:`mmclust.nn.precision`; the soft assignments, targets and KL are
        float32 in every case); set by the workflow's top-level ``precision`` key.
    verbose : bool, default True

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, d) final encoder output
    cluster_centers_ : ndarray (k, d)
    n_iter_ : int, mini-batch iterations run
    stopped_early_ : bool, whether the ``tol`` criterion ended training
    history_ : list of dict, one entry per target refresh (iteration, epoch, fraction of
        labels changed since the previous refresh)
    convergence_ : dict, converged (the tol rule fired), the rule, refreshes, last label
        change, epochs and iterations run
    """

    uses_decoder = False

    def __init__(
        self,
        n_clusters: int = 10,
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
        autoencoder: DenoisingAutoencoder | None = None,
        pretrain_params: dict[str, Any] | None = None,
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
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
        self.autoencoder = autoencoder
        self.pretrain_params = pretrain_params
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose

    # -- the loss; IDEC overrides it -------------------------------------------------
    def _loss(
        self, module: nn.Module, centroids: torch.Tensor, x: torch.Tensor, p: torch.Tensor
    ) -> torch.Tensor:
        z = self._prec.run(module.encoder, x)
        return kl_divergence(p, soft_assign(z, centroids, self.alpha))

    def fit(self, X: np.ndarray, y: Any = None) -> DEC:
        start = self._start(X)
        module, Xt, n = start.module, start.X, start.n
        centroids = start.center_parameter()
        params_to_train = [*module.encoder.parameters(), centroids]
        if self.uses_decoder:
            params_to_train += list(module.decoder.parameters())
        opt = make_optimizer(self.optimizer, params_to_train, self.lr, momentum=self.momentum)

        schedule = RefreshSchedule(
            n, self.batch_size, self.tol, self.max_epochs,
            self.update_every_epochs, self.update_interval,
        )  # fmt: skip
        it = 0
        p_all = None
        stop = False
        module.train()
        bar = self._progress(range(self.max_epochs))
        for _epoch in bar:
            for idx in minibatches(n, self.batch_size, start.generator):
                if schedule.due(it):
                    q_all = self._assign(module, centroids, Xt)
                    check_all_finite(q_all, type(self).__name__, f"iteration {it}")
                    p_all = target_distribution(q_all)
                    stop = schedule.record(it, q_all.argmax(1).cpu().numpy())
                    bar.set_postfix(delta=f"{schedule.history[-1]['delta_label']:.4f}")
                    if stop:
                        break
                assert p_all is not None
                loss = self._loss(module, centroids, Xt[idx], p_all[idx])
                opt.zero_grad(set_to_none=True)
                start.precision.backward(loss)
                opt.step()
                it += 1
            if stop:
                break
        self.history_ = schedule.history
        self.stopped_early_ = schedule.converged
        self.convergence_ = schedule.convergence(it)
        log_convergence(type(self).__name__, self.convergence_)
        self._finish(module, centroids, Xt, it)
        return self

    @torch.no_grad()
    def _assign(self, module: nn.Module, centroids: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        encode = self._prec.wrap(module.encoder)
        return batched(lambda x: soft_assign(encode(x), centroids, self.alpha), X)

    def _labels(self, X: torch.Tensor) -> np.ndarray:
        """The argmax of the soft assignment Q."""
        return self._assign(self.module_, self._centers, X).argmax(1).cpu().numpy()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        device = self._centers.device
        return self._assign(self.module_, self._centers, as_tensor(X, device)).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(1)


class IDEC(DEC):
    """Improved DEC: DEC's clustering loss plus the autoencoder's reconstruction loss.

    Takes every DEC parameter plus

    gamma : float, default 0.1
        Weight of the clustering loss: L = L_rec + gamma * KL(P || Q).

    The IDEC paper's defaults differ from DEC's: Adam with lr 1e-3.
    """

    uses_decoder = True

    def __init__(
        self,
        n_clusters: int = 10,
        alpha: float = 1.0,
        update_every_epochs: float = 0.512,
        update_interval: int | None = None,
        tol: float = 0.001,
        max_epochs: int = 200,
        batch_size: int = 256,
        optimizer: str = "adam",
        lr: float = 0.001,
        momentum: float = 0.9,
        n_init: int = 20,
        gamma: float = 0.1,
        autoencoder: DenoisingAutoencoder | None = None,
        pretrain_params: dict[str, Any] | None = None,
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        super().__init__(
            n_clusters=n_clusters, alpha=alpha, update_every_epochs=update_every_epochs,
            update_interval=update_interval, tol=tol,
            max_epochs=max_epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
            momentum=momentum, n_init=n_init, autoencoder=autoencoder,
            pretrain_params=pretrain_params, random_state=random_state, device=device,
            precision=precision, verbose=verbose,
        )  # fmt: skip
        self.gamma = gamma

    def _loss(
        self, module: nn.Module, centroids: torch.Tensor, x: torch.Tensor, p: torch.Tensor
    ) -> torch.Tensor:
        z, recon = self._prec.run(module, x)
        rec = nn.functional.mse_loss(recon, x)
        return rec + self.gamma * kl_divergence(p, soft_assign(z, centroids, self.alpha))
