"""Builders for the JULE image data sets (and Fashion-MNIST) from their raw files.

Every builder turns the files a download rule (or the user) put in ``raw_dir``
into a :class:`~mmclust.data.dataset.MultiViewDataset` with one view,
``image``, of kind ``"image"``: uint8 arrays ``(n, H, W)`` for grey images and
``(n, H, W, 3)`` for colour ones.  Labels are remapped to ``0..k-1`` in the
order of the sorted original class ids; ``class_names`` keeps the originals.

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

Choices the paper leaves open, all recorded in ``meta``:

* **USPS.**  The paper does not name its USPS copy; its 11 000 images match
  the version Sam Roweis distributed (``usps_all.mat``: 1 100 images per
  digit), and the authors' own HDF5 copy can be read with :func:`jule_h5`.  The libsvm files
  (``usps.bz2`` 7 291 + ``usps.t.bz2`` 2 007) hold the 9 298-image
  Hull/LeCun train/test split instead and cannot reach 11 000; the builder
  reads ``usps_all.mat`` when it is present and the libsvm files otherwise, and
  stores the count it got next to JULE's.
* **MNIST-full** is the 60 000 training images followed by the 10 000 test
  images (file order within each).
* **Pixel values.**  libsvm USPS values in [-1, 1] map to
  ``round((v + 1) * 127.5)`` (background 0, ink 255 as in MNIST).  The JULE
  HDF5 files hold floats whose range the authors do not state: ``value_range``
  ``"auto"`` keeps values already in 0..255, multiplies [0, 1] data by 255 and
  maps [-1, 1] data like USPS; any other range is an error that asks for an
  explicit ``value_range: [lo, hi]``.
* **Resizing** (``resize``: ``None``, ``"jule"`` for JULE's size, an int, or
  ``[H, W]``) uses Pillow's ``Image.resize`` with ``interpolation`` (default
  ``"bicubic"``; Pillow widens the filter when shrinking, so downsampling is
  antialiased).  No raw source listed here needs it: every one is stored at
  JULE's size.  When the stored size differs from JULE's and no resize is
  asked for, the builder keeps the stored size and says so in the log and in
  ``meta["notes"]``.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
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

JULE_CODE_URL = "https://github.com/jwyang/JULE.torch"
JULE_DRIVE_URL = "https://drive.google.com/folderview?id=0B9J-9A2jotGRT25vSDhUWTQxVWs"

FRGC_URL = "https://www.nist.gov/programs-projects/face-recognition-grand-challenge-frgc"

# provenance of the sets that only exist as the JULE authors' HDF5 files
JULE_H5_SOURCES: dict[str, dict[str, str]] = {
    "FRGC": {
        "source": "FRGC v2.0 face subset (20 subjects) as the JULE authors' data4torch.h5",
        "url": f"{JULE_CODE_URL} (datasets/FRGC); FRGC itself: {FRGC_URL}",
        "licence": "FRGC licence agreement (University of Notre Dame / NIST); no redistribution",
    },
    "CMU-PIE": {
        "source": "CMU PIE faces (68 subjects) as the JULE authors' data4torch.h5",
        "url": JULE_CODE_URL + " (datasets/CMU-PIE)",
        "licence": "CMU PIE distribution terms (research use)",
    },
    "YTF": {
        "source": "YouTube Faces subset (41 people, 10 000 frames) as the JULE authors' h5 file",
        "url": JULE_DRIVE_URL + " (YTF); YouTube Faces: https://www.cs.tau.ac.il/~wolf/ytfaces/",
        "licence": "YouTube Faces terms (research use, obtained from the authors after a request)",
    },
}

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

MNIST_URLS = (
    "https://yann.lecun.com/exdb/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
USPS_LIBSVM_URL = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/"
USPS_ROWEIS_URL = "https://cs.nyu.edu/~roweis/data/usps_all.mat"
COIL20_URL = (
    "https://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-20/coil-20-proc.zip"
)
COIL100_URL = (
    "https://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-100/coil-100.zip"
)
UMIST_URL = "https://cs.nyu.edu/~roweis/data/umist_cropped.mat"

INTERPOLATIONS = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")


# -- shared helpers -------------------------------------------------------------------------


def _raw_folder(raw_dir: PathLike | None, what: str, fix: str) -> Path:
    if raw_dir is None or str(raw_dir) == "":
        raise DatasetError(f"{what}: no raw_dir given: {fix}")
    folder = Path(raw_dir)
    if not folder.is_dir():
        raise DatasetError(f"{what}: the raw folder {folder} does not exist: {fix}")
    return folder


def _first_existing(folder: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        p = folder / n
        if p.is_file():
            return p
    return None


def _require(folder: Path, names: Sequence[str], fix: str) -> Path:
    path = _first_existing(folder, names)
    if path is None:
        alternatives = " or ".join(names[1:])
        also = f" (or {alternatives})" if alternatives else ""
        raise DatasetError(f"{folder / names[0]} is missing{also}: {fix}")
    return path


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


def _remap_labels(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Labels ``0..k-1`` in the order of the sorted original ids, and those ids as names."""
    values, labels = np.unique(raw, return_inverse=True)
    names = []
    for v in values:
        if isinstance(v, float | np.floating) and float(v).is_integer():
            v = int(v)
        names.append(str(v))
    return labels.astype(np.int64), names


