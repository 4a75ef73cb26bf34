"""UMist faces (Graham & Allinson 1998), cropped: 575 images of 20 people, 112x92 grey."""

from __future__ import annotations

import numpy as np

from mmclust.data.builders._common import PathLike, raw_folder, require
from mmclust.data.builders._images import (
    Size,
    image_dataset,
    jule_reference,
    load_mat,
    mat_vars,
    to_uint8,
)
from mmclust.data.dataset import DatasetError, MultiViewDataset

VIEWS = ("image",)

UMIST_URL = "https://cs.nyu.edu/~roweis/data/umist_cropped.mat"


def umist(
    name: str,
    raw_dir: PathLike,
    file: str = "umist_cropped.mat",
    resize: Size = None,
    interpolation: str = "bicubic",
) -> MultiViewDataset:
    """UMist from Roweis' ``umist_cropped.mat``.

    ``raw_dir/umist_cropped.mat`` holds ``facedat``, a 1 x 20 cell array whose
    cell ``i`` is a uint8 112 x 92 x k_i array of subject ``i``'s images, and
    ``dirnames``, the 20 subject folder names (``1a``, ``1b``, ...), used as
    class names.  Samples are ordered by subject, then file order.
    """
    fix = f"download {UMIST_URL} into it"
    folder = raw_folder(raw_dir, "UMist", fix)
    path = require(folder, [file], f"download {UMIST_URL} into {folder}", files_only=True)
    mat = load_mat(path)
    if "facedat" not in mat:
        raise DatasetError(f"{path} has no variable 'facedat' ({mat_vars(mat)}): not UMist")
    cells = np.asarray(mat["facedat"]).ravel()
    if cells.dtype != object:
        raise DatasetError(f"{path}: 'facedat' must be a cell array, got {cells.dtype}")
    images, labels = [], []
    for i, cell in enumerate(cells):
        arr = np.asarray(cell)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise DatasetError(f"{path}: facedat cell {i + 1} has shape {arr.shape}, not H x W x k")
        arr, _ = to_uint8(arr, path, "auto")
        images.append(np.moveaxis(arr, -1, 0))
        labels.append(np.full(arr.shape[-1], i, dtype=np.int64))
    if not images:
        raise DatasetError(f"{path}: 'facedat' is empty")
    sizes = {im.shape[1:] for im in images}
    if len(sizes) != 1:
        raise DatasetError(f"{path}: subjects have different image sizes {sorted(sizes)}")
    names = None
    if "dirnames" in mat:
        raw_names = np.asarray(mat["dirnames"]).ravel()
        if raw_names.size == cells.size:
            names = [str(np.asarray(n).ravel()[0]) if np.size(n) else "" for n in raw_names]
    if names is None:
        names = [f"subject{i + 1}" for i in range(cells.size)]
    lab = np.concatenate(labels)
    present = np.unique(lab)
    return image_dataset(
        name,
        np.concatenate(images),
        lab,
        class_names=[names[i] for i in present],
        reference=jule_reference("UMist"),
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": "UMist face database, cropped (umist_cropped.mat: facedat, dirnames)",
            "url": UMIST_URL,
            "licence": "no formal licence; research use, cite Graham & Allinson 1998",
            "built_by": "mmclust.data.builders.umist.umist",
            "read_from": str(path),
        },
    )
