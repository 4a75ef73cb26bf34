"""Helpers every builder shares: finding raw files, text and label views, the last step.

* :func:`require` / :func:`first_existing`: the first of several candidate
  files (or folders) under a raw folder, as a path or as an error that names
  the missing file and how to get it;
* :func:`text_view`, :func:`paths_view`, :func:`check_images`: the ``text``
  and ``image_file`` views of the image + text data sets;
* :func:`labels_from_names`, :func:`remap_labels`, :func:`drop_empty_classes`:
  class ids 0..k-1 from whatever the raw files call the classes;
* :func:`finish`: the last step of every builder that reports counts: the
  counts obtained are logged beside the paper's and both are stored in
  ``meta`` (``reference_counts``, ``obtained_counts``);
  :func:`image_text_dataset` is that step for the image-file + text sets.

Nothing here imports more than numpy: a builder module stays cheap to import
(its heavy readers, h5py, Pillow, scipy, are imported inside the builder).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset, ViewKind

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


# -- raw files -----------------------------------------------------------------------------


def package_dir(package: str, install_hint: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"the package {package!r} is not installed: {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def raw_folder(raw_dir: PathLike | None, what: str, fix: str) -> Path:
    """``raw_dir`` as a Path; a DatasetError when it is not given or is not a folder."""
    if raw_dir is None or str(raw_dir) == "":
        raise DatasetError(f"{what}: no raw_dir given: {fix}")
    folder = Path(raw_dir)
    if not folder.is_dir():
        raise DatasetError(f"{what}: the raw folder {folder} does not exist: {fix}")
    return folder


def first_existing(root: Path, names: Sequence[str], *, files_only: bool = False) -> Path | None:
    """``root / name`` for the first of ``names`` that exists (only files if ``files_only``)."""
    for name in names:
        path = root / name
        if path.is_file() if files_only else path.exists():
            return path
    return None


def require(
    root: Path,
    names: str | Sequence[str],
    fix: str,
    *,
    what: str | None = None,
    files_only: bool = False,
) -> Path:
    """The first existing of ``names`` under ``root``, else a DatasetError with the fix.

    The message names the first candidate, the alternatives and ``fix``
    (how to get the file), after ``what`` (what the file is) when given.
    """
    names = [names] if isinstance(names, str) else list(names)
    path = first_existing(root, names, files_only=files_only)
    if path is None:
        alternatives = " or ".join(names[1:])
        also = f" (or {alternatives})" if alternatives else ""
        head = f"{what} not found: " if what else ""
        raise DatasetError(f"{head}{root / names[0]} is missing{also}: {fix}")
    return path


def read_text(path: Path) -> str:
    """Text of a file: UTF-8, falling back to Latin-1 for old files."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# -- views ---------------------------------------------------------------------------------


def clean(text: str) -> str:
    """One line of text: every run of whitespace (newlines, tabs) becomes one space."""
    return " ".join(text.split())


def text_view(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unicode array of one-line texts and its mask (False where the text is empty)."""
    arr = np.array([clean(t) for t in texts], dtype=str)
    return arr, np.char.str_len(arr) > 0


def paths_view(paths: Sequence[str]) -> np.ndarray:
    return np.array(list(paths), dtype=str)


def check_images(root: Path, paths: Iterable[str], dataset: str, fix: str) -> None:
    """A DatasetError naming the first missing image files (relative to ``root``)."""
    missing = [p for p in paths if not (root / p).is_file()]
    if missing:
        shown = ", ".join(str(root / p) for p in missing[:5])
        raise DatasetError(
            f"{dataset}: {len(missing)} image file(s) are missing, e.g. {shown}. {fix}"
        )


# -- labels --------------------------------------------------------------------------------


def labels_from_names(
    names: Sequence[str], order: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Class ids 0..k-1 for string labels; ``order`` fixes the class order (default: sorted)."""
    classes = list(order) if order is not None else sorted(set(names))
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[s] for s in names], dtype=np.int64), classes


