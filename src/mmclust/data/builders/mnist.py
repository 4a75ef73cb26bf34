"""MNIST and Fashion-MNIST from their IDX files (JULE's MNIST-test / MNIST-full).

Both ship as the same four IDX files (LeCun's format, read by :func:`read_idx`):
``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``, gzipped or
not, with or without ``.gz``, or with the dotted names some mirrors use
(``t10k-images.idx3-ubyte``).  ``subset``: ``"test"`` (10 000 images),
``"full"`` (the 60 000 training images followed by the 10 000 test images,
file order within each; JULE's MNIST-full) or ``"train"``.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from mmclust.data.builders._common import PathLike, first_existing, raw_folder, require
from mmclust.data.builders._images import Size, image_dataset, jule_reference
from mmclust.data.dataset import DatasetError, MultiViewDataset

VIEWS = ("image",)

#: where the IDX files are served today first; MNIST's homepage (the data set's
#: recorded source) second
MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# -- the IDX reader ------------------------------------------------------------------------

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
    img_path = require(folder, _idx_names(split, "images"), fix, files_only=True)
    lab_path = require(folder, _idx_names(split, "labels"), fix, files_only=True)
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


def _has_idx_files(folder: Path) -> bool:
    return folder.is_dir() and any(
        first_existing(folder, _idx_names(s, p), files_only=True) is not None for s, p in _IDX_STEMS
    )


# -- the builders --------------------------------------------------------------------------


def mnist(
    name: str,
    raw_dir: PathLike,
    subset: str = "test",
    resize: Size = None,
    interpolation: str = "bicubic",
) -> MultiViewDataset:
    """MNIST from the four IDX files in ``raw_dir`` (JULE's MNIST-test or MNIST-full).

    ``subset="test"`` needs only the t10k files (10 000 images); ``"full"`` is
    train then test (70 000); ``"train"`` the 60 000 training images.
    """
    fix = f"download the MNIST IDX files from {MNIST_URLS[0]} (mirror {MNIST_URLS[1]}) into it"
    folder = raw_folder(raw_dir, "MNIST", fix)
    images, labels = _idx_dataset(folder, subset, fix, "MNIST")
    key = {"test": "MNIST-test", "full": "MNIST-full"}.get(subset)
    return image_dataset(
        name,
        images,
        labels,
        class_names=None,
        reference=jule_reference(key),
        resize=resize,
        interpolation=interpolation,
        meta={
            "source": f"MNIST IDX files ({subset}; full = 60 000 train then 10 000 test)",
            "url": MNIST_URLS[1],
            "licence": "CC BY-SA 3.0 (MNIST)",
            "built_by": "mmclust.data.builders.mnist.mnist",
            "subset": subset,
            "read_from": str(folder),
        },
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
    installs the four gzipped files into ``/usr/share/datasets/fashion-mnist/``.
    Not a JULE data set: the reference counts are Fashion-MNIST's own
    (10 000 test, 70 000 full).
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
    return image_dataset(
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
            "built_by": "mmclust.data.builders.mnist.fashion_mnist",
            "subset": subset,
            "read_from": str(folder),
        },
    )
