"""USPS handwritten digits, 16x16 grey.

The JULE paper does not name its USPS copy; its 11 000 images match the
version Sam Roweis distributed (``usps_all.mat``: 1 100 images per digit),
and the authors' own HDF5 copy can be read with the ``jule_h5`` builder.  The
libsvm files (``usps.bz2`` 7 291 + ``usps.t.bz2`` 2 007) hold the 9 298-image
Hull/LeCun train/test split instead and cannot reach 11 000; the builder
reads ``usps_all.mat`` when it is present and the libsvm files otherwise, and
stores the count it got next to JULE's.  libsvm values in [-1, 1] map to
``round((v + 1) * 127.5)`` (background 0, ink 255 as in MNIST).
"""

from __future__ import annotations

import bz2
import gzip
import zlib
from pathlib import Path

import numpy as np

from mmclust.data.builders._common import PathLike, first_existing, raw_folder, require
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

USPS_LIBSVM_URL = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/"
USPS_ROWEIS_URL = "https://cs.nyu.edu/~roweis/data/usps_all.mat"


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
    path = Path(path)
    mat = load_mat(path)
    if "data" not in mat:
        raise DatasetError(f"{path} has no variable 'data' ({mat_vars(mat)}): not usps_all.mat")
    data = np.asarray(mat["data"])
    if data.ndim != 3 or data.shape[0] != 256 or data.shape[2] != 10:
        raise DatasetError(f"{path}: 'data' must be 256 x n x 10, got {data.shape}")
    per = data.shape[1]
    # (256, per, 10) -> (10, per, 256) -> images in column-major order -> transpose
    flat = np.transpose(data, (2, 1, 0)).reshape(10 * per, 16, 16)
    images = to_uint8(np.transpose(flat, (0, 2, 1)), path, "auto")[0]
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
    folder = raw_folder(raw_dir, "USPS", fix)
    if source not in ("auto", "usps_all", "libsvm"):
        raise DatasetError(
            f"USPS: source={source!r} is unknown: use 'auto', 'usps_all' or 'libsvm'"
        )
    mat_path = folder / "usps_all.mat"
    lib_train = first_existing(folder, ["usps.bz2", "usps"], files_only=True)
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
        train = require(folder, ["usps.bz2", "usps"], lib_fix, files_only=True)
        test = require(folder, ["usps.t.bz2", "usps.t"], lib_fix, files_only=True)
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
    return image_dataset(
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
            "built_by": "mmclust.data.builders.usps.usps",
            "usps_source": source,
            "read_from": str(folder),
            "notes": notes,
        },
    )
