"""The classical clustering baselines of JULE's Tables 1-2, as scikit-learn estimators.

JULE (Yang, Parikh & Batra, CVPR 2016) compares with K-means, SC-NJW, SC-ST,
SC-LS, N-Cuts, AC-Link, AC-Zell, AC-GDL, AC-PIC, NMF-LP and NMF-D on raw
intensities (Table 1) and on other methods' representations (Table 2).  They
all live in this package:

=========  ========================  =========================================
config     class                     module
=========  ========================  =========================================
kmeans     :class:`KMeansBaseline`   ``kmeans`` (also the "+ KM" step of the
                                     other papers' tables)
sc-njw     :class:`SCNJW`            ``spectral`` (Ng, Jordan & Weiss 2002)
sc-st      :class:`SCST`             ``spectral`` (Zelnik-Manor & Perona 2004)
sc-ls      :class:`SCLS`             ``spectral`` (Chen & Cai 2011)
n-cuts     :class:`NCuts`            ``spectral`` (Shi & Malik 2000; Yu & Shi 2003)
ac-link    :class:`ACLink`           ``agglomerative`` (average linkage)
ac-zell    :class:`ACZell`           ``agglomerative`` (Zhao & Tang 2008)
ac-pic     :class:`ACPIC`            ``agglomerative`` (Zhang, Zhao & Wang 2013)
ac-gdl     :class:`ACGDL`            ``gdl`` (Zhang et al. 2012; JULE's own
                                     agglomeration, :mod:`mmclust.methods.jule`)
nmf-lp     :class:`NMFLP`            ``nmf`` (Cai et al. 2009)
nmf-d      :class:`NMFD`             ``nmf`` (Trigeorgis et al. 2014)
=========  ========================  =========================================

:data:`CLASSICAL` maps the config names of all but K-means and AC-GDL (which
have their own tests and benchmarks) to their classes.

Each ``fit(X)`` takes one float matrix (n, d), never reads labels, and sets
``labels_`` (n,) and ``embedding_`` (the representation that was clustered).
Each class docstring states the method's citation, the parameter defaults
(the baselines' own papers / code where known) and the cost.

The classes (and :data:`CLASSICAL`) are imported on first use, so that a run
of a method that does not compute with torch (k-means, the spectral and
agglomerative baselines) does not load it through NMF-LP / NMF-D's module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmclust.methods.classical.agglomerative import ACPIC, ACLink, ACZell
    from mmclust.methods.classical.nmf import NMFD, NMFLP
    from mmclust.methods.classical.spectral import SCLS, SCNJW, SCST, NCuts

#: config name -> (module, class) of every entry of :data:`CLASSICAL`
_CLASSES = {
    "sc-njw": ("spectral", "SCNJW"),
    "sc-st": ("spectral", "SCST"),
    "sc-ls": ("spectral", "SCLS"),
    "n-cuts": ("spectral", "NCuts"),
    "ac-link": ("agglomerative", "ACLink"),
    "ac-zell": ("agglomerative", "ACZell"),
    "ac-pic": ("agglomerative", "ACPIC"),
    "nmf-lp": ("nmf", "NMFLP"),
    "nmf-d": ("nmf", "NMFD"),
}
_MODULE_OF = {cls: module for module, cls in _CLASSES.values()}

__all__ = [
    "ACPIC",
    "CLASSICAL",
    "NMFD",
    "NMFLP",
    "SCLS",
    "SCNJW",
    "SCST",
    "ACLink",
    "ACZell",
    "NCuts",
]


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        module = importlib.import_module(f"{__name__}.{_MODULE_OF[name]}")
        return getattr(module, name)
    if name == "CLASSICAL":
        # config name -> estimator class
        return {key: __getattr__(cls) for key, (_, cls) in _CLASSES.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
