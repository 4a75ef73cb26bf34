"""Data sets in the common multi-view format and the builders that make them."""

from mmclust.data.builders import BUILDERS, build, declared_views
from mmclust.data.dataset import DatasetError, MultiViewDataset

__all__ = ["BUILDERS", "DatasetError", "MultiViewDataset", "build", "declared_views"]
