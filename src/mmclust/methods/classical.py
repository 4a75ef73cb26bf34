"""The classical clustering baselines of JULE's Tables 1-2, as scikit-learn estimators.

JULE (Yang, Parikh & Batra, CVPR 2016) compares with K-means, SC-NJW, SC-ST,
SC-LS, N-Cuts, AC-Link, AC-Zell, AC-GDL, AC-PIC, NMF-LP and NMF-D on raw
intensities (Table 1) and on other methods' representations (Table 2).  All
but K-means (``mmclust.methods.kmeans``) and AC-GDL live here:

=========  ==================  ===========================================
config     class               module
=========  ==================  ===========================================
sc-njw     :class:`SCNJW`      ``classical_spectral`` (Ng, Jordan & Weiss 2002)
sc-st      :class:`SCST`       ``classical_spectral`` (Zelnik-Manor & Perona 2004)
sc-ls      :class:`SCLS`       ``classical_spectral`` (Chen & Cai 2011)
n-cuts     :class:`NCuts`      ``classical_spectral`` (Shi & Malik 2000; Yu & Shi 2003)
ac-link    :class:`ACLink`     ``classical_agglomerative`` (average linkage)
ac-zell    :class:`ACZell`     ``classical_agglomerative`` (Zhao & Tang 2008)
ac-pic     :class:`ACPIC`      ``classical_agglomerative`` (Zhang, Zhao & Wang 2013)
nmf-lp     :class:`NMFLP`      ``classical_nmf`` (Cai et al. 2009)
nmf-d      :class:`NMFD`       ``classical_nmf`` (Trigeorgis et al. 2014)
=========  ==================  ===========================================

Each ``fit(X)`` takes one float matrix (n, d), never reads labels, and sets
``labels_`` (n,) and ``embedding_`` (the representation that was clustered).
Each class docstring states the method's citation, the parameter defaults
(the baselines' own papers / code where known) and the cost.
"""

from __future__ import annotations

from mmclust.methods.classical_agglomerative import ACPIC, ACLink, ACZell
from mmclust.methods.classical_nmf import NMFD, NMFLP
from mmclust.methods.classical_spectral import SCLS, SCNJW, SCST, NCuts

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
