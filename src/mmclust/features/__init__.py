"""Feature extraction: turns the views of a prepared data set into the
numeric matrices that the clustering methods read.

Attributes are imported on first use, so that importing a light submodule
(``mmclust.features.names``) does not load numpy and the data-set code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmclust.features.inputs import FeatureSet, build_input

__all__ = ["FeatureSet", "build_input"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mmclust.features import inputs

        return getattr(inputs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
