"""Clustering inputs built directly from a data set's views.

An *input* is one float32 matrix ``X`` (n, d) with a presence mask (n,).  It
is made from one or more views of a prepared data set:

``scale``        multiplied by ``factor``; by default images (uint8) are divided
                 by 255 and other views left unchanged.  DEC scales MNIST
                 pixels by 0.02 so that (1/d) ||x||^2 is about 1.
``standardize``  every feature to zero mean and unit variance over the
                 samples that have the view (constant features stay 0)
``none``         the values as stored, as float32

With several views, each is transformed on its own, flattened and the results
are concatenated; a sample is present only where it has every view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.io import atomic_path

Transform = Literal["scale", "standardize", "none"]


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


def transform_view(
    x: np.ndarray, mask: np.ndarray, transform: Transform, factor: float | None = None
) -> np.ndarray:
    if x.dtype.kind in "US":
        raise DatasetError(
            "a text view cannot be used as raw numbers; give it a text feature "
            "extractor in the config"
        )
    flat = x.reshape(x.shape[0], -1)
    if factor is not None and transform != "scale":
        raise DatasetError("'factor' applies to transform: scale only")
    if transform == "scale":
        if factor is None:
            factor = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0
        out = flat.astype(np.float32) * np.float32(factor)
    elif transform == "standardize":
        out = flat.astype(np.float64)
        present = out[mask]
        mean = present.mean(axis=0)
        std = present.std(axis=0)
        # constant columns by value: rounding can leave a std of ~1e-17
        constant = np.ptp(present, axis=0) == 0
        std[constant] = 1.0
        out = (out - mean) / std
        out[:, constant] = 0.0
        out[~mask] = 0.0
    elif transform == "none":
        out = flat
    else:
        raise DatasetError(f"unknown transform {transform!r}; use scale, standardize or none")
    return np.ascontiguousarray(out, dtype=np.float32)


def build_input(
    ds: MultiViewDataset,
    views: list[str],
    transform: Transform = "standardize",
    factor: float | None = None,
) -> FeatureSet:
    missing = [v for v in views if v not in ds.views]
    if missing:
        raise DatasetError(
            f"data set {ds.name!r} has no view(s) {missing}; its views are {sorted(ds.views)}"
        )
    mask = np.logical_and.reduce([ds.masks[v] for v in views])
    parts = [transform_view(ds.views[v], ds.masks[v], transform, factor) for v in views]
    return FeatureSet(X=np.concatenate(parts, axis=1), mask=mask)
