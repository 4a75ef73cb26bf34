"""Turn a paired data set into a mixed-modal one (DM2C's setting).

In a mixed-modal data set every sample has exactly one of two modalities: a
sample is an image *or* a text, never both, and no pairing is known.  DM2C
builds these from paired data sets (Wikipedia, NUS-WIDE-10K) by keeping one
side of each pair at random, then splits them into train and test sets.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)


def make_mixed_modal(
    ds: MultiViewDataset,
    views: Sequence[str] = ("image", "text"),
    p_first: float = 0.5,
    test_fraction: float = 1 / 3,
    seed: int = 0,
    name: str | None = None,
) -> MultiViewDataset:
    """Keep one view per sample, then split train/test per class, all from ``seed``.

    * One uniform number per sample (``numpy.random.default_rng(seed)``, in
      sample order, drawn for every sample so the draw does not depend on
      which samples are paired): a sample that has both views keeps the first
      with probability ``p_first`` and the second otherwise; a sample that has
      only one view keeps it; a sample with neither is dropped.
    * The dropped view's mask becomes False (the mask is authoritative) and
      its entry is blanked: ``""`` for text / file paths, 0 for numbers.
      Other views of ``ds`` are left as they are.
    * Stratified split, with the same generator continued: within every class
      the samples are shuffled and ``floor(test_fraction * count + 0.5)`` of
      them go to ``test`` (so each class is within ±0.5 of its exact share,
      and classes of any size work).  An existing split of ``ds`` is replaced
      (its counts are kept in ``meta["mixed_modal"]["replaced_split_counts"]``).
    * ``meta["mixed_modal"]`` records the settings and the number of samples
      per kept modality and split.

    The result is a function of ``(ds, views, p_first, test_fraction, seed)``
    only: the same seed gives identical arrays.
    """
    if len(views) != 2 or views[0] == views[1]:
        raise DatasetError(f"make_mixed_modal needs two different views, got {list(views)}")
    first, second = views
    missing = [v for v in views if v not in ds.views]
    if missing:
        raise DatasetError(
            f"{ds.name}: no view(s) {missing} to mix; the data set has {sorted(ds.views)}"
        )
    if not 0.0 <= p_first <= 1.0:
        raise DatasetError(f"p_first must be in [0, 1], got {p_first}")
    if not 0.0 <= test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be in [0, 1), got {test_fraction}")

    rng = np.random.default_rng(seed)
    draw = rng.random(ds.n) < p_first
    has1, has2 = ds.masks[first], ds.masks[second]
    keep1 = has1 & (draw | ~has2)
    keep2 = has2 & ~keep1
    present = keep1 | keep2
    dropped = int((~present).sum())
    if dropped:
        log.warning("%s: %d samples have neither %s nor %s and are dropped", ds.name, dropped,
                    first, second)  # fmt: skip
    out = ds.subset(np.flatnonzero(present))
    keep1, keep2 = keep1[present], keep2[present]
    for v, keep in ((first, keep1), (second, keep2)):
        x = out.views[v].copy()
        x[~keep] = "" if x.dtype.kind in "US" else 0
        out.views[v] = x
        out.masks[v] = keep.copy()

    split = np.full(out.n, "train", dtype="<U5")
    for c in np.unique(out.labels):
        members = np.flatnonzero(out.labels == c)
        n_test = math.floor(test_fraction * members.size + 0.5)
        split[rng.permutation(members)[:n_test]] = "test"

    counts = {
        f"{v}_only": {s: int((keep & (split == s)).sum()) for s in ("train", "test")}
        for v, keep in ((first, keep1), (second, keep2))
    }
    meta = dict(out.meta)
    meta["mixed_modal"] = {
        "views": [first, second],
        "p_first": p_first,
        "test_fraction": test_fraction,
        "seed": seed,
        "source_n": ds.n,
        "dropped_without_either_view": dropped,
        "counts": counts,
        "replaced_split_counts": (
            None if ds.split is None else {s: int((ds.split == s).sum()) for s in ("train", "test")}
        ),
        "notes": (
            f"Each sample keeps only its {first} (probability {p_first}) or only its {second}; "
            "the other view is blanked and masked out; stratified train/test split per class."
        ),
    }
    log.info("%s: mixed-modal counts %s", ds.name, counts)
    return MultiViewDataset(
        name=name or out.name,
        views=out.views,
        labels=out.labels,
        masks=out.masks,
        kinds=out.kinds,
        class_names=out.class_names,
        split=split,
        meta=meta,
    )
