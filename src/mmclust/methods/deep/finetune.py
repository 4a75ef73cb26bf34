"""The fine-tuning scaffold the DEC family shares (DEC, IDEC, DKM, DCN; JECL in part).

Each of these methods starts the same way and ends the same way; only the
loss and the body of the training loop are its own:

start (:meth:`FineTuning._start`)
    check the input; take a private copy of the given pretrained autoencoder
    (the caller's is never changed), or pretrain one with ``pretrain_params``
    when none is given; the :class:`~mmclust.nn.precision.Precision` of
    ``precision`` on the device, through which every forward and backward pass
    of the method runs (encoder outputs come back as float32, so the losses,
    assignments and centres are float32); seed Python, NumPy and torch with ``random_state``
    (the mini-batch order comes from the returned generator); put the data on
    the device; run k-means (``n_init`` restarts, ``random_state``) on the
    pretrained codes: its centres are the initial cluster centres and its
    labels the initial assignments.
loop
    :func:`progress` (the tqdm bar every method shows) over the method's own
    epochs; the optimiser over the network and, where they are learned by
    gradient, the centres (:meth:`FineTuneStart.center_parameter`).
end (:meth:`FineTuning._finish`)
    the network in evaluation mode, ``module_``, ``cluster_centers_``,
    ``embedding_`` (the encoder's output on the training data), ``labels_``
    (:meth:`FineTuning._labels`: the nearest centre of each code; DEC's
    argmax of the soft assignment), ``n_iter_``; ``transform`` and
    ``predict`` for new rows.

The order of these steps (copy, seed, k-means) is the order the methods
always had, so that the same ``random_state`` gives the same run.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from torch import nn
from tqdm.auto import tqdm

from mmclust.methods.base import check_input
from mmclust.nn.autoencoder import DenoisingAutoencoder, pretrain_autoencoder
from mmclust.nn.precision import Precision
from mmclust.nn.utils import as_tensor, batched, resolve_device, seed_everything


def squared_distances(z: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """||z_i - c_k||² for every row i and centre k, shape (n, k)."""
    d2 = (z * z).sum(1, keepdim=True) - 2.0 * z @ centers.T + (centers * centers).sum(1)
    return d2.clamp_min(0.0)


def sum_squared_error(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """||x - x̂||² summed over features, averaged over the batch."""
    return (recon - x).pow(2).sum(1).mean()


def pretrained_module(
    autoencoder: DenoisingAutoencoder | None,
    pretrain_params: dict[str, Any] | None,
    X: np.ndarray,
    random_state: int,
    device: str,
    verbose: bool,
    precision: str = "fp32",
) -> nn.Module:
    """A private copy of the given autoencoder's network, or of one pretrained here."""
    if autoencoder is None:
        autoencoder = pretrain_autoencoder(
            X, pretrain_params, random_state, device, verbose, precision
        )
    return copy.deepcopy(autoencoder.module_)


def kmeans_on_codes(
    encoder: nn.Module, X: torch.Tensor, n_clusters: int, n_init: int, seed: int
) -> KMeans:
    """k-means (``n_init`` restarts, seed ``seed``) fitted on ``encoder``'s codes of ``X``
    (``encoder``: a network, or a :meth:`Precision.wrap` of one)."""
    z = batched(encoder, X).cpu().numpy()
    return KMeans(n_clusters, n_init=n_init, random_state=seed).fit(z)


def progress(iterable: Iterable[Any], name: str, verbose: bool) -> tqdm:
    """The training loop's progress bar (shown when ``verbose``, refreshed once a second)."""
    return tqdm(iterable, desc=name, disable=not verbose, mininterval=1.0)


@dataclass
class FineTuneStart:
    """What :meth:`FineTuning._start` sets up: the network copy, data, generator, k-means."""

    module: nn.Module
    X: torch.Tensor
    generator: torch.Generator
    kmeans: KMeans
    precision: Precision

    @property
    def device(self) -> torch.device:
        return self.X.device

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def centers(self) -> torch.Tensor:
        """The k-means centres as a float32 tensor on the device."""
        return torch.as_tensor(
            self.kmeans.cluster_centers_, dtype=torch.float32, device=self.device
        )

    def center_parameter(self) -> nn.Parameter:
        """The k-means centres as a parameter the optimiser trains."""
        return nn.Parameter(self.centers())


class FineTuning(ClusterMixin, BaseEstimator):
    """Base of the estimators that fine-tune a pretrained autoencoder with cluster centres.

    A subclass keeps its own explicit ``__init__`` (the registry reads it) with
    at least ``n_clusters``, ``n_init``, ``autoencoder``, ``pretrain_params``,
    ``random_state``, ``device``, ``precision`` and ``verbose``, and writes ``fit`` as
    ``start = self._start(X)``, its own optimiser and loop (with
    :meth:`_progress`; forward passes through ``start.precision.run``, backward
    passes through ``start.precision.backward``), then
    ``self._finish(start.module, centers, start.X, it)``.
    """

    n_clusters: int
    n_init: int
    autoencoder: DenoisingAutoencoder | None
    pretrain_params: dict[str, Any] | None
    random_state: int
    device: str
    precision: str
    verbose: bool

    def _start(self, X: np.ndarray) -> FineTuneStart:
        check_input(X, self.n_clusters, type(self).__name__)
        device = resolve_device(self.device)
        prec = self._prec = Precision(self.precision, device)
        prec.log(type(self).__name__)
        module = pretrained_module(
            self.autoencoder, self.pretrain_params, X, self.random_state, self.device,
            self.verbose, self.precision,
        ).to(device)  # fmt: skip
        generator = seed_everything(self.random_state)
        Xt = as_tensor(X, device)
        encode = prec.wrap(module.encoder)
        km = kmeans_on_codes(encode, Xt, self.n_clusters, self.n_init, self.random_state)
        return FineTuneStart(module, Xt, generator, km, prec)

    def _progress(self, iterable: Iterable[Any]) -> tqdm:
        return progress(iterable, type(self).__name__, self.verbose)

    def _finish(self, module: nn.Module, centers: torch.Tensor, X: torch.Tensor, it: int) -> None:
        """Set the fitted state from the trained network and centres."""
        module.eval()
        self.n_iter_ = it
        self.module_ = module
        self._centers = centers.detach()
        self.cluster_centers_ = self._centers.cpu().numpy()
        self.labels_ = self._labels(X)
        self.embedding_ = self._codes(X).cpu().numpy()

    def _codes(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The encoder's codes of ``X`` (float32, computed with the fit's precision)."""
        encode = self._prec.wrap(self.module_.encoder)
        return batched(encode, as_tensor(X, self._centers.device))

    def _labels(self, X: torch.Tensor) -> np.ndarray:
        """The nearest centre of each row's code."""
        return squared_distances(self._codes(X), self._centers).argmin(1).cpu().numpy()

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The fine-tuned encoder's codes of ``X``."""
        return self._codes(X).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The cluster of each row of ``X``."""
        return self._labels(as_tensor(X, self._centers.device))
