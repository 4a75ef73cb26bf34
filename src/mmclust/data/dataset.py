"""The one on-disk data-set format that every stage reads.

A prepared data set is a folder with two files:

``data.npz``
    ``labels``               int64 (n,), class ids 0..k-1 (evaluation only)
    ``view__<name>``         one array per view, first axis n; numeric
                             (feature vectors, images as uint8 (n, H, W[, C]))
                             or unicode strings (captions, tags, or image file
                             paths relative to ``meta["image_root"]``)
    ``mask__<name>``         bool (n,), True where sample i has view <name>
    ``split`` (optional)     unicode (n,), "train" / "test"
``meta.json``
    name, n, k, class_names, per-view kind / shape / dtype / present count,
    source, licence, how it was built and any reference counts.

Paired data (every mask all True), partially paired data (missing captions),
mixed-modal data (each sample has exactly one view) and single-view images are
all this one structure.  An absent view entry is never a zero vector that a
method could mistake for data: methods read the mask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mmclust.io import atomic_path, read_json, write_json

# image: uint8 pixel arrays; image_file: paths of image files (large photo
# collections stay on disk); vector: numeric features; text: captions / tags.
ViewKind = Literal["image", "image_file", "vector", "text"]
FORMAT_VERSION = 1


class DatasetError(ValueError):
    """A data set on disk or in memory does not follow the common format."""


@dataclass
class MultiViewDataset:
    name: str
    views: dict[str, np.ndarray]
    labels: np.ndarray
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, ViewKind] = field(default_factory=dict)
    class_names: list[str] | None = None
    split: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels).astype(np.int64, copy=False)
        if self.labels.ndim != 1:
            raise DatasetError(f"{self.name}: labels must be 1-d, got {self.labels.shape}")
        n = self.labels.shape[0]
        # never write into the caller's dictionaries
        self.views = dict(self.views)
        self.masks = dict(self.masks)
        self.kinds = dict(self.kinds)
        if not self.views:
            raise DatasetError(f"{self.name}: a data set needs at least one view")
        for v, x in list(self.views.items()):
            if x.dtype == object:
                if not all(isinstance(e, str) for e in x.ravel()):
                    raise DatasetError(
                        f"{self.name}: view {v!r} is an object array; store numbers as a "
                        "numeric dtype and text as str"
                    )
                x = self.views[v] = x.astype(str)
            if "__" in v or not v:
                raise DatasetError(f"{self.name}: invalid view name {v!r}")
            if x.shape[0] != n:
                raise DatasetError(
                    f"{self.name}: view {v!r} has {x.shape[0]} rows but there are {n} labels"
                )
            mask = self.masks.get(v)
            self.masks[v] = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
            if self.masks[v].shape != (n,):
                raise DatasetError(f"{self.name}: mask of view {v!r} must have shape ({n},)")
            self.kinds.setdefault(v, _guess_kind(x))
        unknown = set(self.masks) - set(self.views)
        if unknown:
            raise DatasetError(f"{self.name}: masks for unknown views {sorted(unknown)}")
        if self.split is not None:
            self.split = np.asarray(self.split).astype(str)
            bad = set(np.unique(self.split)) - {"train", "test"}
            if self.split.shape != (n,) or bad:
                raise DatasetError(f"{self.name}: split must be one of 'train'/'test' per sample")

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    @property
    def k(self) -> int:
        return int(np.unique(self.labels).size)

    def describe(self) -> dict[str, Any]:
        """Metadata written beside the arrays (``meta.json``)."""
        views = {}
        for v, x in self.views.items():
            views[v] = {
                "kind": self.kinds[v],
                "shape": list(x.shape[1:]),
                "dim": (
                    int(np.prod(x.shape[1:])) if self.kinds[v] in ("image", "vector") else None
                ),
                "dtype": str(x.dtype),
                "present": int(self.masks[v].sum()),
            }
        counts = np.bincount(self.labels)
        out = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "n": self.n,
            "k": self.k,
            "class_names": self.class_names,
            "class_counts": counts.tolist(),
            "views": views,
        }
        if self.split is not None:
            out["split_counts"] = {s: int((self.split == s).sum()) for s in ("train", "test")}
        out.update(self.meta)
        return out

    def save(self, folder: str | os.PathLike[str]) -> None:
        folder = Path(folder)
        arrays: dict[str, np.ndarray] = {"labels": self.labels}
        for v, x in self.views.items():
            arrays[f"view__{v}"] = x
            arrays[f"mask__{v}"] = self.masks[v]
        if self.split is not None:
            arrays["split"] = self.split
        with atomic_path(folder / "data.npz", suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        write_json(folder / "meta.json", self.describe())

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> MultiViewDataset:
        data_path, meta_path = prepared_files(folder)
        meta = read_json(meta_path)
        with np.load(data_path, allow_pickle=False) as z:
            views = {k[6:]: z[k] for k in z.files if k.startswith("view__")}
            masks = {k[6:]: z[k] for k in z.files if k.startswith("mask__")}
            labels = z["labels"]
            split = z["split"] if "split" in z.files else None
        kinds = {v: d["kind"] for v, d in meta.get("views", {}).items()}
        reserved = {
            "format_version", "name", "n", "k", "class_names", "class_counts",
            "views", "split_counts",
        }  # fmt: skip
        return cls(
            name=meta["name"],
            views=views,
            labels=labels,
            masks=masks,
            kinds=kinds,
            class_names=meta.get("class_names"),
            split=split,
            meta={k: v for k, v in meta.items() if k not in reserved},
        )

    def subset(self, index: np.ndarray) -> MultiViewDataset:
        """The samples at ``index`` (an integer or boolean array), same views."""
        return MultiViewDataset(
            name=self.name,
            views={v: x[index] for v, x in self.views.items()},
            labels=self.labels[index],
            masks={v: m[index] for v, m in self.masks.items()},
            kinds=dict(self.kinds),
            class_names=self.class_names,
            split=None if self.split is None else self.split[index],
            meta=dict(self.meta),
        )


def prepared_files(folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``data.npz`` and ``meta.json`` of a prepared data set; a DatasetError naming the
    missing file and the command that makes it."""
    folder = Path(folder)
    data_path, meta_path = folder / "data.npz", folder / "meta.json"
    for p in (data_path, meta_path):
        if not p.exists():
            raise DatasetError(
                f"{p} does not exist: prepare the data set first (snakemake {data_path})"
            )
    return data_path, meta_path


def _guess_kind(x: np.ndarray) -> ViewKind:
    if x.dtype.kind in "US":
        return "text"
    if x.ndim >= 3:
        return "image"
    return "vector"