def remap_labels(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Labels ``0..k-1`` in the order of the sorted original ids, and those ids as names."""
    values, labels = np.unique(raw, return_inverse=True)
    names = []
    for v in values:
        if isinstance(v, float | np.floating) and float(v).is_integer():
            v = int(v)
        names.append(str(v))
    return labels.astype(np.int64), names


def drop_empty_classes(
    labels: np.ndarray, classes: list[str], name: str
) -> tuple[np.ndarray, list[str]]:
    """Leave out classes without samples (with a warning) so ids stay 0..k-1.

    An empty selection is an error: there is nothing to cluster.
    """
    if labels.size == 0:
        raise DatasetError(
            f"{name}: no sample was selected; check the raw files and the builder's options"
        )
    present = np.unique(labels)
    if present.size == len(classes):
        return labels, classes
    empty = [c for i, c in enumerate(classes) if i not in set(present.tolist())]
    log.warning("%s: classes %s have no sample and are left out", name, empty)
    remap = np.full(len(classes), -1, dtype=np.int64)
    remap[present] = np.arange(present.size)
    return remap[labels], [classes[i] for i in present]


# -- the last step -------------------------------------------------------------------------


def log_counts(name: str, obtained: dict[str, Any], reference: dict[str, Any] | None) -> None:
    """One log line: the counts obtained and the paper's."""
    log.info(
        "%s: obtained %s; paper reports %s",
        name,
        ", ".join(f"{k}={v}" for k, v in obtained.items()),
        "n/a" if not reference else ", ".join(f"{k}={v}" for k, v in reference.items()),
    )


def class_shares(labels: np.ndarray) -> dict[str, float]:
    """The largest and the smallest class's share of the samples (3 decimals, as papers print)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    counts = counts[counts > 0]
    if counts.size == 0:
        return {}
    total = float(counts.sum())
    return {
        "largest_class_share": round(float(counts.max()) / total, 3),
        "smallest_class_share": round(float(counts.min()) / total, 3),
    }


def words_per_item(texts: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The mean number of words of the texts present (1 decimal, as JECL's table prints)."""
    words = [len(str(t).split()) for t, m in zip(texts, mask, strict=True) if m]
    return {"words_per_item": round(float(np.mean(words)), 1)} if words else {}


def count_differences(
    obtained: dict[str, Any], reference: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """``{key: {"obtained": ..., "paper": ...}}`` for every count both give that differs.

    Shares (keys ending in ``_share``) are compared at the paper's precision
    (0.1 percentage point), ``words_per_item`` at 0.1 word.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, paper in (reference or {}).items():
        if key not in obtained or not isinstance(paper, int | float):
            continue
        got = obtained[key]
        if not isinstance(got, int | float):
            continue
        if key.endswith("_share"):
            same = abs(got - paper) < 0.0015
        elif key == "words_per_item":
            same = abs(got - paper) < 0.051
        else:
            same = got == paper
        if not same:
            out[key] = {"obtained": got, "paper": paper}
    return out


def finish(
    name: str,
    views: dict[str, np.ndarray],
    labels: np.ndarray,
    *,
    kinds: dict[str, ViewKind],
    class_names: list[str],
    meta: dict[str, Any],
    reference: dict[str, Any] | None,
    obtained: dict[str, Any],
    tail: dict[str, Any] | None = None,
    masks: dict[str, np.ndarray] | None = None,
    split: np.ndarray | None = None,
    warn_differences: bool = True,
) -> MultiViewDataset:
    """The data set a builder returns, after logging its counts beside the paper's.

    ``meta`` of the result holds ``meta``, then ``reference_counts`` (the
    paper's, None when there is no paper count), ``obtained_counts`` and
    ``count_differences`` (:func:`count_differences`; a WARNING lists them),
    then ``tail``.
    """
    log_counts(name, obtained, reference)
    differences = count_differences(obtained, reference)
    if differences and warn_differences:
        log.warning(
            "%s: counts differ from the paper's: %s",
            name,
            "; ".join(f"{k} {v['obtained']} (paper {v['paper']})" for k, v in differences.items()),
        )
    return MultiViewDataset(
        name=name,
        views=views,
        labels=labels,
        masks=masks or {},
        kinds=kinds,
        class_names=class_names,
        split=split,
        meta={
            **meta,
            "reference_counts": reference,
            "obtained_counts": obtained,
            "count_differences": differences,
            **(tail or {}),
        },
    )


def image_text_dataset(
    name: str,
    raw_dir: Path,
    paths: Sequence[str],
    text: tuple[np.ndarray, np.ndarray],
    labels: np.ndarray,
    class_names: list[str],
    *,
    provenance: dict[str, Any],
    reference: dict[str, Any] | None,
    notes: str,
    counts: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    split: np.ndarray | None = None,
) -> MultiViewDataset:
    """:func:`finish` for an image-file + text data set (the JECL / DM2C sets).

    Two views: ``image`` of kind ``image_file``, the image paths relative to
    ``meta["image_root"]`` (``raw_dir`` as it was passed in, so a relative
    ``raw_dir`` keeps the project relocatable: the photo collections stay on
    disk), and ``text`` of kind ``text`` with its mask (``text`` is the pair
    :func:`text_view` returns: ``""`` and mask False where a sample has none).
    The counts obtained are n and k, then ``counts``.

    ``meta`` holds, in this order: ``provenance`` (source, url, licence,
    built_by), ``image_root``, ``options``, ``reference_counts``,
    ``obtained_counts``, ``details`` and ``notes``.
    """
    values, mask = text
    return finish(
        name,
        {"image": paths_view(paths), "text": values},
        labels,
        masks={"text": mask},
        kinds={"image": "image_file", "text": "text"},
        class_names=class_names,
        split=split,
        meta={**provenance, "image_root": str(raw_dir), **(options or {})},
        reference=reference,
        obtained={
            "n": len(paths),
            "k": len(class_names),
            **class_shares(labels),
            **words_per_item(values, mask),
            **(counts or {}),
        },
        tail={**(details or {}), "notes": notes},
    )
