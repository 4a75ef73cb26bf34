"""Data sets in the common multi-view format and the builders that make them."""

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.data.sources import BUILDERS, build

__all__ = ["BUILDERS", "DatasetError", "MultiViewDataset", "build"]
