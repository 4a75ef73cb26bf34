"""Clustering methods as scikit-learn-style estimators, and their registry.

``ESTIMATORS`` maps the ``estimator`` name used in the config's ``methods``
section to the class; ``PRETRAINED`` names those that start from the shared
autoencoder pretraining (passed as the ``autoencoder`` parameter).
"""

from mmclust.methods.dec import DEC, IDEC
from mmclust.methods.jecl import JECL
from mmclust.methods.kmeans import KMeansBaseline

ESTIMATORS = {"kmeans": KMeansBaseline, "dec": DEC, "idec": IDEC, "jecl": JECL}
PRETRAINED = frozenset({"dec", "idec", "jecl"})

__all__ = ["DEC", "ESTIMATORS", "IDEC", "JECL", "PRETRAINED", "KMeansBaseline"]
