"""Composite inputs (several inputs of one data set combined) and the inputs
of derived data sets.

A composite input is a config entry ``{combine: [a, b, ...], mode, transform}``
naming other inputs of the same data set.  Its file keeps every part (for the
multi-view methods: JECL, DM2C, the multi-view baselines) and one matrix ``X``
for the single-input methods:

``mode: concat``  the parts side by side; a sample is present where it has
                  every part (the papers' "Concat" baselines)
``mode: pool``    parts of equal width stacked into one space, each sample
                  taking the part it has (DM2C's baselines on the pooled,
                  equally reduced modalities); a sample may have one part only

``transform`` (default ``none``; ``standardize``, ``unit_power``, ``scale``
with ``factor``: see :mod:`mmclust.features.inputs`) is applied to each part
on its own, with statistics over the part's present samples (of the training
split when the data set has one); the transformed parts are what the file
keeps for the multi-view methods, and ``X`` is formed from them.  A
multi-view method that fine-tunes pretrained autoencoders gets autoencoders
pretrained on these transformed parts (the workflow pretrains on the input
``<composite>.<part>``, one part of the composite's file: see
:func:`part_of_composite`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.features.inputs import TRANSFORMS, FeatureSet, fit_rows_of, transform_view


def combine_inputs(
    parts: Sequence[FeatureSet],
    names: Sequence[str],
    mode: str = "concat",
    transform: str = "none",
    factor: float | None = None,
    train: np.ndarray | None = None,
) -> FeatureSet:
    """Several inputs of one data set as one composite input.

    ``transform`` (with ``factor`` for ``scale``) is applied to each part, its
    statistics fitted on the part's present samples of the training split
    (``train``, bool (n,)) when the data set has one.
    """
    if len(parts) != len(names) or len(parts) < 2:
        raise DatasetError("a composite input combines at least two inputs, one name each")
    n = parts[0].X.shape[0]
    for name, fs in zip(names, parts, strict=True):
        if fs.X.shape[0] != n:
            raise DatasetError(
                f"input {name!r} has {fs.X.shape[0]} rows, {names[0]!r} has {n}: "
                "composite inputs must come from one data set"
            )
        if fs.parts:
            raise DatasetError(f"input {name!r} is itself composite; combine plain inputs only")
    if transform not in TRANSFORMS:
        raise DatasetError(
            f"unknown transform {transform!r} for a composite; use one of {', '.join(TRANSFORMS)}"
        )
    if train is not None and np.asarray(train).shape != (n,):
        raise DatasetError(f"the split has {np.asarray(train).shape[0]} rows, the parts {n}")
    blocks = [
        fs.X
        if transform == "none"
        else transform_view(fs.X, fs.mask, transform, factor, fit_rows_of(fs.mask, train))
        for fs in parts
    ]
    masks = [fs.mask for fs in parts]
    if mode == "concat":
        X = np.concatenate(blocks, axis=1)
        mask = np.logical_and.reduce(masks)
    elif mode == "pool":
        widths = {b.shape[1] for b in blocks}
        if len(widths) != 1:
            raise DatasetError(
                f"mode: pool needs parts of equal width, got {[b.shape[1] for b in blocks]}; "
                "reduce them to one size with pca_dim"
            )
        if (np.sum(masks, axis=0) > 1).any():
            raise DatasetError(
                "mode: pool needs every sample to have at most one of the parts "
                "(a mixed-modal data set); use mode: concat for paired data"
            )
        X = np.zeros_like(blocks[0])
        for b, m in zip(blocks, masks, strict=True):
            X[m] = b[m]
        mask = np.logical_or.reduce(masks)
    else:
        raise DatasetError(f"unknown mode {mode!r}; use concat or pool")
    return FeatureSet(
        X=np.ascontiguousarray(X, dtype=np.float32),
        mask=mask,
        parts=dict(zip(names, blocks, strict=True)),
        part_masks={name: fs.mask for name, fs in zip(names, parts, strict=True)},
    )


def part_of_composite(composite: FeatureSet, part: str) -> FeatureSet:
    """One part of a composite input's file as an input of its own (what the
    workflow pretrains a multi-view method's autoencoder of that part on)."""
    if part not in composite.parts:
        raise DatasetError(
            f"the composite input has no part {part!r}; its parts are {list(composite.parts)}"
        )
    return FeatureSet(
        X=np.ascontiguousarray(composite.parts[part], dtype=np.float32),
        mask=composite.part_masks[part].copy(),
    )


def derive_input(
    base: FeatureSet, base_ds: MultiViewDataset, spec: dict[str, Any], views: Sequence[str]
) -> FeatureSet:
    """The base input restricted to a derived data set's rows and masks.

    ``spec`` is the derived data set's config entry, ``views`` the data-set
    views this input is made of (a sample keeps the input where it still has
    all of them).
    """
    from mmclust.data.derive import derive_rows

    if base.X.shape[0] != base_ds.n:
        raise DatasetError(
            f"the base input has {base.X.shape[0]} rows but {base_ds.name} has {base_ds.n} "
            "samples: rebuild the base input"
        )
    rows, masks = derive_rows(
        base_ds, spec.get("per_class"), spec.get("missing"), spec.get("seed", 0)
    )
    mask = base.mask[rows].copy()
    for v in views:
        mask &= masks[v]
    X = base.X[rows].copy()
    X[~mask] = 0.0
    return FeatureSet(X=X, mask=mask)
