"""Clustering methods as scikit-learn-style estimators.

``registry`` maps the ``estimator`` names of the config's ``methods`` section
to the classes (imported on demand) and says which fine-tune the shared
pretrained autoencoders (``PRETRAINED``) and which take several views
(``MULTIVIEW``).
"""

from mmclust.methods.dec import DEC, IDEC
from mmclust.methods.jecl import JECL
from mmclust.methods.kmeans import KMeansBaseline
from mmclust.methods.registry import MULTIVIEW, PRETRAINED, load

__all__ = ["DEC", "IDEC", "JECL", "MULTIVIEW", "PRETRAINED", "KMeansBaseline", "load"]
