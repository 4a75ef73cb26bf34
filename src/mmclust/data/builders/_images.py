"""What the single-view image builders share (MNIST, Fashion-MNIST, USPS, COIL, UMist, HDF5).

Every one returns one view, ``image``, of kind ``"image"``: uint8 arrays
``(n, H, W)`` for grey images and ``(n, H, W, 3)`` for colour ones.  Labels
are remapped to ``0..k-1`` in the order of the sorted original class ids;
``class_names`` keeps the originals.

The image sizes and counts JULE reports (Yang, Parikh & Batra, CVPR 2016,
Table 1; the same numbers are in the slides in ``shared/papers/004``):

==========  =======  ==  ========  ========
data set    n        k   H x W     colour
==========  =======  ==  ========  ========
MNIST-test  10 000   10  28 x 28   grey
MNIST-full  70 000   10  28 x 28   grey
USPS        11 000   10  16 x 16   grey
COIL-20     1 440    20  128 x 128 grey
COIL-100    7 200    100 128 x 128 RGB
UMist       575      20  112 x 92  grey
FRGC        2 462    20  32 x 32   RGB
CMU-PIE     2 856    68  32 x 32   grey
YTF         10 000   41  55 x 55   RGB
==========  =======  ==  ========  ========

The input layers of the authors' Torch models (``models_def/*.lua``: flattened
sizes 1800 for USPS, 1250 for COIL-100, 8400 for UMist, 121*50 for YTF) agree
with these sizes, so no size in the brief had to be corrected.

Choices shared by these builders, all recorded in ``meta``:

* **Pixel values** (:func:`to_uint8`).  Values in [-1, 1] map to
  ``round((v + 1) * 127.5)`` (background 0, ink 255 as in MNIST).  Float
  files whose range is not stated: ``value_range`` ``"auto"`` keeps values
  already in 0..255, multiplies [0, 1] data by 255 and maps [-1, 1] data as
  above; any other range is an error that asks for an explicit
  ``value_range: [lo, hi]``.
* **Resizing** (``resize``: ``None``, ``"jule"`` for JULE's size, an int, or
  ``[H, W]``) uses Pillow's ``Image.resize`` with ``interpolation`` (default
  ``"bicubic"``; Pillow widens the filter when shrinking, so downsampling is
  antialiased).  No raw source listed here needs it: every one is stored at
  JULE's size.  When the stored size differs from JULE's and no resize is
  asked for, the builder keeps the stored size and says so in the log and in
  ``meta["notes"]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mmclust.data.builders._common import finish, remap_labels
from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

Size = int | Sequence[int] | str | None

JULE_PAPER = (
    "Yang, Parikh & Batra, Joint Unsupervised Learning of Deep Representations and "
    "Image Clusters, CVPR 2016, Table 1"
)

# n, k, image size (H, W) and channels of every JULE data set (paper, Table 1)
JULE_REFERENCE: dict[str, dict[str, Any]] = {
    "MNIST-test": {"n": 10000, "k": 10, "image_size": [28, 28], "channels": 1},
    "MNIST-full": {"n": 70000, "k": 10, "image_size": [28, 28], "channels": 1},
    "USPS": {"n": 11000, "k": 10, "image_size": [16, 16], "channels": 1},
    "COIL-20": {"n": 1440, "k": 20, "image_size": [128, 128], "channels": 1},
    "COIL-100": {"n": 7200, "k": 100, "image_size": [128, 128], "channels": 3},
    "UMist": {"n": 575, "k": 20, "image_size": [112, 92], "channels": 1},
    "FRGC": {"n": 2462, "k": 20, "image_size": [32, 32], "channels": 3},
    "CMU-PIE": {"n": 2856, "k": 68, "image_size": [32, 32], "channels": 1},
    "YTF": {"n": 10000, "k": 41, "image_size": [55, 55], "channels": 3},
}

INTERPOLATIONS = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")


def jule_reference(key: str | None) -> dict[str, Any] | None:
    """JULE's n, k, image size and channels for ``key`` (case and punctuation ignored)."""
    if key is None:
        return None
    norm = re.sub(r"[^a-z0-9]", "", key.lower())
    for name, ref in JULE_REFERENCE.items():
        if re.sub(r"[^a-z0-9]", "", name.lower()) == norm:
            return {"paper": JULE_PAPER, "dataset": name, **ref}
    return None


def _target_size(resize: Size, reference: dict[str, Any] | None) -> tuple[int, int] | None:
    if resize is None:
        return None
    if isinstance(resize, str):
        if resize != "jule":
            raise DatasetError(f"resize={resize!r}: use null, 'jule', an int or [height, width]")
        if reference is None:
            raise DatasetError(
                "resize='jule' needs a JULE reference size: give reference=<JULE data set name> "
                f"(one of {sorted(JULE_REFERENCE)}) or resize: [height, width]"
            )
        h, w = reference["image_size"]
        return int(h), int(w)
    if isinstance(resize, int | np.integer):
        return int(resize), int(resize)
    size = [int(s) for s in resize]
    if len(size) != 2 or min(size) < 1:
        raise DatasetError(f"resize={resize!r}: give one positive int or [height, width]")
    return size[0], size[1]


