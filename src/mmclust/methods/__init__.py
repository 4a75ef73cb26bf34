"""Clustering methods as scikit-learn-style estimators.

``registry`` maps the ``estimator`` names of the config's ``methods`` section
to the classes (imported on demand) and says which fine-tune the shared
pretrained autoencoders (``PRETRAINED``) and which take several views
(``MULTIVIEW``).  The estimators below are imported on first use, so that the
registry (read by the workflow's plan) does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmclust.methods.registry import MULTIVIEW, PRETRAINED, load

if TYPE_CHECKING:
    from mmclust.methods.dec import DEC, IDEC
    from mmclust.methods.jecl import JECL
    from mmclust.methods.kmeans import KMeansBaseline

_LAZY = {
    "DEC": "mmclust.methods.dec",
    "IDEC": "mmclust.methods.dec",
    "JECL": "mmclust.methods.jecl",
    "KMeansBaseline": "mmclust.methods.kmeans",
}

__all__ = ["DEC", "IDEC", "JECL", "MULTIVIEW", "PRETRAINED", "KMeansBaseline", "load"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
