"""Data sets in the JULE authors' HDF5 format: FRGC, CMU-PIE, YTF, or your own.

FRGC, CMU-PIE and YTF only exist as the files the JULE authors distribute
(``datasets/<name>/data4torch.h5`` in their code, or their Google Drive
folder); their provenance is filled in when the data set name (or
``reference``) names one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmclust.data.builders._common import PathLike, raw_folder, require
from mmclust.data.builders._images import (
    JULE_REFERENCE,
    Size,
    image_dataset,
    jule_reference,
    to_uint8,
)
from mmclust.data.dataset import DatasetError, MultiViewDataset

VIEWS = ("image",)

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
    """A data set in the JULE authors' HDF5 format.

    ``raw_dir/<file>`` (default ``data4torch.h5``, as in the authors'
    ``datasets/<name>/data4torch.h5``) holds ``data``, N x C x H x W (C = 1 or
    3; ``layout`` ``NCWH`` for files written from MATLAB with H and W swapped,
    ``NHWC``/``NWHC`` for channel-last files; a 3-d N x H x W array is grey),
    and ``labels`` (N, N x 1 or 1 x N), remapped to 0..k-1 in sorted order.
    ``reference`` names the JULE data set whose counts go into the metadata
    (default: ``name`` when it matches one, e.g. ``frgc``, ``cmu_pie``, ``ytf``).
    The authors do not state the range of their float pixels: see
    ``value_range`` in :mod:`mmclust.data.builders._images`.
    """
    import h5py

    ref = jule_reference(reference if reference is not None else name)
    if reference is not None and ref is None:
        raise DatasetError(
            f"reference={reference!r} is not a JULE data set: use one of {sorted(JULE_REFERENCE)}"
        )
    where = f"the JULE authors' files are linked from {JULE_CODE_URL} ({JULE_DRIVE_URL})"
    fix = f"put the {file} file (datasets 'data' N x C x H x W and 'labels') there; {where}"
    folder = raw_folder(raw_dir, name, fix)
    path = require(folder, [file], fix, files_only=True)
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
    images, mapping = to_uint8(data, path, value_range)
    images = np.ascontiguousarray(images)
    provenance = JULE_H5_SOURCES.get(ref["dataset"], {}) if ref else {}
    return image_dataset(
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
            "built_by": "mmclust.data.builders.jule_h5.jule_h5",
            "layout": layout,
            "pixel_mapping": mapping,
            "read_from": str(path),
        },
    )
