"""Clustering methods as scikit-learn-style estimators, laid out by family.

* ``jecl``, ``dm2c``, ``jule``: the three reproduced papers' methods;
* ``deep/``: DEC and IDEC, DKM, DCN, IMSAT, and the deep two-view embeddings
  VSE, DCCA, CCAL;
* ``multiview/``: the shallow multi-view and incomplete-view baselines BMVC,
  MLRSSC, DMF-MVC, PIC, DAIMC;
* ``classical/``: k-means and the classical baselines of JULE's tables
  (spectral, agglomerative with graph degree linkage among them, NMF);
* ``base``: the two estimator contracts (single input, list of views) and
  their input checks.

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
    from mmclust.methods.classical.kmeans import KMeansBaseline
    from mmclust.methods.deep.dec import DEC, IDEC
    from mmclust.methods.jecl import JECL

_LAZY = {
    "DEC": "mmclust.methods.deep.dec",
    "IDEC": "mmclust.methods.deep.dec",
    "JECL": "mmclust.methods.jecl",
    "KMeansBaseline": "mmclust.methods.classical.kmeans",
}

__all__ = ["DEC", "IDEC", "JECL", "MULTIVIEW", "PRETRAINED", "KMeansBaseline", "load"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
