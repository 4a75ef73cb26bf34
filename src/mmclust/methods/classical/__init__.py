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
"""

from __future__ import annotations

from mmclust.methods.classical.agglomerative import ACPIC, ACLink, ACZell
from mmclust.methods.classical.nmf import NMFD, NMFLP
from mmclust.methods.classical.spectral import SCLS, SCNJW, SCST, NCuts

#: config name -> estimator class
CLASSICAL = {
    "sc-njw": SCNJW,
    "sc-st": SCST,
    "sc-ls": SCLS,
    "n-cuts": NCuts,
    "ac-link": ACLink,
    "ac-zell": ACZell,
    "ac-pic": ACPIC,
    "nmf-lp": NMFLP,
    "nmf-d": NMFD,
}

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