def resize_images(
    images: np.ndarray, size: tuple[int, int], interpolation: str = "bicubic"
) -> np.ndarray:
    """Resize uint8 images ``(n, H, W[, 3])`` to ``size = (height, width)`` with Pillow."""
    from PIL import Image

    if interpolation not in INTERPOLATIONS:
        raise DatasetError(
            f"interpolation={interpolation!r} is unknown: use one of {list(INTERPOLATIONS)}"
        )
    resample = getattr(Image.Resampling, interpolation.upper())
    h, w = size
    if images.shape[1:3] == (h, w):
        return images
    out = np.empty((images.shape[0], h, w, *images.shape[3:]), dtype=np.uint8)
    for i in tqdm(range(images.shape[0]), desc=f"resize to {h}x{w}", leave=False):
        out[i] = np.asarray(Image.fromarray(images[i]).resize((w, h), resample=resample))
    return out


def to_uint8(
    x: np.ndarray, path: Path, value_range: str | Sequence[float]
) -> tuple[np.ndarray, str]:
    """Map pixel values to uint8; return the array and a description of the mapping."""
    if x.dtype == np.uint8 and value_range == "auto":
        return x, "stored as uint8"
    if x.size == 0:
        return x.astype(np.uint8), "empty"
    xf = x.astype(np.float64, copy=False)
    lo, hi = float(np.min(xf)), float(np.max(xf))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise DatasetError(f"{path}: the images contain NaN or infinite values")
    if value_range != "auto":
        if isinstance(value_range, str) or len(value_range) != 2:
            raise DatasetError(f"value_range={value_range!r}: use 'auto' or [low, high]")
        a, b = float(value_range[0]), float(value_range[1])
        if b <= a:
            raise DatasetError(f"value_range={value_range!r}: high must exceed low")
        out = np.clip(np.rint((xf - a) * (255.0 / (b - a))), 0, 255).astype(np.uint8)
        return out, f"linear [{a}, {b}] -> [0, 255], clipped"
    tol = 1e-6
    if lo >= -tol and hi <= 1.0 + tol:
        return np.clip(np.rint(xf * 255.0), 0, 255).astype(np.uint8), "[0, 1] -> x 255"
    if lo >= -1.0 - tol and hi <= 1.0 + tol:
        out = np.clip(np.rint((xf + 1.0) * 127.5), 0, 255).astype(np.uint8)
        return out, "[-1, 1] -> (x + 1) * 127.5"
    if lo >= -tol and hi <= 255.0 + tol:
        return np.clip(np.rint(xf), 0, 255).astype(np.uint8), "[0, 255] rounded"
    raise DatasetError(
        f"{path}: pixel values span [{lo:g}, {hi:g}], which is none of [0, 1], [-1, 1], [0, 255]: "
        "give the range explicitly (value_range: [low, high] in the data set's options)"
    )


def load_mat(path: Path) -> dict[str, Any]:
    """The variables of a MATLAB (up to v7) file, read with scipy."""
    from scipy.io import loadmat

    try:
        return loadmat(path)
    except NotImplementedError:
        raise DatasetError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which scipy cannot read: re-save it in MATLAB "
            "with save(..., '-v7') or download the original file again"
        ) from None
    except (ValueError, OSError, TypeError) as e:
        raise DatasetError(f"{path} is not a readable .mat file ({e}): download it again") from None


def mat_vars(mat: dict[str, Any]) -> str:
    """The variable names of a loaded .mat file, for messages."""
    names = sorted(k for k in mat if not k.startswith("__"))
    return "variables: " + (", ".join(names) or "none")


def image_dataset(
    name: str,
    images: np.ndarray,
    raw_labels: np.ndarray,
    *,
    class_names: list[str] | None,
    reference: dict[str, Any] | None,
    resize: Size,
    interpolation: str,
    meta: dict[str, Any],
) -> MultiViewDataset:
    """Resize, remap the labels, record the counts obtained beside the reference's.

    Every count that differs from the reference is a warning and a line of
    ``meta["notes"]``.
    """
    if images.dtype != np.uint8:
        raise DatasetError(f"{name}: images must be uint8, got {images.dtype} (a builder bug)")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise DatasetError(f"{name}: images must be (n, H, W) or (n, H, W, 3), got {images.shape}")
    notes = list(meta.pop("notes", []))
    stored_size = [int(images.shape[1]), int(images.shape[2])]
    target = _target_size(resize, reference)
    if target is not None and tuple(stored_size) != target:
        log.info("%s: resizing %s images to %s (%s)", name, stored_size, target, interpolation)
        images = resize_images(images, target, interpolation)
        notes.append(
            f"resized from {stored_size[0]}x{stored_size[1]} to {target[0]}x{target[1]} with "
            f"Pillow {interpolation} interpolation"
        )
    labels, ids = remap_labels(np.asarray(raw_labels))
    if class_names is None:
        class_names = ids
    elif len(class_names) != len(ids):
        raise DatasetError(f"{name}: {len(class_names)} class names for {len(ids)} classes")
    obtained = {
        "n": int(images.shape[0]),
        "k": len(ids),
        "image_size": [int(images.shape[1]), int(images.shape[2])],
        "channels": 1 if images.ndim == 3 else int(images.shape[3]),
        "stored_image_size": stored_size,
    }
    if reference is not None:
        for key in ("n", "k", "image_size", "channels"):
            if obtained[key] != reference[key]:
                msg = f"{key} = {obtained[key]} obtained, JULE reports {reference[key]}"
                log.warning("%s: %s", name, msg)
                notes.append(msg)
    return finish(
        name,
        {"image": images},
        labels,
        kinds={"image": "image"},
        class_names=class_names,
        meta=meta,
        reference=reference,
        obtained=obtained,
        tail={"interpolation": interpolation if target is not None else None, "notes": notes},
        warn_differences=False,  # warned above, with the image size
    )
