"""COIL-20 (processed, grey) and COIL-100 (RGB): objects photographed at 72 poses.

Images are ordered by object, then pose (numerically, not lexically); class
names are ``obj<object id>``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mmclust.data.builders._common import PathLike, raw_folder
from mmclust.data.builders._images import Size, image_dataset, jule_reference
from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

VIEWS = ("image",)

COIL20_URL = (
    "https://cave.cs.columbia.edu/old/databases/SLAM_coil-20_coil-100/coil-20/coil-20-proc.zip"
)
COIL100_URL = (
    "https://cave.cs.columbia.edu/old/databases/SLAM_coil-20_coil-100/coil-100/coil-100.zip"
)

_COIL_FILE = re.compile(r"^obj(\d+)__(\d+)\.png$", re.IGNORECASE)


def _coil(
    name: str,
    raw_dir: PathLike,
    *,
    variant: str,
    subfolder: str,
    mode: str,
    url: str,
    poses: int,
    resize: Size,
    interpolation: str,
    built_by: str,
) -> MultiViewDataset:
    from PIL import Image

    zip_name = url.rsplit("/", 1)[-1]
    fix = f"download {url} and unzip it into {raw_dir} (giving {subfolder}/obj1__0.png, ...)"
    folder = raw_folder(raw_dir, variant, fix)
    candidates = [folder / subfolder, folder]
    files: list[tuple[int, int, Path]] = []
    used = folder
    for cand in candidates:
        if not cand.is_dir():
            continue
        found = []
        for p in cand.iterdir():
            m = _COIL_FILE.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1)), int(m.group(2)), p))
        if found:
            files, used = sorted(found), cand
            break
    if not files:
        raise DatasetError(
            f"{folder / subfolder / 'obj1__0.png'} is missing (no obj<i>__<j>.png images in "
            f"{folder / subfolder} or {folder}): download {url} and unzip {zip_name} into {folder}"
        )
    images = []
    first_size = None
    for _obj, _pose, p in tqdm(files, desc=f"read {variant}", leave=False):
        try:
            with Image.open(p) as im:
                arr = np.asarray(im.convert(mode))
        except OSError as e:
            raise DatasetError(f"{p} is not a readable PNG ({e}): unzip {zip_name} again") from None
        if first_size is None:
            first_size = arr.shape
        elif arr.shape != first_size:
            raise DatasetError(
                f"{p} is {arr.shape[1]}x{arr.shape[0]} but {files[0][2].name} is "
                f"{first_size[1]}x{first_size[0]}: the folder mixes images of different sizes; "
                f"unzip {zip_name} again into an empty folder"
            )
        images.append(arr)
    objects = np.array([f[0] for f in files])
    per_object = np.bincount(np.unique(objects, return_inverse=True)[1])
    notes = []
    if np.any(per_object != poses):
        msg = (
            f"{int(np.sum(per_object != poses))} objects do not have {poses} poses "
            f"(counts {sorted(set(per_object.tolist()))})"
        )
        log.warning("%s: %s", name, msg)
        notes.append(msg)
    return image_dataset(
        name,
        np.stack(images).astype(np.uint8),
        objects,
        class_names=[f"obj{o}" for o in np.unique(objects)],
        reference=jule_reference(variant),
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": f"{variant} ({subfolder}: obj<object>__<pose>.png, read as Pillow mode "
            f"{mode}), ordered by object then pose",
            "url": url,
            "licence": "no formal licence; research use, cite Nene, Nayar & Murase 1996",
            "built_by": built_by,
            "read_from": str(used),
            "notes": notes,
        },
    )


def coil20(
    name: str, raw_dir: PathLike, resize: Size = None, interpolation: str = "bicubic"
) -> MultiViewDataset:
    """COIL-20, processed version: 20 objects x 72 poses, 128x128 grey.

    ``raw_dir`` holds the unzipped ``coil-20-proc.zip``: ``raw_dir/coil-20-proc/
    obj{1..20}__{0..71}.png`` (or the PNGs directly in ``raw_dir``).
    """
    return _coil(
        name, raw_dir, variant="COIL-20", subfolder="coil-20-proc", mode="L", url=COIL20_URL,
        poses=72, resize=resize, interpolation=interpolation,
        built_by="mmclust.data.builders.coil.coil20",
    )  # fmt: skip


def coil100(
    name: str, raw_dir: PathLike, resize: Size = None, interpolation: str = "bicubic"
) -> MultiViewDataset:
    """COIL-100: 100 objects x 72 poses (angles 0, 5, ..., 355), 128x128 RGB.

    ``raw_dir`` holds the unzipped ``coil-100.zip``: ``raw_dir/coil-100/
    obj{1..100}__{0..355}.png`` (or the PNGs directly in ``raw_dir``).
    """
    return _coil(
        name, raw_dir, variant="COIL-100", subfolder="coil-100", mode="RGB", url=COIL100_URL,
        poses=72, resize=resize, interpolation=interpolation,
        built_by="mmclust.data.builders.coil.coil100",
    )  # fmt: skip
