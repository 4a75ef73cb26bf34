"""What the DEC family's fine-tuning shares."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from mmclust.nn.autoencoder import DenoisingAutoencoder, pretrain_autoencoder


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
) -> nn.Module:
    """A private copy of the given autoencoder's network, or of one pretrained here."""
    if autoencoder is None:
        autoencoder = pretrain_autoencoder(X, pretrain_params, random_state, device, verbose)
    return copy.deepcopy(autoencoder.module_)


def initial_kmeans(z: np.ndarray, n_clusters: int, n_init: int, seed: int) -> KMeans:
    return KMeans(n_clusters, n_init=n_init, random_state=seed).fit(z)