def _finish(
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
    """Resize, remap the labels, and record the counts obtained beside JULE's."""
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
    labels, ids = _remap_labels(np.asarray(raw_labels))
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
    return MultiViewDataset(
        name=name,
        views={"image": images},
        labels=labels,
        kinds={"image": "image"},
        class_names=class_names,
        meta={
            **meta,
            "reference_counts": reference,
            "obtained_counts": obtained,
            "interpolation": interpolation if target is not None else None,
            "notes": notes,
        },
    )


# -- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------------

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_FIX = "delete it and download it again"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{path} is not a complete gzip file ({e}): {_IDX_FIX}") from None
    return raw


def read_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (LeCun's MNIST format), gzipped or not.

    Layout: two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short,
    0x0C int, 0x0D float, 0x0E double), the number of dimensions, then one
    big-endian uint32 per dimension, then the data in C order, big-endian.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DatasetError(
            f"{path} is not an IDX file (magic {data[:4].hex() or 'empty'}; expected 0000 then a "
            f"type code in {[f'{t:02x}' for t in _IDX_TYPES]} and the dimension count): {_IDX_FIX}"
        )
    dtype = np.dtype(_IDX_TYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DatasetError(f"{path}: IDX header with {ndim} dimensions is truncated: {_IDX_FIX}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise DatasetError(
            f"{path}: the header promises {dims} values ({expected} bytes) but the file holds "
            f"{len(data) - header} data bytes: {_IDX_FIX}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


# the canonical names, gzipped or not, and the dotted variant some mirrors use
_IDX_STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def _idx_names(split: str, part: str) -> list[str]:
    stem = _IDX_STEMS[split, part]
    dotted = stem.replace("-idx", ".idx")
    return [stem + ".gz", stem, dotted + ".gz", dotted]


def _read_idx_pair(folder: Path, split: str, fix: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    img_path = _require(folder, _idx_names(split, "images"), fix)
    lab_path = _require(folder, _idx_names(split, "labels"), fix)
    images = read_idx(img_path)
    labels = read_idx(lab_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(
            f"{img_path}: expected uint8 images (n, 28, 28), got {images.dtype} {images.shape}: "
            f"is this the {what} image file?"
        )
    if labels.ndim != 1:
        raise DatasetError(f"{lab_path}: expected a 1-d label file, got shape {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DatasetError(
            f"{img_path} has {images.shape[0]} images but {lab_path} has {labels.shape[0]} "
            f"labels: the two files do not belong together; download both again"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetError(f"{lab_path}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    return images, labels.astype(np.int64)


_SUBSET_SPLITS = {"test": ("test",), "train": ("train",), "full": ("train", "test")}


def _idx_dataset(folder: Path, subset: str, fix: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    if subset not in _SUBSET_SPLITS:
        raise DatasetError(f"{what}: subset={subset!r} is unknown: use 'test', 'full' or 'train'")
    parts = [_read_idx_pair(folder, s, fix, what) for s in _SUBSET_SPLITS[subset]]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def mnist(
    name: str,
    raw_dir: PathLike,
    subset: str = "test",
    resize: Size = None,
    interpolation: str = "bicubic",
) -> MultiViewDataset:
    """MNIST from the four IDX files (JULE's MNIST-test or MNIST-full).

    ``raw_dir`` holds ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (gzipped or
    already gunzipped, with or without ``.gz``; the dotted names
    ``t10k-images.idx3-ubyte`` also work).  ``subset="test"`` needs only the
    t10k files (10 000 images); ``"full"`` is train then test (70 000);
    ``"train"`` the 60 000 training images.
    """
    fix = f"download the MNIST IDX files from {MNIST_URLS[0]} (mirror {MNIST_URLS[1]}) into it"
    folder = _raw_folder(raw_dir, "MNIST", fix)
    images, labels = _idx_dataset(folder, subset, fix, "MNIST")
    key = {"test": "MNIST-test", "full": "MNIST-full"}.get(subset)
    return _finish(
        name,
        images,
        labels,
        class_names=None,
        reference=jule_reference(key),
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": f"MNIST IDX files ({subset}; full = 60 000 train then 10 000 test)",
            "url": MNIST_URLS[0],
            "licence": "CC BY-SA 3.0 (MNIST)",
            "built_by": "mmclust.data.images.mnist",
            "subset": subset,
            "read_from": str(folder),
        },
    )


def _has_idx_files(folder: Path) -> bool:
    return folder.is_dir() and any(
        _first_existing(folder, _idx_names(s, p)) is not None for s, p in _IDX_STEMS
    )


def fashion_mnist(
    name: str,
    raw_dir: PathLike | None = None,
    subset: str = "test",
    resize: Size = None,
    interpolation: str = "bicubic",
    debian_dir: PathLike = DEBIAN_FASHION_MNIST,
) -> MultiViewDataset:
    """Fashion-MNIST (Xiao et al. 2017) from its four IDX files.

    Read from ``raw_dir`` when it holds any of the IDX files (same names as
    MNIST), otherwise from the Debian package ``dataset-fashion-mnist``, which
    installs ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` into
    ``/usr/share/datasets/fashion-mnist/``.  Not a JULE data set: the
    reference counts are Fashion-MNIST's own (10 000 test, 70 000 full).
    """
    what = "Fashion-MNIST"
    debian = Path(debian_dir)
    if raw_dir is not None and str(raw_dir) != "" and _has_idx_files(Path(raw_dir)):
        folder, origin = Path(raw_dir), "raw_dir"
    elif _has_idx_files(debian):
        folder, origin = debian, "Debian package dataset-fashion-mnist"
    else:
        raise DatasetError(
            f"{what}: no IDX files in raw_dir ({raw_dir}) nor in {debian}: install the Debian "
            f"package (apt-get install dataset-fashion-mnist) or download "
            f"t10k-images-idx3-ubyte.gz etc. from {FASHION_MNIST_URL} into raw_dir"
        )
    fix = (
        f"download it from {FASHION_MNIST_URL} into {folder}"
        if origin == "raw_dir"
        else "reinstall the package (apt-get install --reinstall dataset-fashion-mnist)"
    )
    images, labels = _idx_dataset(folder, subset, fix, what)
    ref_n = {"test": 10000, "full": 70000, "train": 60000}[subset]
    return _finish(
        name,
        images,
        labels,
        class_names=[FASHION_MNIST_CLASSES[i] for i in np.unique(labels)],
        reference={
            "paper": "Xiao, Rasul & Vollgraf, Fashion-MNIST, arXiv 1708.07747",
            "dataset": f"Fashion-MNIST-{subset}",
            "n": ref_n,
            "k": 10,
            "image_size": [28, 28],
            "channels": 1,
        },
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": f"Fashion-MNIST IDX files ({subset}) from the {origin}",
            "url": FASHION_MNIST_URL,
            "licence": "MIT (Fashion-MNIST)",
            "built_by": "mmclust.data.images.fashion_mnist",
            "subset": subset,
            "read_from": str(folder),
        },
    )


# -- USPS -------------------------------------------------------------------------------------


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        if raw[:3] == b"BZh":
            raw = bz2.decompress(raw)
        elif raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, ValueError, zlib.error) as e:
        raise DatasetError(f"{path} is corrupt ({e}): delete it and download it again") from None
    return raw.decode("ascii", errors="strict")


def read_libsvm_usps(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One libsvm-format USPS file: uint8 images (n, 16, 16) and labels 0..9.

    Each line is ``label index:value ...`` with indices 1..256 (the 16x16
    raster, row by row), values in [-1, 1] and absent indices meaning 0; the
    libsvm labels are 1..10 for digits 0..9.  Pixels become
    ``round((value + 1) * 127.5)``.
    """
    path = Path(path)
    text = _open_text(path)
    rows: list[np.ndarray] = []
    labels: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            label = float(parts[0])
            pairs = [p.split(":", 1) for p in parts[1:]]
            idx = np.array([int(i) for i, _ in pairs], dtype=np.int64)
            val = np.array([float(v) for _, v in pairs], dtype=np.float64)
        except ValueError:
            raise DatasetError(
                f"{path}:{lineno}: not a libsvm line ('label index:value ...'): the file is not "
                "the libsvm USPS file; download it again"
            ) from None
        if not label.is_integer() or not 1 <= label <= 10:
            raise DatasetError(f"{path}:{lineno}: label {parts[0]} is not in 1..10")
        if idx.size and (idx.min() < 1 or idx.max() > 256):
            raise DatasetError(f"{path}:{lineno}: feature index outside 1..256")
        if val.size and (val.min() < -1.0 - 1e-6 or val.max() > 1.0 + 1e-6):
            raise DatasetError(f"{path}:{lineno}: value outside [-1, 1]")
        row = np.zeros(256, dtype=np.float64)
        row[idx - 1] = val
        rows.append(row)
        labels.append(int(label) - 1)
    if not rows:
        raise DatasetError(f"{path} holds no samples: delete it and download it again")
    x = np.stack(rows)
    images = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8).reshape(-1, 16, 16)
    return images, np.asarray(labels, dtype=np.int64)


def read_usps_all_mat(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Roweis' ``usps_all.mat``: ``data`` uint8 (256, 1100, 10).

    ``data[:, j, c]`` is image ``j`` of class ``c``, a 16x16 image stored in
    MATLAB's column-major order; classes ``c = 0..8`` are digits 1..9 and
    ``c = 9`` is digit 0.  Samples are returned class by class in file order.
    """
    from scipy.io import loadmat

    path = Path(path)
    mat = _loadmat(path, loadmat)
    if "data" not in mat:
        raise DatasetError(f"{path} has no variable 'data' ({_mat_vars(mat)}): not usps_all.mat")
    data = np.asarray(mat["data"])
    if data.ndim != 3 or data.shape[0] != 256 or data.shape[2] != 10:
        raise DatasetError(f"{path}: 'data' must be 256 x n x 10, got {data.shape}")
    per = data.shape[1]
    # (256, per, 10) -> (10, per, 256) -> images in column-major order -> transpose
    flat = np.transpose(data, (2, 1, 0)).reshape(10 * per, 16, 16)
    images = _to_uint8(np.transpose(flat, (0, 2, 1)), path, "auto")[0]
    labels = np.repeat((np.arange(10) + 1) % 10, per)
    return np.ascontiguousarray(images), labels


def usps(
    name: str,
    raw_dir: PathLike,
    source: str = "auto",
    resize: Size = None,
    interpolation: str = "bicubic",
) -> MultiViewDataset:
    """USPS handwritten digits, 16x16 grey.

    ``source="usps_all"`` reads ``raw_dir/usps_all.mat`` (Roweis; 11 000
    images, 1 100 per digit: JULE's count).  ``source="libsvm"`` reads
    ``raw_dir/usps.bz2`` and ``raw_dir/usps.t.bz2`` (also accepted unpacked as
    ``usps`` / ``usps.t``): 7 291 + 2 007 = 9 298 images, training file first.
    ``"auto"`` uses ``usps_all.mat`` when present, the libsvm files otherwise.
    """
    fix = (
        f"download {USPS_ROWEIS_URL} (11 000 images, JULE's count) or usps.bz2 and usps.t.bz2 "
        f"from {USPS_LIBSVM_URL} (9 298 images) into it"
    )
    folder = _raw_folder(raw_dir, "USPS", fix)
    if source not in ("auto", "usps_all", "libsvm"):
        raise DatasetError(
            f"USPS: source={source!r} is unknown: use 'auto', 'usps_all' or 'libsvm'"
        )
    mat_path = folder / "usps_all.mat"
    lib_train = _first_existing(folder, ["usps.bz2", "usps"])
    if source == "auto":
        if mat_path.is_file():
            source = "usps_all"
        elif lib_train is not None:
            source = "libsvm"
        else:
            raise DatasetError(f"{mat_path} is missing (and so are usps.bz2 / usps.t.bz2): {fix}")
    notes: list[str] = []
    if source == "usps_all":
        if not mat_path.is_file():
            raise DatasetError(f"{mat_path} is missing: download {USPS_ROWEIS_URL} into {folder}")
        images, labels = read_usps_all_mat(mat_path)
        src = "USPS as distributed by Sam Roweis (usps_all.mat, 1 100 images per digit)"
        url = USPS_ROWEIS_URL
    else:
        lib_fix = f"download usps.bz2 and usps.t.bz2 from {USPS_LIBSVM_URL} into {folder}"
        train = _require(folder, ["usps.bz2", "usps"], lib_fix)
        test = _require(folder, ["usps.t.bz2", "usps.t"], lib_fix)
        parts = [read_libsvm_usps(train), read_libsvm_usps(test)]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        src = "USPS, libsvm files usps.bz2 (train) then usps.t.bz2 (test), values [-1, 1]"
        url = USPS_LIBSVM_URL
        notes.append(
            "the libsvm files hold the 7 291 + 2 007 = 9 298-image train/test split; JULE "
            "reports 11 000 images, the count of Roweis' usps_all.mat (1 100 per digit): use "
            "source usps_all (or the JULE authors' HDF5 via jule_h5) to match it"
        )
    return _finish(
        name,
        images,
        labels,
        class_names=None,
        reference=jule_reference("USPS"),
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": src,
            "url": url,
            "licence": "no licence stated by the distributors (research use; cite Hull 1994)",
            "built_by": "mmclust.data.images.usps",
            "usps_source": source,
            "read_from": str(folder),
            "notes": notes,
        },
    )


# -- COIL-20 / COIL-100 ------------------------------------------------------------------------

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
) -> MultiViewDataset:
    from PIL import Image

    zip_name = url.rsplit("/", 1)[-1]
    fix = f"download {url} and unzip it into {raw_dir} (giving {subfolder}/obj1__0.png, ...)"
    folder = _raw_folder(raw_dir, variant, fix)
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
    ref = jule_reference(variant)
    return _finish(
        name,
        np.stack(images).astype(np.uint8),
        objects,
        class_names=[f"obj{o}" for o in np.unique(objects)],
        reference=ref,
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": f"{variant} ({subfolder}: obj<object>__<pose>.png, read as Pillow mode "
            f"{mode}), ordered by object then pose",
            "url": url,
            "licence": "no formal licence; research use, cite Nene, Nayar & Murase 1996",
            "built_by": f"mmclust.data.images.{variant.lower().replace('-', '')}",
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
    )  # fmt: skip


# -- UMist -------------------------------------------------------------------------------------


def _loadmat(path: Path, loadmat: Any) -> dict[str, Any]:
    try:
        return loadmat(path)
    except NotImplementedError:
        raise DatasetError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which scipy cannot read: re-save it in MATLAB "
            "with save(..., '-v7') or download the original file again"
        ) from None
    except (ValueError, OSError, TypeError) as e:
        raise DatasetError(f"{path} is not a readable .mat file ({e}): download it again") from None


def _mat_vars(mat: dict[str, Any]) -> str:
    names = sorted(k for k in mat if not k.startswith("__"))
    return "variables: " + (", ".join(names) or "none")


def umist(
    name: str,
    raw_dir: PathLike,
    file: str = "umist_cropped.mat",
    resize: Size = None,
    interpolation: str = "bicubic",
) -> MultiViewDataset:
    """UMist faces (Graham & Allinson 1998), cropped: 575 images of 20 people, 112x92 grey.

    ``raw_dir/umist_cropped.mat`` (Roweis' copy) holds ``facedat``, a 1 x 20 cell
    array whose cell ``i`` is a uint8 112 x 92 x k_i array of subject ``i``'s
    images, and ``dirnames``, the 20 subject folder names (``1a``, ``1b``, ...),
    used as class names.  Samples are ordered by subject, then file order.
    """
    from scipy.io import loadmat

    fix = f"download {UMIST_URL} into it"
    folder = _raw_folder(raw_dir, "UMist", fix)
    path = _require(folder, [file], f"download {UMIST_URL} into {folder}")
    mat = _loadmat(path, loadmat)
    if "facedat" not in mat:
        raise DatasetError(f"{path} has no variable 'facedat' ({_mat_vars(mat)}): not UMist")
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
        arr, _ = _to_uint8(arr, path, "auto")
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
    return _finish(
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
            "built_by": "mmclust.data.images.umist",
            "read_from": str(path),
        },
    )


# -- JULE HDF5 (FRGC, CMU-PIE, YTF, ...) -------------------------------------------------------


def _to_uint8(
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


_LAYOUTS = {"NCHW": (0, 2, 3, 1), "NCWH": (0, 3, 2, 1), "NHWC": (0, 1, 2, 3), "NWHC": (0, 2, 1, 3)}


def jule_h5(
    name: str,
    raw_dir: PathLike,
    file: str = "data4torch.h5",
    reference: str | None = None,
    layout: str = "NCHW",
    value_range: str | Sequence[float] = "auto",
    resize: Size = None,
    interpolation: str = "bicubic",
    source: str | None = None,
    url: str | None = None,
    licence: str | None = None,
) -> MultiViewDataset:
    """A data set in the JULE authors' HDF5 format (FRGC, CMU-PIE, YTF, or your own).

    ``raw_dir/<file>`` (default ``data4torch.h5``, as in the authors'
    ``datasets/<name>/data4torch.h5``) holds ``data``, N x C x H x W (C = 1 or
    3; ``layout`` ``NCWH`` for files written from MATLAB with H and W swapped,
    ``NHWC``/``NWHC`` for channel-last files; a 3-d N x H x W array is grey),
    and ``labels`` (N, N x 1 or 1 x N), remapped to 0..k-1 in sorted order.
    ``reference`` names the JULE data set whose counts go into the metadata
    (default: ``name`` when it matches one, e.g. ``frgc``, ``cmu_pie``, ``ytf``).
    """
    import h5py

    ref = jule_reference(reference if reference is not None else name)
    if reference is not None and ref is None:
        raise DatasetError(
            f"reference={reference!r} is not a JULE data set: use one of {sorted(JULE_REFERENCE)}"
        )
    where = f"the JULE authors' files are linked from {JULE_CODE_URL} ({JULE_DRIVE_URL})"
    fix = f"put the {file} file (datasets 'data' N x C x H x W and 'labels') there; {where}"
    folder = _raw_folder(raw_dir, name, fix)
    path = _require(folder, [file], fix)
    if layout not in _LAYOUTS:
        raise DatasetError(f"layout={layout!r} is unknown: use one of {sorted(_LAYOUTS)}")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("data", "labels") if k not in f]
            if missing:
                raise DatasetError(
                    f"{path} has no dataset {missing[0]!r} (it has {sorted(f.keys())}): the JULE "
                    "format needs 'data' (N x C x H x W) and 'labels' (N)"
                )
            data = np.asarray(f["data"][()])
            raw_labels = np.asarray(f["labels"][()])
    except OSError as e:
        raise DatasetError(f"{path} is not a readable HDF5 file ({e}): download it again") from None
    if data.ndim == 3:
        data = data[:, None] if layout.startswith("NC") else data[..., None]
    if data.ndim != 4:
        raise DatasetError(f"{path}: 'data' must be 4-d N x C x H x W, got shape {data.shape}")
    data = np.transpose(data, _LAYOUTS[layout])
    if data.shape[-1] not in (1, 3):
        raise DatasetError(
            f"{path}: 'data' read as {layout} has {data.shape[-1]} channels (shape after "
            f"reordering to N x H x W x C: {data.shape}): set layout to the file's real order"
        )
    labels = raw_labels.squeeze() if raw_labels.ndim > 1 else raw_labels
    if labels.ndim == 0:
        labels = labels.reshape(1)
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise DatasetError(
            f"{path}: 'labels' has shape {raw_labels.shape} but 'data' has {data.shape[0]} images"
        )
    images, mapping = _to_uint8(data, path, value_range)
    images = np.ascontiguousarray(images)
    provenance = JULE_H5_SOURCES.get(ref["dataset"], {}) if ref else {}
    return _finish(
        name,
        images,
        labels,
        class_names=None,
        reference=ref,
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": source
            or provenance.get("source", f"HDF5 file in the JULE authors' format ({file})"),
            "url": url or provenance.get("url", JULE_CODE_URL),
            "licence": licence or provenance.get("licence", "unknown: state it in the config"),
            "built_by": "mmclust.data.images.jule_h5",
            "layout": layout,
            "pixel_mapping": mapping,
            "read_from": str(path),
        },
    )


__all__ = [
    "JULE_REFERENCE",
    "coil20",
    "coil100",
    "fashion_mnist",
    "jule_h5",
    "jule_reference",
    "mnist",
    "read_idx",
    "read_libsvm_usps",
    "read_usps_all_mat",
    "resize_images",
    "umist",
    "usps",
]
