"""Raw pixels of image files (and resized image arrays) as a clustering input.

The image view of a bring-your-own or photo data set (``captioned_folder``,
COCO, ...) holds file paths, not numbers.  An input without an extractor
that reads such a view gives ``image_size`` (and optionally ``image_mode``);
the files are then opened, converted and resized here into a uint8 array,
which the input's ``transform`` (``scale``: divided by 255 by default)
turns into the matrix the pixel-based methods (k-means, DEC, IDEC, JULE, ...)
read::

    inputs:
      mine:
        pixels: { views: [image], transform: scale, image_size: 28, image_mode: grey }

Choices (documented, config keys where they are open):

``image_size``
    ``S`` or ``[H, W]``: every image is resized to exactly H x W (rows x
    columns) — the aspect ratio is not kept and nothing is cropped, so the
    whole image is always seen.  Required for image-file views; on an image
    view already stored as an array it resizes those images the same way.
``image_mode``
    ``grey`` (one channel, ITU-R 601-2 luma, Pillow's ``L``) or ``rgb``
    (three channels; Pillow's ``RGB``, a palette or alpha channel dropped).
    Default ``rgb``: colour is information a photo's clusters may follow;
    ``grey`` gives MNIST-like inputs and a third of the width.
Resampling
    Pillow's bilinear filter, which widens its support when shrinking (an
    antialiased resize), on 8-bit values, rounded back to uint8.

Images are read in the data set's order, once per input build; a sample
without the view (mask False) gets a zero image.  A file that is missing or
cannot be decoded is an error naming the file and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset

IMAGE_MODES = ("grey", "rgb")


def image_size(spec: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(H, W)`` from an input's ``image_size`` (an int or ``[H, W]``), None without it."""
    size = spec.get("image_size")
    if size is None:
        return None
    if isinstance(size, int):
        size = [size, size]
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(s, int) and s >= 1 for s in size)
    ):
        raise DatasetError(f"image_size must be a positive integer or [height, width], got {size}")
    return int(size[0]), int(size[1])


def pixel_shape(spec: Mapping[str, Any]) -> list[int] | None:
    """The per-sample shape of the pixels an input with ``image_size`` makes ([H, W] or
    [H, W, 3]), None when the input loads no images."""
    size = image_size(spec)
    if size is None:
        return None
    return [*size] if spec.get("image_mode", "rgb") == "grey" else [*size, 3]


def _convert(img: Any, size: tuple[int, int], mode: str) -> np.ndarray:
    from PIL import Image

    img = img.convert("L" if mode == "grey" else "RGB")
    if img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def load_pixels(
    images: np.ndarray,
    mask: np.ndarray,
    size: tuple[int, int],
    mode: str = "rgb",
    image_root: str | Path | None = None,
    where: str = "the data set",
) -> np.ndarray:
    """uint8 pixels (n, H, W) for ``grey`` or (n, H, W, 3) for ``rgb``.

    ``images`` holds paths relative to ``image_root`` (a view of kind
    ``image_file``) or uint8 images (n, H, W[, C]); rows whose ``mask`` is
    False get zeros.
    """
    if mode not in IMAGE_MODES:
        raise DatasetError(f"image_mode must be one of {IMAGE_MODES}, got {mode!r}")
    from PIL import Image, UnidentifiedImageError

    n = len(images)
    shape = (n, *size) if mode == "grey" else (n, *size, 3)
    out = np.zeros(shape, dtype=np.uint8)
    files = np.asarray(images).dtype.kind in "USO"
    root = Path(image_root) if image_root is not None else Path()
    for i in np.flatnonzero(mask):
        if not files:
            arr = np.asarray(images[i])
            img = Image.fromarray(arr if arr.ndim == 2 or arr.shape[-1] != 1 else arr[..., 0])
            out[i] = _convert(img, size, mode)
            continue
        path = root / str(images[i])
        try:
            with Image.open(path) as img:
                out[i] = _convert(img, size, mode)
        except FileNotFoundError:
            raise DatasetError(
                f"{where}: row {i}: image file {path} does not exist (paths are relative to "
                f"{root}, the data set's raw_dir); put it back or remove its row, then "
                "prepare the data set again"
            ) from None
        except (UnidentifiedImageError, OSError) as err:
            raise DatasetError(
                f"{where}: row {i}: {path} cannot be read as an image ({err}); replace the "
                "file or remove its row, then prepare the data set again"
            ) from None
    return out


def with_pixels(
    ds: MultiViewDataset, views: Sequence[str], spec: Mapping[str, Any], where: str = ""
) -> None:
    """Replace the image views among ``views`` by their loaded pixels (in place), when the
    input gives ``image_size``; a DatasetError when an image-file view is read without it."""
    size = image_size(spec)
    mode = spec.get("image_mode", "rgb")
    for v in views:
        kind = ds.kinds.get(v)
        if kind == "image_file" and size is None:
            raise DatasetError(
                f"{where + ': ' if where else ''}view {v!r} of {ds.name!r} holds image files, "
                "not pixels: give the input image_size (e.g. image_size: 32, and image_mode: "
                "grey or rgb) to load them as raw pixels, or an image extractor "
                "(efficientnet_lite0, resnet50, vgg16)"
            )
        if kind in ("image", "image_file") and size is not None:
            ds.views[v] = load_pixels(
                ds.views[v],
                ds.masks[v],
                size,
                mode,
                image_root=ds.meta.get("image_root"),
                where=f"{where + ': ' if where else ''}data set {ds.name!r}, view {v!r}",
            )
            ds.kinds[v] = "image"
