"""Input checks shared by the classical baselines of JULE's tables.

The kNN graphs, normalised affinities and eigenvectors these baselines build
are the shared primitives of :mod:`mmclust.cluster.graph` and
:mod:`mmclust.cluster.spectral`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_array


def check_X(X: ArrayLike, min_samples: int = 2) -> np.ndarray:
    """A finite 2-d float matrix (n, d) as float64 (float32 input is upcast)."""
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=min_samples)
    return np.asarray(X, dtype=np.float64)


def check_n_clusters(n_clusters: int, n_samples: int) -> None:
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(f"n_clusters={n_clusters} must be between 1 and n_samples={n_samples}")


def check_nonnegative(X: np.ndarray, method: str) -> None:
    """Raise a ValueError naming the problem and the fix when X has negative entries."""
    lo = float(X.min())
    if lo < 0:
        raise ValueError(
            f"{method} factorises the data into nonnegative factors and needs X >= 0, "
            f"but X has negative entries (min {lo:.4g}); use nonnegative features such as "
            "raw intensities (input transform: scale or none, not standardize)"
        )
