"""The two estimator contracts the workflow's ``cluster`` step relies on.

Single-input estimators (k-means, DEC, IDEC, JULE, the JULE baselines, ...)
follow scikit-learn: ``fit(X)`` on one float32 matrix (n, d), then
``labels_`` (n,) and ``embedding_`` (n, d') are set; ``predict(X)`` assigns
new rows where the method can.

Multi-view estimators (JECL, DM2C, the multi-view baselines) subclass
:class:`MultiViewMixin` and take the views as a list:

``fit(views, y=None, masks=None)``
    ``views`` is a list of float32 matrices, one per view, all with the same
    number of rows n; ``masks`` is a list of bool vectors (n,) saying which
    samples have each view (None: every sample has every view).  A row whose
    mask is False carries no information (its values are zeros and must never
    be read as data).  Every sample has at least one view.
``labels_`` (n,), ``embedding_`` (n, d') as above.
``predict(views, masks=None)`` where the method can assign new samples.

``y`` is accepted for scikit-learn compatibility and never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_array

from mmclust.validation import check_finite, check_n_clusters


class MultiViewMixin:
    """Marks an estimator whose ``fit`` takes a list of views and their masks."""

    multiview = True


def check_views(
    views: Sequence[np.ndarray],
    masks: Sequence[np.ndarray] | None = None,
    n_views: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validate a list of views and masks; return float32 views and bool masks.

    Raises ``ValueError`` naming the problem when the views disagree in their
    number of rows, a mask has the wrong shape, or a sample has no view.
    """
    if isinstance(views, np.ndarray):
        raise ValueError("a multi-view estimator takes a list of views, not one matrix")
    views = [np.ascontiguousarray(v, dtype=np.float32) for v in views]
    if not views:
        raise ValueError("no views given")
    if n_views is not None and len(views) != n_views:
        raise ValueError(f"this method takes exactly {n_views} views, got {len(views)}")
    n = views[0].shape[0]
    for i, v in enumerate(views):
        if v.ndim != 2:
            raise ValueError(f"view {i} must be a 2-d matrix (n, d), got shape {v.shape}")
        if v.shape[0] != n:
            raise ValueError(f"view {i} has {v.shape[0]} rows, view 0 has {n}")
    if masks is None:
        masks = [np.ones(n, dtype=bool) for _ in views]
    else:
        masks = [np.asarray(m, dtype=bool) for m in masks]
        if len(masks) != len(views):
            raise ValueError(f"{len(masks)} masks for {len(views)} views")
        for i, m in enumerate(masks):
            if m.shape != (n,):
                raise ValueError(f"mask {i} has shape {m.shape}, expected ({n},)")
    if not np.logical_or.reduce(masks).all():
        raise ValueError("some samples have no view at all; drop them before clustering")
    for i, (v, m) in enumerate(zip(views, masks, strict=True)):
        check_finite(v, f"view {i} given to fit", rows=m)
    return views, list(masks)


def check_input(X: Any, n_clusters: int | None, who: str) -> np.ndarray:
    """What every single-input estimator's ``fit`` checks first; returns ``X`` as an array.

    ``X`` must be a 2-d numeric matrix of finite values (a
    :class:`~mmclust.validation.NonFiniteError` names the first bad row and
    column) with at least ``n_clusters`` >= 1 rows.  ``who`` names the
    estimator in the messages.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{who}.fit takes a 2-d matrix (n, d), got shape {X.shape}")
    if X.dtype.kind not in "fciub":
        raise ValueError(f"{who}.fit takes numbers, got an array of {X.dtype}")
    check_finite(X, f"the input of {who}.fit")
    if n_clusters is not None:
        check_n_clusters(int(n_clusters), X.shape[0], who)
    return X


def check_X(X: ArrayLike, min_samples: int = 2) -> np.ndarray:
    """A finite 2-d float matrix (n, d) as float64 (float32 input is upcast).

    The classical baselines of JULE's tables compute in float64.
    """
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=min_samples)
    return np.asarray(X, dtype=np.float64)


def check_nonnegative(X: np.ndarray, method: str) -> None:
    """Raise a ValueError naming the problem and the fix when X has negative entries."""
    lo = float(X.min())
    if lo < 0:
        raise ValueError(
            f"{method} factorises the data into nonnegative factors and needs X >= 0, "
            f"but X has negative entries (min {lo:.4g}); use nonnegative features such as "
            "raw intensities (input transform: scale or none, not standardize)"
        )
