"""Clustering inputs built directly from a data set's views, and the
transforms and keys every kind of input takes.

An *input* is one float32 matrix ``X`` (n, d) with a presence mask (n,).  It
is made from one or more views of a prepared data set:

``scale``        multiplied by ``factor``; by default images (uint8) are divided
                 by 255 and other views left unchanged.  DEC scales MNIST
                 pixels by 0.02 so that (1/d) ||x||^2 is about 1.
``standardize``  every feature to zero mean and unit variance (constant
                 features stay 0)
``unit_power``   one scalar per view so that the mean over the samples of
                 (1/d) ||x_i||^2 is exactly 1: DEC's criterion for its inputs
                 (the DEC paper scales MNIST so that (1/d) ||x_i||^2 is about
                 1), met for any view without a data-set-specific constant.
                 It changes the scale only (directions, signs and the relative
                 scale of the features are kept), so that views of very
                 different magnitudes (pixels, Doc2Vec codes) enter a
                 multi-view method at one scale.
``none``         the values as stored, as float32

Statistics (means, standard deviations, the unit-power scalar) are computed
over the samples that have the view, on the training split only when the
data set has one (as PCA is); every present sample is then transformed, and
absent samples keep zero rows.

With several views, each is transformed on its own, flattened and the results
are concatenated; a sample is present only where it has every view.

Every kind of input takes its own keys
(:data:`mmclust.features.specs.INPUT_KEYS`); a key that the kind does not
use is an error naming the key, the input and the keys it takes (checked by
the plan before any job runs, and by :func:`check_input_spec` when an input
is built).  ``transform`` applies to any input but
``from_model``: to the raw views (before ``pca_dim``), to an extractor's
output (after ``pca_dim``), to a run's representation (``from_run``) and, for
a composite, to each of its parts (which the multi-view methods read) before
its matrix ``X`` is formed (see :mod:`mmclust.features.combine`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.features.specs import TRANSFORMS, input_transform, spec_problem
from mmclust.io import atomic_path

Transform = Literal["scale", "standardize", "unit_power", "none"]


def check_input_spec(spec: dict[str, Any], where: str = "input") -> None:
    """Raise :class:`DatasetError` naming the key when an input entry has a key its kind
    does not use, an unknown transform, or a ``factor`` without ``transform: scale``
    (:func:`mmclust.features.specs.spec_problem`)."""
    problem = spec_problem(spec, where)
    if problem:
        raise DatasetError(problem)


@dataclass
class FeatureSet:
    """A clustering input: ``X`` (n, d) float32 and ``mask`` (n,) bool.

    A composite input (several inputs combined, see
    ``mmclust.features.combine``) also keeps its parts: ``parts`` maps each
    part's name to its matrix and ``part_masks`` to its mask, in order.
    Multi-view methods read the parts; single-input methods read ``X``.
    """

    X: np.ndarray
    mask: np.ndarray
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    part_masks: dict[str, np.ndarray] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str]) -> None:
        arrays = {"X": self.X, "mask": self.mask}
        if self.parts:
            arrays["part_names"] = np.array(list(self.parts), dtype=str)
            for name, x in self.parts.items():
                arrays[f"part__{name}"] = x
                arrays[f"pmask__{name}"] = self.part_masks[name]
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureSet:
        if not Path(path).exists():
            raise DatasetError(f"{path} does not exist: build the features first")
        with np.load(path, allow_pickle=False) as z:
            names = [str(v) for v in z["part_names"]] if "part_names" in z.files else []
            return cls(
                X=z["X"],
                mask=z["mask"],
                parts={v: z[f"part__{v}"] for v in names},
                part_masks={v: z[f"pmask__{v}"] for v in names},
            )


def fit_rows_of(mask: np.ndarray, train: np.ndarray | None) -> np.ndarray:
    """The rows statistics are fitted on: the present samples, of the training split
    (``train``, bool (n,)) when the data set has one."""
    mask = np.asarray(mask, dtype=bool)
    return mask if train is None else mask & np.asarray(train, dtype=bool)


def unit_power_scale(x: np.ndarray, fit: np.ndarray) -> float:
    """The scalar s with mean over the ``fit`` rows of (1/d) ||s x_i||^2 equal to 1.

    Returns 1 when those rows are all zero (nothing to scale).
    """
    rows = x[fit].astype(np.float64)
    if rows.size == 0:
        raise DatasetError("unit_power: no sample to compute the scale on")
    power = float(np.mean(np.sum(rows * rows, axis=1)) / rows.shape[1])
    return 1.0 if power == 0.0 else 1.0 / np.sqrt(power)


def transform_view(
    x: np.ndarray,
    mask: np.ndarray,
    transform: Transform,
    factor: float | None = None,
    fit_rows: np.ndarray | None = None,
) -> np.ndarray:
    """One view (or matrix) transformed, flattened to (n, d) float32.

    ``fit_rows`` (bool (n,)) restricts the rows the statistics are computed
    on (the training split); it is intersected with ``mask``.  Rows outside
    ``mask`` are zero in the result for ``standardize`` and ``unit_power``.
    """
    if x.dtype.kind in "US":
        raise DatasetError(
            "a text view cannot be used as raw numbers; give it a text feature "
            "extractor in the config"
        )
    flat = x.reshape(x.shape[0], -1)
    mask = np.asarray(mask, dtype=bool)
    fit = mask if fit_rows is None else mask & np.asarray(fit_rows, dtype=bool)
    if factor is not None and transform != "scale":
        raise DatasetError("'factor' applies to transform: scale only")
    if transform == "scale":
        if factor is None:
            factor = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0
        out = flat.astype(np.float32) * np.float32(factor)
    elif transform == "standardize":
        out = flat.astype(np.float64)
        present = out[fit]
        if present.shape[0] == 0:
            raise DatasetError("standardize: no sample to compute the statistics on")
        mean = present.mean(axis=0)
        std = present.std(axis=0)
        # constant columns by value: rounding can leave a std of ~1e-17
        constant = np.ptp(present, axis=0) == 0
        std[constant] = 1.0
        out = (out - mean) / std
        out[:, constant] = 0.0
        out[~mask] = 0.0
    elif transform == "unit_power":
        out = flat.astype(np.float64) * unit_power_scale(flat, fit)
        out[~mask] = 0.0
    elif transform == "none":
        out = flat
    else:
        raise DatasetError(f"unknown transform {transform!r}; use one of {', '.join(TRANSFORMS)}")
    return np.ascontiguousarray(out, dtype=np.float32)


def transform_features(
    fs: FeatureSet, spec: dict[str, Any], train: np.ndarray | None = None
) -> FeatureSet:
    """An extracted or from_run input with its entry's ``transform`` applied (after PCA),
    its statistics fitted on the training rows ``train`` (bool (n,)) when given."""
    transform = input_transform(spec)
    if transform == "none":
        return fs
    X = transform_view(fs.X, fs.mask, transform, spec.get("factor"), fit_rows_of(fs.mask, train))
    return FeatureSet(X=X, mask=fs.mask)


def build_input(
    ds: MultiViewDataset,
    views: list[str],
    transform: Transform = "standardize",
    factor: float | None = None,
) -> FeatureSet:
    """Raw views transformed (statistics on the training split when there is one) and
    concatenated."""
    missing = [v for v in views if v not in ds.views]
    if missing:
        raise DatasetError(
            f"data set {ds.name!r} has no view(s) {missing}; its views are {sorted(ds.views)}"
        )
    mask = np.logical_and.reduce([ds.masks[v] for v in views])
    train = None if ds.split is None else ds.split == "train"
    parts = [transform_view(ds.views[v], ds.masks[v], transform, factor, train) for v in views]
    return FeatureSet(X=np.concatenate(parts, axis=1), mask=mask)
