"""PCA of one view to a configured dimension.

DM2C reduces each modality with PCA (2048-d for Wikipedia, 1000-d for
NUS-WIDE-10K).  The paper does not say on which samples the PCA is fitted; here
it is fitted on the training split only when the data set has one (so that no
information from the test samples shapes the features), otherwise on every
sample that has the view.  It is then applied to every present sample; absent
samples get zero rows (the mask, not the zeros, says they are absent).  The
components are not whitened.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.decomposition import PCA

from mmclust.data.dataset import DatasetError

log = logging.getLogger(__name__)


def rows_mask(rows: np.ndarray | None, n: int) -> np.ndarray:
    """A boolean (n,) mask from a boolean mask or an array of row indices (None: all)."""
    if rows is None:
        return np.ones(n, dtype=bool)
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise DatasetError(f"a boolean row selection must have shape ({n},), got {rows.shape}")
        return rows.copy()
    if rows.dtype.kind not in "iu":
        raise DatasetError(f"rows must be a boolean mask or integer indices, got {rows.dtype}")
    if rows.size and (rows.min() < -n or rows.max() >= n):
        raise DatasetError(f"row indices out of range for {n} samples")
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def pca_reduce(
    X: np.ndarray,
    mask: np.ndarray,
    n_components: int,
    fit_rows: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Project the present rows of ``X`` onto the first ``n_components`` principal axes.

    X
        (n, d) features of one view (rows where ``mask`` is False are ignored).
    fit_rows
        the rows to fit on (boolean (n,) or indices), typically ``split == "train"``;
        intersected with ``mask``.  ``None``: every present row.
    seed
        ``random_state`` of scikit-learn's PCA (used by its randomized solver, which
        ``svd_solver="auto"`` picks for large inputs).

    Returns float32 (n, n_components); absent rows are zero.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        X = X.reshape(X.shape[0], -1)
    n = X.shape[0]
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n,):
        raise DatasetError(f"mask must have shape ({n},), got {mask.shape}")
    fit = rows_mask(fit_rows, n) & mask
    n_fit, d = int(fit.sum()), X.shape[1]
    if n_fit == 0:
        raise DatasetError(
            "no present sample is among the rows to fit the PCA on: check the data set's "
            "split and the view's mask"
        )
    if not 1 <= n_components <= min(n_fit, d):
        raise DatasetError(
            f"PCA to {n_components} dimensions needs at least that many fitting samples and "
            f"features, but there are {n_fit} samples and {d} features: lower the configured "
            "dimension"
        )
    pca = PCA(n_components=n_components, random_state=seed)
    pca.fit(X[fit].astype(np.float64, copy=False))
    out = np.zeros((n, n_components), dtype=np.float32)
    out[mask] = pca.transform(X[mask].astype(np.float64, copy=False))
    log.info(
        "PCA %d -> %d fitted on %d of %d present rows, explained variance %.3f",
        d, n_components, n_fit, int(mask.sum()), float(pca.explained_variance_ratio_.sum()),
    )  # fmt: skip
    return out
