"""Finite-value checks where numbers enter, and the training-divergence check.

Every number a method reads must be finite: one NaN in a feature matrix makes
scikit-learn fail with a traceback that names neither the file nor the row,
makes ``transform: standardize`` spread it over its whole column, and makes a
network's loss NaN, after which the "fitted" model writes an all-NaN
embedding.  The checks here run where numbers enter (the feature build, the
raw views, every method's ``fit``, the pretraining and clustering jobs) and
fail with a message that names what was read, the first bad row and column,
how many values are bad, and the fix.

:func:`check_loss` is the training side: a loss (or a soft assignment) that
becomes NaN or infinite stops the fit with :class:`TrainingDivergedError`, so
no embedding, labels or model is written and Snakemake records nothing as
finished.

Only numpy is imported here (torch tensors are read through ``float()``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError

#: what to do about non-finite input values (the end of every such message)
INPUT_FIX = (
    "clustering needs finite numbers: fix or remove those values in the source files "
    "(or leave the rows out of the data set), then rebuild"
)


class NonFiniteError(DatasetError):
    """Input values that are NaN or infinite (the message names where)."""


class TrainingDivergedError(RuntimeError):
    """A training loss (or a quantity computed from it) became NaN or infinite."""


def first_nonfinite(
    X: np.ndarray, rows: np.ndarray | None = None
) -> tuple[int, int, float, int, int] | None:
    """``(row, column, value, n_bad_values, n_bad_rows)`` of the first non-finite entry.

    ``X`` is read as 2-d (extra axes flattened); ``rows`` (bool, n) limits the
    search to those rows (e.g. the samples that have the view).  None when every
    value is finite.  Integer and boolean arrays are always finite.
    """
    X = np.asarray(X)
    if X.dtype.kind not in "fc" or X.size == 0:
        return None
    flat = X.reshape(X.shape[0], -1) if X.ndim != 1 else X[:, None]
    bad = ~np.isfinite(flat)
    if rows is not None:
        bad &= np.asarray(rows, dtype=bool)[:, None]
    if not bad.any():
        return None
    bad_rows = bad.any(axis=1)
    r = int(np.argmax(bad_rows))
    c = int(np.argmax(bad[r]))
    return r, c, float(flat[r, c]), int(bad.sum()), int(bad_rows.sum())


def describe_nonfinite(hit: tuple[int, int, float, int, int]) -> str:
    r, c, value, n_values, n_rows = hit
    more = "" if n_values == 1 else f" ({n_values} non-finite values in {n_rows} row(s))"
    return f"row {r}, column {c} is {value}{more}"


def check_finite(
    X: np.ndarray, what: str, *, rows: np.ndarray | None = None, fix: str = INPUT_FIX
) -> None:
    """A :class:`NonFiniteError` when ``X`` (restricted to ``rows``) holds NaN or inf.

    ``what`` names the values (a file and an array or view); rows and columns
    are counted from 0, in the order of the data set's samples.
    """
    hit = first_nonfinite(X, rows)
    if hit is not None:
        raise NonFiniteError(f"{what}: {describe_nonfinite(hit)}; {fix}")


def check_loss(value: Any, who: str, step: str, fix: str | None = None) -> float:
    """``value`` as a float; a :class:`TrainingDivergedError` when it is NaN or infinite.

    ``who`` names the model being trained, ``step`` where (``"epoch 3"``).
    """
    x = float(value)
    if not math.isfinite(x):
        raise TrainingDivergedError(
            f"{who}: the training loss became {x} at {step}; the fit is stopped and nothing "
            "is written. "
            + (
                fix
                or "Lower the learning rate (lr), or check the input for extreme values "
                "(a transform: standardize or scale input keeps them in range)"
            )
        )
    return x


def check_all_finite(value: Any, who: str, step: str, what: str = "soft assignments") -> None:
    """A :class:`TrainingDivergedError` when an array or tensor holds NaN or inf.

    For quantities a training loop computes anyway (cluster assignments, codes):
    a non-finite value there means the model's weights have diverged.
    """
    arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    if not np.isfinite(arr).all():
        raise TrainingDivergedError(
            f"{who}: the {what} became non-finite at {step} (the weights diverged); the "
            "fit is stopped and nothing is written. Lower the learning rate (lr), or check "
            "the input for extreme values"
        )


def check_n_clusters(n_clusters: int, n_samples: int, who: str) -> None:
    """``1 <= n_clusters <= n_samples``, else a ValueError that says which and why.

    An estimator accepts k = 1 (one cluster is a valid, if trivial, answer);
    the workflow asks for k >= 2 (a data set needs two classes, and the
    clustering job checks k before it fits: :func:`mmclust.fitting.fit_run`).
    """
    if n_clusters < 1:
        raise ValueError(f"{who}: n_clusters = {n_clusters}; it must be at least 1")
    if n_clusters > n_samples:
        raise ValueError(
            f"{who}: n_clusters = {n_clusters} is more than the {n_samples} samples it is "
            "fitted on; use a data set with more samples per class (or fewer classes)"
        )
