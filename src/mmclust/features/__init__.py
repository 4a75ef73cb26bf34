"""Feature extraction: turns the views of a prepared data set into the
numeric matrices that the clustering methods read."""

from mmclust.features.inputs import FeatureSet, build_input

__all__ = ["FeatureSet", "build_input"]
