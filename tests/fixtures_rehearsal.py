"""Small raw files in the real formats of every downloaded data set, for a pipeline rehearsal.

:func:`build_rehearsal_data` writes, under one folder,

``mirror/<source>/<file>``
    a download mirror (``downloads: {mirror: ...}``) holding every file the
    registry downloads for the default configuration's data sets, plus the
    single hand-placed files a mirror is asked for (the JULE authors'
    ``data4torch.h5`` files, Pascal's ``index.html``, NUS-WIDE's image list);
``manual/<source>/...``
    the files a person places by hand (licensed images, the NYU descriptions):
    the rehearsal copies them into ``resources/raw/<source>/`` after the first
    run stopped and said where they go;
``registry.yaml``
    the project's registry with the checksums and sizes of these small files
    instead of the published ones, and the hand-placed file counts lowered to
    the fixtures' (the real files are far bigger; nothing else changes);
``counts.json``
    what each data set should come out as (n, k), for the tests.

Every file is written in the format of the real one, as far as it is known
here (each builder's docstring documents the layout it reads):

============== ====================================================================
source         what is reproduced (and what is not)
============== ====================================================================
coco2014       three zips as distributed (``annotations/`` with the four instance and
               caption JSON files in the official schema, ``train2014/`` and
               ``val2014/`` with ``COCO_<split>_<12-digit id>.jpg``); the real 80
               category ids and names; crowd regions, multi-category images, images
               without annotations and a grey JPEG, as in the real set.
pascal-        the page as the site serves it (an outer table, one row per image:
sentences      the ``<img>`` cell, then a cell holding a table of the five
               sentences) and ``<class>/<file>.jpg``; the real page's header and
               styling are not reproduced.
nyu-depth-v2   a MATLAB 7.3 file (a 512-byte MATLAB header, then HDF5) with
               ``images`` stored as MATLAB writes H x W x 3 x N (h5py: N x 3 x W x H)
               and ``sceneTypes`` a cell array of references to uint16 char arrays;
               depths, labels and the other variables are left out.  The Kong et
               al. descriptions are written as ``descriptions/<index>.txt``: the
               release's own layout could not be checked (see the builder).
wikipedia      ``wikipedia_dataset.zip`` with ``wikipedia_dataset/`` holding
               ``categories.list``, ``{train,test}set_txt_img_cat.list`` (tab
               separated), ``texts/<id>.xml`` (``<document><title/><text/>``, with
               entities) and ``images/<category>/<id>.jpg``.
nus-wide       ``ImageList/Imagelist.txt`` (Windows paths), ``NUS_WID_Tags/
               TagList1k.txt`` + ``AllTags1k.txt`` (1000 0/1 values per row, tab
               separated), the 81 ``Groundtruth/AllLabels/Labels_<concept>.txt`` with
               the real concept names, ``Flickr/<folder>/<id>.jpg``.
mnist          the four gzipped IDX files, byte for byte in LeCun's format.
usps-11k       a MATLAB 5 file with ``data`` uint8 (256, m, 10), column-major
               16 x 16 images, class 10 = digit 0 (m = 1100 in the real file).
coil-20 /      ``coil-20-proc.zip`` (``coil-20-proc/obj<k>__<pose>.png``, 128 x 128
coil-100       grey) and ``coil-100.zip`` (``coil-100/obj<k>__<angle>.png``, 128 x
               128 RGB), fewer objects and poses.
umist          a MATLAB 5 file with ``facedat`` (1 x 20 cell of 112 x 92 x k uint8)
               and ``dirnames`` (1 x 20 cell of strings).
frgc, cmu-     ``data4torch.h5``: ``data`` float N x C x H x W in [0, 1] and
pie, youtube-  ``labels`` (N,) float, as the authors' Torch code writes them; the
faces          pixel range of the real files is not stated anywhere and could not be
               checked.
============== ====================================================================

Images carry their class as a colour / pattern plus noise, so that the
pipeline's numbers are not meaningless, but nothing is tuned: the rehearsal
checks that every step runs, not what it scores.

``python -m tests.fixtures_rehearsal OUT`` builds the folder from the command
line (then ``python -m tests.fixtures_http OUT/mirror``).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

# --------------------------------------------------------------------------------- contents

#: COCO's 80 category ids and names (instances_*.json, "categories")
COCO_CATEGORIES = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus",
    7: "train", 8: "truck", 9: "boat", 10: "traffic light", 11: "fire hydrant",
    13: "stop sign", 14: "parking meter", 15: "bench", 16: "bird", 17: "cat", 18: "dog",
    19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear", 24: "zebra",
    25: "giraffe", 27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie",
    33: "suitcase", 34: "frisbee", 35: "skis", 36: "snowboard", 37: "sports ball",
    38: "kite", 39: "baseball bat", 40: "baseball glove", 41: "skateboard",
    42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass", 47: "cup",
    48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog",
    59: "pizza", 60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant",
    65: "bed", 67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse",
    75: "remote", 76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven",
    80: "toaster", 81: "sink", 82: "refrigerator", 84: "book", 85: "clock", 86: "vase",
    87: "scissors", 88: "teddy bear", 89: "hair drier", 90: "toothbrush",
}  # fmt: skip
COCO_CROSS = (
    "stop sign", "airplane", "suitcase", "pizza", "cell phone",
    "person", "giraffe", "kite", "toilet", "clock",
)  # fmt: skip
#: single-category images per Coco-cross category in the fixture (person the largest,
#: as in the real set); two more categories make Coco-all larger than Coco-cross
COCO_PER_CLASS = {**dict.fromkeys(COCO_CROSS, 4), "person": 7, "dog": 4, "cat": 4}

PASCAL_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
PASCAL_PER_CLASS = 3

# scene types of NYU Depth v2's labelled set: 12 frequent ones x 3 + four rare ones
NYU_SCENES = [s for s in (
    "bedroom", "kitchen", "living_room", "bathroom", "dining_room", "office",
    "home_office", "classroom", "bookstore", "playroom", "furniture_store", "study",
) for _ in range(3)] + ["cafe", "basement", "foyer", "study_room"]  # fmt: skip

WIKI_CATEGORIES = (
    "art", "biology", "geography", "history", "literature", "media", "music", "royalty",
    "sport", "warfare",
)  # fmt: skip
WIKI_PER_CLASS = 5  # 3 train + 2 test

#: NUS-WIDE's 81 concepts (Groundtruth/AllLabels/Labels_<concept>.txt)
NUS_CONCEPTS = (
    "airport", "animal", "beach", "bear", "birds", "boats", "book", "bridge", "buildings",
    "cars", "castle", "cat", "cityscape", "clouds", "computer", "coral", "cow", "dancing",
    "dog", "earthquake", "elk", "fire", "fish", "flags", "flowers", "food", "fox", "frost",
    "garden", "glacier", "grass", "harbor", "horses", "house", "lake", "leaf", "map",
    "military", "moon", "mountain", "nighttime", "ocean", "person", "plane", "plants",
    "police", "protest", "railroad", "rainbow", "reflection", "road", "rocks", "running",
    "sand", "sign", "sky", "snow", "soccer", "sports", "statue", "street", "sun", "sunset",
    "surf", "swimmers", "tattoo", "temple", "tiger", "tower", "town", "toy", "train", "tree",
    "valley", "vehicle", "water", "waterfall", "wedding", "whales", "window", "zebra",
)  # fmt: skip
#: the ten NUS-WIDE-10K concepts of later work (the builder's default list)
NUS_10K = (
    "animal", "clouds", "flowers", "food", "grass", "person", "sky", "toy", "water", "window",
)  # fmt: skip
NUS_PER_CLASS = 6

MNIST_COUNTS = {"train": 40, "t10k": 40}
USPS_PER_DIGIT = 5
COIL20 = (20, 3)  # objects, poses
COIL100 = (12, 4)
UMIST_PER_SUBJECT = 3
JULE_H5 = {
    # source: (subjects, images per subject, channels, height, width)
    "frgc": (20, 3, 3, 32, 32),
    "cmu-pie": (12, 4, 1, 32, 32),
    "youtube-faces": (10, 5, 3, 55, 55),
}


# ------------------------------------------------------------------------------- helpers


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))


def class_image(
    cls: int, h: int, w: int, channels: int, rng: np.random.Generator, n_classes: int = 10
) -> np.ndarray:
    """A uint8 image whose colour and stripes tell its class, plus noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    period = 3 + cls % 7
    stripes = ((xx * (1 + cls % 3) + yy * (cls // 3 % 3)) // period) % 2
    base = np.empty((h, w, 3))
    hue = cls / max(n_classes, 1)
    for c in range(3):
        base[..., c] = 40 + 170 * (0.5 + 0.5 * np.sin(2 * np.pi * (hue + c / 3)))
    img = base * (0.6 + 0.4 * stripes[..., None]) + rng.normal(0, 12, (h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    if channels == 1:
        return np.rint(img.mean(axis=2)).astype(np.uint8)
    return img


def _encode(img: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def jpeg(cls: int, rng: np.random.Generator, size: tuple[int, int] = (48, 64), grey=False) -> bytes:
    return _encode(class_image(cls, *size, 1 if grey else 3, rng), "JPEG")


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


#: a fixed time stamp for zip members and MAT-file headers: the same fixtures give the
#: same bytes on every build (files trusted on first use are then verified by the lock)
ZIP_TIME = (2014, 1, 1, 0, 0, 0)
MAT5_HEADER = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Wed Jan  1 00:00:00 2014"


def _zip(path: Path, members: Iterable[tuple[str, bytes | str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        dirs: set[str] = set()
        for name, data in members:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):  # folder entries, as the real zips have
                d = "/".join(parts[:i]) + "/"
                if d not in dirs:
                    dirs.add(d)
                    z.writestr(zipfile.ZipInfo(d, date_time=ZIP_TIME), b"")
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return path


WORDS = (
    "a the small large red blue green old new two three man woman child dog cat plane "
    "train boat car street field room table window water sky tree near on in with of "
    "standing sitting flying parked holding looking next open white black"
).split()


def sentence(cls: int, rng: np.random.Generator, topic: Iterable[str]) -> str:
    topic = list(topic)
    words = [topic[cls % len(topic)]] * 2 + list(rng.choice(WORDS, size=8))
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


# ------------------------------------------------------------------------------- sources


def _coco(mirror: Path) -> dict[str, Any]:
    rng = _rng("coco")
    by_name = {v: k for k, v in COCO_CATEGORIES.items()}
    categories = [
        {"supercategory": "thing", "id": i, "name": n} for i, n in COCO_CATEGORIES.items()
    ]
    splits = {"train2014": [], "val2014": []}  # (image id, file name, categories, crowd)
    next_id = {"train2014": 9, "val2014": 42}
    classes = list(COCO_PER_CLASS)
    for ci, cat in enumerate(classes):
        for j in range(COCO_PER_CLASS[cat]):
            split = "train2014" if j % 3 != 2 else "val2014"
            splits[split].append((next_id[split], [by_name[cat]], j == 1, ci))
            next_id[split] += 7
    # distractors: two categories in one image, no annotation, a rare category
    for split in splits:
        splits[split].append((next_id[split], [by_name["person"], by_name["dog"]], False, 0))
        next_id[split] += 7
        splits[split].append((next_id[split], [], False, 1))
        next_id[split] += 7
        splits[split].append((next_id[split], [by_name["toaster"]], False, 2))
        next_id[split] += 7
    ann_members = []
    image_zips: dict[str, list[tuple[str, bytes]]] = {s: [] for s in splits}
    ann_id, cap_id = 1000, 5000
    for split, items in splits.items():
        images, instances, captions = [], [], []
        for k, (img_id, cats, crowd, ci) in enumerate(items):
            fname = f"COCO_{split}_{img_id:012d}.jpg"
            h, w = (48, 64) if k % 2 else (64, 48)
            grey = split == "val2014" and k == 0  # COCO holds a few grey JPEGs
            image_zips[split].append((f"{split}/{fname}", jpeg(ci, rng, (h, w), grey=grey)))
            images.append(
                {
                    "license": 3,
                    "file_name": fname,
                    "coco_url": f"http://images.cocodataset.org/{split}/{fname}",
                    "height": h,
                    "width": w,
                    "date_captured": "2013-11-14 11:18:45",
                    "flickr_url": "http://farm3.staticflickr.com/0/0.jpg",
                    "id": img_id,
                }
            )
            for c in cats:
                for r in range(2 if crowd else 1):
                    instances.append(
                        {
                            "segmentation": [[1.0, 1.0, 10.0, 1.0, 10.0, 10.0]],
                            "area": 40.5,
                            "iscrowd": int(r == 1),
                            "image_id": img_id,
                            "bbox": [1.0, 1.0, 9.0, 9.0],
                            "category_id": c,
                            "id": ann_id,
                        }
                    )
                    ann_id += 1
            topic = [COCO_CATEGORIES[cats[0]]] if cats else ["room"]
            for _ in range(5):
                captions.append(
                    {"image_id": img_id, "id": cap_id, "caption": " " + sentence(0, rng, topic)}
                )
                cap_id += 1
        info = {
            "description": "This is stable 1.0 version of the 2014 MS COCO dataset.",
            "url": "http://mscoco.org",
            "version": "1.0",
            "year": 2014,
            "contributor": "Microsoft COCO group",
            "date_created": "2015-01-27 09:11:52.357475",
        }
        licenses = [
            {
                "url": "http://creativecommons.org/licenses/by-nc-sa/2.0/",
                "id": 1,
                "name": "Attribution-NonCommercial-ShareAlike License",
            }
        ]
        inst = {"info": info, "images": images, "licenses": licenses,
                "annotations": instances, "categories": categories}  # fmt: skip
        caps = {"info": info, "images": images, "licenses": licenses, "annotations": captions}
        ann_members += [
            (f"annotations/instances_{split}.json", json.dumps(inst)),
            (f"annotations/captions_{split}.json", json.dumps(caps)),
        ]
    _zip(mirror / "coco2014" / "annotations_trainval2014.zip", ann_members)
    for split, members in image_zips.items():
        _zip(mirror / "coco2014" / f"{split}.zip", members)
    n_cross = sum(COCO_PER_CLASS[c] for c in COCO_CROSS)
    return {
        "coco-cross": {"n": n_cross, "k": len(COCO_CROSS)},
        "coco-all": {"n": sum(COCO_PER_CLASS.values()), "k": len(COCO_PER_CLASS)},
    }


def _pascal(manual: Path, mirror: Path) -> dict[str, Any]:
    rng = _rng("pascal")
    rows = []
    for ci, cls in enumerate(PASCAL_CLASSES):
        for j in range(PASCAL_PER_CLASS):
            fname = f"2008_{ci * 100 + j:06d}.jpg"
            _write(manual / "pascal-sentences" / cls / fname, jpeg(ci, rng, (50, 70)))
            sentences = "".join(
                f"<tr><td> {sentence(ci, rng, PASCAL_CLASSES)}</td></tr>\n" for _ in range(5)
            )
            rows.append(
                f'<tr><td><img src="{cls}/{fname}"/></td>\n'
                f"<td><table>\n{sentences}</table></td></tr>\n"
            )
    page = (
        "<html>\n<head>\n<title>Pascal Sentences</title>\n</head>\n<body>\n"
        '<img src="logo.gif">\n<table>\n' + "".join(rows) + "</table>\n</body>\n</html>\n"
    )
    _write(mirror / "pascal-sentences" / "index.html", page)
    return {"pascal": {"n": len(PASCAL_CLASSES) * PASCAL_PER_CLASS, "k": len(PASCAL_CLASSES)}}


def write_mat73(path: Path, images: np.ndarray, scenes: list[str]) -> None:
    """A MATLAB v7.3 file holding ``images`` (N, 3, W, H) and the cell array ``sceneTypes``."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("images", data=images, track_times=False)
        f["images"].attrs["MATLAB_class"] = np.bytes_("uint8")
        refs = f.create_group("#refs#")
        out = np.empty((1, len(scenes)), dtype=h5py.ref_dtype)
        for i, s in enumerate(scenes):
            codes = np.array([[ord(c)] for c in s], np.uint16)
            d = refs.create_dataset(f"s{i}", data=codes, track_times=False)
            d.attrs["MATLAB_class"] = np.bytes_("char")
            d.attrs["MATLAB_int_decode"] = np.int64(2)
            out[0, i] = d.ref
        f.create_dataset("sceneTypes", data=out, dtype=h5py.ref_dtype, track_times=False)
        f["sceneTypes"].attrs["MATLAB_class"] = np.bytes_("cell")
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, "
        b"Created on: Thu Nov 17 12:00:00 2011 HDF5 schema 1.00 ."
    )
    header = header.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\0"))


def _nyu(manual: Path, mirror: Path) -> dict[str, Any]:
    rng = _rng("nyu")
    order = list(dict.fromkeys(NYU_SCENES))
    n, h, w = len(NYU_SCENES), 48, 64
    images = np.stack(
        [class_image(order.index(s), h, w, 3, rng, len(order)) for s in NYU_SCENES]
    )  # N x H x W x 3
    write_mat73(
        mirror / "nyu-depth-v2" / "nyu_depth_v2_labeled.mat",
        np.ascontiguousarray(images.transpose(0, 3, 2, 1)),
        NYU_SCENES,
    )
    for i, s in enumerate(NYU_SCENES, 1):
        words = s.split("_")
        text = " ".join(sentence(order.index(s), rng, words) for _ in range(3))
        _write(manual / "nyu-depth-v2" / "descriptions" / f"{i:04d}.txt", text + "\n")
    classes = {s if s in NYU_SCENES[:36] else "other" for s in NYU_SCENES}
    return {"rgbd": {"n": n, "k": len(classes)}}


def _wikipedia(mirror: Path) -> dict[str, Any]:
    rng = _rng("wikipedia")
    members: list[tuple[str, bytes | str]] = []
    train, test = [], []
    root = "wikipedia_dataset"
    for ci, cat in enumerate(WIKI_CATEGORIES, 1):
        for j in range(WIKI_PER_CLASS):
            digest = hashlib.md5(f"{cat}{j}".encode()).hexdigest()
            text_id, image_id = f"{digest}-{j + 1}.{ci}", digest[::-1][:24]
            body = " ".join(sentence(ci, rng, WIKI_CATEGORIES) for _ in range(6))
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<document>\n'
                f"  <title>{cat.title()} &amp; article {j}</title>\n"
                f"  <text>\n{body} Caf&#233; &quot;{cat}&quot; &amp; more.\n  </text>\n"
                "</document>\n"
            )
            members.append((f"{root}/texts/{text_id}.xml", xml))
            grey = j == 0 and ci == 1
            members.append(
                (f"{root}/images/{cat}/{image_id}.jpg", jpeg(ci, rng, (60, 80), grey=grey))
            )
            (train if j < 3 else test).append(f"{text_id}\t{image_id}\t{ci}\n")
    members += [
        (f"{root}/categories.list", "".join(f"{c}\n" for c in WIKI_CATEGORIES)),
        (f"{root}/trainset_txt_img_cat.list", "".join(train)),
        (f"{root}/testset_txt_img_cat.list", "".join(test)),
    ]
    _zip(mirror / "wikipedia" / "wikipedia_dataset.zip", members)
    n = len(WIKI_CATEGORIES) * WIKI_PER_CLASS
    return {"wikipedia": {"n": n, "k": len(WIKI_CATEGORIES), "train": len(train)}}


def _nus_wide(manual: Path, mirror: Path) -> dict[str, Any]:
    rng = _rng("nus-wide")
    tags = [f"tag{i:03d}" for i in range(1000)]
    for i, c in enumerate(NUS_10K):
        tags[i] = c  # the concept names are tags too
    rows: list[tuple[str, list[str]]] = []  # (folder, positive concepts)
    for c in NUS_10K:
        rows += [(c, [c])] * NUS_PER_CLASS
    rows += [("beach", ["beach"])] * 3 + [("sky", ["sky", "clouds"])] * 2  # distractors
    rows += [("ocean", ["ocean"])]  # an image listed whose file is missing below
    entries, tag_rows = [], []
    for k, (folder, positives) in enumerate(rows):
        fname = f"{k:04d}_{2124494179 + 7 * k}.jpg"
        entries.append(f"C:\\ImageData\\Flickr\\{folder}\\{fname}")
        ci = NUS_10K.index(positives[0]) if positives[0] in NUS_10K else 9
        if folder != "ocean":
            _write(manual / "nus-wide" / "Flickr" / folder / fname, jpeg(ci, rng, (48, 64)))
        v = np.zeros(1000, dtype=int)
        v[NUS_10K.index(positives[0]) if positives[0] in NUS_10K else 50] = 1
        v[rng.choice(np.arange(100, 1000), size=4, replace=False)] = 1
        tag_rows.append("\t".join(map(str, v)) + "\t\n")
    base = mirror / "nus-wide"
    _write(base / "ImageList" / "Imagelist.txt", "\r\n".join(entries) + "\r\n")
    nus_manual = manual / "nus-wide"
    _write(nus_manual / "NUS_WID_Tags" / "TagList1k.txt", "\n".join(tags) + "\n")
    _write(nus_manual / "NUS_WID_Tags" / "AllTags1k.txt", "".join(tag_rows))
    for concept in NUS_CONCEPTS:
        col = "".join(f"{int(concept in pos)}\n" for _, pos in rows)
        _write(nus_manual / "Groundtruth" / "AllLabels" / f"Labels_{concept}.txt", col)
    return {"nus-wide-10k": {"n": len(NUS_10K) * NUS_PER_CLASS, "k": len(NUS_10K)}}


def _idx(data: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, data.ndim) + struct.pack(
        f">{data.ndim}I", *data.shape
    )
    return gzip.compress(header + data.astype(np.uint8).tobytes(), mtime=0)


def _mnist(mirror: Path) -> dict[str, Any]:
    rng = _rng("mnist")
    for part, n in MNIST_COUNTS.items():
        labels = np.arange(n) % 10
        images = np.stack([class_image(int(c), 28, 28, 1, rng) for c in labels])
        _write(mirror / "mnist" / f"{part}-images-idx3-ubyte.gz", _idx(images))
        _write(mirror / "mnist" / f"{part}-labels-idx1-ubyte.gz", _idx(labels))
    return {
        "mnist-test": {"n": MNIST_COUNTS["t10k"], "k": 10},
        "mnist-full": {"n": sum(MNIST_COUNTS.values()), "k": 10},
    }


def _mat5(path: Path, variables: dict[str, Any]) -> None:
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, variables, format="5", do_compression=True)
    with open(path, "r+b") as fh:  # the header text holds the creation time: fix it
        fh.write(MAT5_HEADER.ljust(116, b" "))


def _usps(mirror: Path) -> dict[str, Any]:
    rng = _rng("usps")
    data = np.zeros((256, USPS_PER_DIGIT, 10), dtype=np.uint8)
    for c in range(10):
        for j in range(USPS_PER_DIGIT):
            data[:, j, c] = class_image(c, 16, 16, 1, rng).ravel(order="F")
    _mat5(mirror / "usps-11k" / "usps_all.mat", {"data": data})
    return {"usps": {"n": 10 * USPS_PER_DIGIT, "k": 10}}


def _coil(mirror: Path) -> dict[str, Any]:
    rng = _rng("coil")
    members = []
    objects, poses = COIL20
    for o in range(1, objects + 1):
        for p in range(poses):
            img = class_image(o - 1, 128, 128, 1, rng, objects)
            members.append((f"coil-20-proc/obj{o}__{p}.png", _encode(img, "PNG")))
    _zip(mirror / "coil-20" / "coil-20-proc.zip", members)
    members = []
    objects100, poses100 = COIL100
    for o in range(1, objects100 + 1):
        for p in range(poses100):
            img = class_image(o - 1, 128, 128, 3, rng, objects100)
            members.append((f"coil-100/obj{o}__{5 * p}.png", _encode(img, "PNG")))
    _zip(mirror / "coil-100" / "coil-100.zip", members)
    return {
        "coil20": {"n": objects * poses, "k": objects},
        "coil100": {"n": objects100 * poses100, "k": objects100},
    }


def _umist(mirror: Path) -> dict[str, Any]:
    rng = _rng("umist")
    cells = np.empty((1, 20), dtype=object)
    names = np.empty((1, 20), dtype=object)
    for s in range(20):
        stack = np.stack(
            [class_image(s, 112, 92, 1, rng, 20) for _ in range(UMIST_PER_SUBJECT)], axis=-1
        )
        cells[0, s] = stack
        names[0, s] = f"{s // 2 + 1}{'ab'[s % 2]}"
    _mat5(mirror / "umist" / "umist_cropped.mat", {"facedat": cells, "dirnames": names})
    return {"umist": {"n": 20 * UMIST_PER_SUBJECT, "k": 20}}


def _jule_h5(mirror: Path) -> dict[str, Any]:
    import h5py

    counts = {}
    for source, (k, per, c, h, w) in JULE_H5.items():
        rng = _rng(source)
        labels = np.repeat(np.arange(1, k + 1), per).astype(np.float64)
        imgs = [class_image(int(lab) - 1, h, w, c, rng, k) for lab in labels]
        data = np.stack([im[None] if c == 1 else im.transpose(2, 0, 1) for im in imgs])
        path = mirror / source / "data4torch.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f.create_dataset("data", data=(data / 255.0).astype(np.float32), track_times=False)
            f.create_dataset("labels", data=labels, track_times=False)
        name = {"frgc": "frgc", "cmu-pie": "cmu-pie", "youtube-faces": "ytf"}[source]
        counts[name] = {"n": k * per, "k": k}
    return counts


# ---------------------------------------------------------------------------- registry


def _digest(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "git_blob_sha1": blob,
        "size": len(data),
    }


def rehearsal_registry(mirror: Path, manual: Path, out: Path) -> Path:
    """The packaged registry with the checksums, sizes and counts of the fixture files."""
    from mmclust.data.registry import registry_path

    doc = yaml.safe_load(registry_path().read_text())
    doc = copy.deepcopy(doc)
    for name, entry in doc["sources"].items():
        for f in entry.get("files") or []:
            path = mirror / name / f["name"]
            if not path.is_file():
                continue
            d = _digest(path)
            published = bool(f.get("sha256") or f.get("md5") or f.get("git_blob_sha1"))
            # keep the trust-on-first-use files unpinned: the rehearsal exercises the lock
            f.update(
                sha256=d["sha256"] if published else None,
                md5=d["md5"] if f.get("md5") else None,
                size=d["size"] if f.get("size") else None,
            )
            if f.get("git_blob_sha1"):
                f["git_blob_sha1"] = d["git_blob_sha1"]
        manual_part = entry.get("manual") or {}
        for e in manual_part.get("expect") or []:
            if not isinstance(e, dict):
                continue
            if e.get("path"):
                path = mirror / name / e["path"]
                if path.is_file():
                    d = _digest(path)
                    for key in ("sha256", "md5", "git_blob_sha1"):
                        if e.get(key):
                            e[key] = d[key]
            elif e.get("glob"):
                found = sum(1 for p in (manual / name).glob(e["glob"]) if p.is_file())
                e["min_count"] = min(e["min_count"], max(found, 1))
        if entry.get("notes"):
            entry["notes"] = "REHEARSAL COPY (checksums of the fixture files). " + entry["notes"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# The project's raw-file registry with the checksums, sizes and file counts of the\n"
        "# rehearsal's small fixture files (tests/fixtures_rehearsal.py).  Rehearsal only.\n"
        + yaml.safe_dump(doc, sort_keys=False, width=100)
    )
    return out


# ------------------------------------------------------------------------------- entry


def build_rehearsal_data(out: str | Path) -> dict[str, Any]:
    """Write ``mirror/``, ``manual/``, ``registry.yaml`` and ``counts.json`` under ``out``."""
    out = Path(out)
    mirror, manual = out / "mirror", out / "manual"
    counts: dict[str, Any] = {}
    counts |= _coco(mirror)
    counts |= _pascal(manual, mirror)
    counts |= _nyu(manual, mirror)
    counts |= _wikipedia(mirror)
    counts |= _nus_wide(manual, mirror)
    counts |= _mnist(mirror)
    counts |= _usps(mirror)
    counts |= _coil(mirror)
    counts |= _umist(mirror)
    counts |= _jule_h5(mirror)
    rehearsal_registry(mirror, manual, out / "registry.yaml")
    _write(out / "counts.json", json.dumps(counts, indent=1, sort_keys=True))
    return counts


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.fixtures_rehearsal")
    parser.add_argument("out", type=Path, help="folder to write mirror/, manual/, registry.yaml")
    a = parser.parse_args(argv)
    counts = build_rehearsal_data(a.out)
    print(json.dumps(counts, sort_keys=True))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
