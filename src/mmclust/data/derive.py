"""Derived data sets: a subsample per class and/or captions (a view) removed.

The JECL robustness experiments vary the data size (points per class) and the
fraction of missing captions.  A derived data set is a pure function of its
base data set, its settings and its seed:

1. ``per_class``: within every class the samples are shuffled
   (``numpy.random.default_rng(seed)``) and the first ``per_class`` kept (all
   of a smaller class); the kept samples stay in their original order.
2. ``missing = {view, rate}``: among the kept samples that have ``view`` and
   at least one other view, ``floor(rate * count + 0.5)`` chosen with the same
   generator lose it (mask False, entry blanked).  A sample whose only view is
   ``view`` keeps it, so every sample keeps at least one view.

Features of a derived data set are the base data set's features with the same
rows and masks (see ``mmclust.features.combine.derive_input``): the feature
extractors are unsupervised and fitted once on the base data, so every point
of a sweep clusters the same vectors and differs only in what the sweep
changes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset


def derive_rows(
    ds: MultiViewDataset,
    per_class: int | None = None,
    missing: dict[str, Any] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows of ``ds`` kept (sorted indices) and each view's mask on those rows."""
    rng = np.random.default_rng(seed)
    if per_class is not None:
        if per_class < 1:
            raise DatasetError(f"per_class must be at least 1, got {per_class}")
        keep = [rng.permutation(np.flatnonzero(ds.labels == c))[:per_class]
                for c in np.unique(ds.labels)]  # fmt: skip
        rows = np.sort(np.concatenate(keep))
    else:
        rows = np.arange(ds.n)
    masks = {v: m[rows].copy() for v, m in ds.masks.items()}
    if missing:
        view, rate = missing["view"], float(missing["rate"])
        if view not in masks:
            raise DatasetError(
                f"{ds.name} has no view {view!r} to remove; its views are {sorted(masks)}"
            )
        if not 0.0 <= rate <= 1.0:
            raise DatasetError(f"missing.rate must be in [0, 1], got {rate}")
        others = [m for v, m in masks.items() if v != view]
        if not others:
            raise DatasetError(f"{ds.name}: {view!r} is its only view; nothing could remain")
        eligible = np.flatnonzero(masks[view] & np.logical_or.reduce(others))
        n_drop = math.floor(rate * eligible.size + 0.5)
        masks[view][rng.permutation(eligible)[:n_drop]] = False
    return rows, masks


def derive_dataset(ds: MultiViewDataset, spec: dict[str, Any], name: str) -> MultiViewDataset:
    """The derived data set described by ``spec`` (a config entry with ``derived_from``)."""
    rows, masks = derive_rows(ds, spec.get("per_class"), spec.get("missing"), spec.get("seed", 0))
    out = ds.subset(rows)
    for v, m in masks.items():
        x = out.views[v]
        if not np.array_equal(m, out.masks[v]):
            x = x.copy()
            x[~m] = "" if x.dtype.kind in "US" else 0
        out.views[v] = x
        out.masks[v] = m
    meta = dict(out.meta)
    meta["derived"] = {
        "from": ds.name,
        "per_class": spec.get("per_class"),
        "missing": spec.get("missing"),
        "seed": spec.get("seed", 0),
        "base_n": ds.n,
        "present": {v: int(m.sum()) for v, m in masks.items()},
    }
    return MultiViewDataset(
        name=name,
        views=out.views,
        labels=out.labels,
        masks=out.masks,
        kinds=out.kinds,
        class_names=out.class_names,
        split=out.split,
        meta=meta,
    )
