"""Neural building blocks shared by the deep clustering methods."""

from mmclust.nn.autoencoder import DenoisingAutoencoder, StackedAutoencoder
from mmclust.nn.clustering import soft_assign, target_distribution
from mmclust.nn.utils import resolve_device, seed_everything

__all__ = [
    "DenoisingAutoencoder",
    "StackedAutoencoder",
    "resolve_device",
    "seed_everything",
    "soft_assign",
    "target_distribution",
]
