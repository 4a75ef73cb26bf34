"""Builders that turn a raw source into a :class:`~mmclust.data.dataset.MultiViewDataset`.

One module per data set (``coco``, ``pascal``, ``nyu_rgbd``, ``wikipedia``,
``nus_wide``, ``captioned_folder``, ``synthetic_captions``, ``mnist`` (MNIST
and Fashion-MNIST, one IDX reader), ``usps``, ``coil`` (COIL-20 and
COIL-100), ``umist``, ``jule_h5``, ``mfeat``, ``mnist5k``, ``digits``); the
helpers they share are written once in ``_common`` (raw files, text and label
views, counts beside the paper's, the last step) and ``_images`` (pixel
values, resizing, JULE's reference counts).

:data:`BUILDERS` maps the ``source`` names of the config's ``datasets``
section to ``"module:function"``.  The registry is lazy: a builder's module is
imported only when its source is used, so building ``mfeat`` imports neither
h5py, Pillow nor torch.  Builder modules import their heavy readers inside
the builder, so that reading a builder's options and views
(:func:`accepted_options`, :func:`declared_views`) stays cheap.

Builders that need files take them from ``raw_dir`` (filled by the download
rules); the offline ones (``mfeat``, ``mnist5k``, ``digits``,
``synthetic_captions``) read data that a Python package ships.

Each builder module declares its views without building anything: a
module-level ``VIEWS``, either a tuple of view names or a function of the
options dict returning one.  The image + text modules also declare what each
view holds (``VIEW_KINDS``: ``image_file``, ``image``, ``text``), so that the
plan can reject an input that reads captions or image files as raw numbers
before any job runs.

Every built data set has at least two classes: a clustering benchmark with
one class scores 1.0 by construction (:func:`build` checks it).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from mmclust.data.dataset import DatasetError, MultiViewDataset

__all__ = [
    "BUILDERS",
    "accepted_options",
    "build",
    "check_options",
    "declared_view_kinds",
    "declared_views",
    "load",
]

Builder = Callable[..., MultiViewDataset]

_PKG = "mmclust.data.builders"

#: source name -> "module:function" (the module is imported on first use)
BUILDERS: dict[str, str] = {
    # offline: data that Python packages ship
    "mfeat": f"{_PKG}.mfeat:mfeat",
    "mnist5k": f"{_PKG}.mnist5k:mnist5k",
    "digits": f"{_PKG}.digits:digits",
    "synthetic_captions": f"{_PKG}.synthetic_captions:synthetic_captions",
    # JULE's image sets (and Fashion-MNIST)
    "mnist": f"{_PKG}.mnist:mnist",
    "fashion_mnist": f"{_PKG}.mnist:fashion_mnist",
    "usps": f"{_PKG}.usps:usps",
    "coil20": f"{_PKG}.coil:coil20",
    "coil100": f"{_PKG}.coil:coil100",
    "umist": f"{_PKG}.umist:umist",
    "jule_h5": f"{_PKG}.jule_h5:jule_h5",
    # image + text sets of JECL and DM2C, and bring-your-own
    "coco": f"{_PKG}.coco:coco",
    "pascal_sentences": f"{_PKG}.pascal:pascal_sentences",
    "nyu_rgbd": f"{_PKG}.nyu_rgbd:nyu_rgbd",
    "wikipedia": f"{_PKG}.wikipedia:wikipedia",
    "nus_wide_10k": f"{_PKG}.nus_wide:nus_wide_10k",
    "captioned_folder": f"{_PKG}.captioned_folder:captioned_folder",
}


def _resolve(source: str) -> tuple[ModuleType, Builder]:
    try:
        target = BUILDERS[source]
    except KeyError:
        raise DatasetError(
            f"unknown data source {source!r}; known sources: {sorted(BUILDERS)}"
        ) from None
    module_name, _, function = target.partition(":")
    module = importlib.import_module(module_name)
    return module, getattr(module, function)


def load(source: str) -> Builder:
    """The builder function of ``source`` (its module imported now)."""
    return _resolve(source)[1]


def accepted_options(source: str) -> dict[str, inspect.Parameter]:
    """The options ``source`` accepts: its builder's parameters except ``name``, in order.

    ``raw_dir`` is among them for the builders that read raw files; the
    workflow fills it from the data set's ``raw`` entry.
    """
    params = inspect.signature(load(source)).parameters
    return {k: p for k, p in params.items() if k != "name"}


def check_options(source: str, options: Mapping[str, Any] | None) -> None:
    """A DatasetError naming the options ``source`` does not accept, and the accepted ones."""
    params = inspect.signature(load(source)).parameters
    unknown = sorted(set(options or {}) - set(params) - {"name"})
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        allowed = sorted(k for k in params if k != "name")
        raise DatasetError(
            f"data source {source!r} has no option(s) {unknown}; its options are {allowed}"
        )


def declared_views(source: str, options: Mapping[str, Any] | None = None) -> tuple[str, ...] | None:
    """The view names ``source`` builds with ``options``, without building anything.

    None when the builder's module declares no ``VIEWS``.  The options are
    checked first (:func:`check_options`); a declaration that depends on
    them may also reject their values (e.g. an unknown ``mfeat`` view).
    """
    check_options(source, options)
    module, _ = _resolve(source)
    decl = getattr(module, "VIEWS", None)
    if decl is None:
        return None
    if callable(decl):
        return tuple(decl(dict(options or {})))
    return tuple(decl)


def declared_view_kinds(source: str) -> dict[str, str]:
    """What the views of ``source`` hold, where its module declares it (``VIEW_KINDS``),
    else an empty dict."""
    module, _ = _resolve(source)
    return dict(getattr(module, "VIEW_KINDS", {}))


def build(source: str, name: str, options: Mapping[str, Any] | None = None) -> MultiViewDataset:
    """Build data set ``name`` from ``source`` with the config's ``options``.

    A data set with fewer than two classes is an error: every clustering
    scores ACC = NMI = ARI = 1.0 on it, whatever it does.
    """
    fn = load(source)
    options = dict(options or {})
    check_options(source, options)
    ds = fn(name=name, **options)
    if ds.k < 2:
        raise DatasetError(
            f"data set {name!r} (source {source!r}) has {ds.k} class"
            f"{'' if ds.k == 1 else 'es'} ({ds.class_names}): a clustering benchmark needs at "
            "least two classes (with one, every method scores 1.0 by construction); give the "
            "samples their real labels"
        )
    return ds
