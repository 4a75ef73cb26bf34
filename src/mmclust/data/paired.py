"""Builders for the image + text data sets of JECL and DM2C, bring-your-own data,
and a synthetic captioned-image demo set.

Every builder reads the raw files in the layout their publishers distribute
(the layout each expects is in its docstring; the one exception is the NYU
text descriptions, whose release format could not be checked here, so a
simple one-file-per-image layout is documented instead) and returns a
:class:`MultiViewDataset` with two views:

``image``  kind ``image_file``: paths relative to ``meta["image_root"]`` (the
           photo collections stay on disk; ``image_root`` is the raw folder as
           it was passed in, so a relative ``raw_dir`` keeps the project
           relocatable), or kind ``image`` (uint8 pixels) for the demo set;
``text``   kind ``text``: captions / sentences / descriptions / tags, ``""``
           and mask False where a sample has none.

Builders never write into their outputs half-way: the only files they write
are the NYU images (each PNG written atomically, once), and the data set
itself is saved by the caller through :meth:`MultiViewDataset.save`.
Counts obtained are logged and stored in ``meta`` next to the paper's.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.io import atomic_path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


# -- shared helpers --------------------------------------------------------------------


def _need(path: Path, what: str, fix: str) -> Path:
    """``path`` if it exists, else a DatasetError naming the file and the fix."""
    if not path.exists():
        raise DatasetError(f"{what} not found: {path} is missing. {fix}")
    return path


def _first_existing(root: Path, candidates: Sequence[str], what: str, fix: str) -> Path:
    for c in candidates:
        if (root / c).exists():
            return root / c
    tried = ", ".join(str(root / c) for c in candidates)
    raise DatasetError(f"{what} not found: none of {tried} exists. {fix}")


def _clean(text: str) -> str:
    """One line of text: every run of whitespace (newlines, tabs) becomes one space."""
    return " ".join(text.split())


def _check_images(root: Path, paths: Iterable[str], dataset: str, fix: str) -> None:
    missing = [p for p in paths if not (root / p).is_file()]
    if missing:
        shown = ", ".join(str(root / p) for p in missing[:5])
        raise DatasetError(
            f"{dataset}: {len(missing)} image file(s) are missing, e.g. {shown}. {fix}"
        )


def _text_view(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unicode array of one-line texts and its mask (False where the text is empty)."""
    arr = np.array([_clean(t) for t in texts], dtype=str)
    return arr, np.char.str_len(arr) > 0


def _paths_view(paths: Sequence[str]) -> np.ndarray:
    return np.array(list(paths), dtype=str)


def _log_counts(name: str, obtained: dict[str, Any], reference: dict[str, Any] | None) -> None:
    log.info(
        "%s: obtained %s; paper reports %s",
        name,
        ", ".join(f"{k}={v}" for k, v in obtained.items()),
        "n/a" if not reference else ", ".join(f"{k}={v}" for k, v in reference.items()),
    )


def _image_text_dataset(
    name: str,
    raw_dir: Path,
    *,
    paths: Sequence[str],
    text: np.ndarray,
    text_mask: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    provenance: dict[str, Any],
    reference: dict[str, Any] | None,
    obtained: dict[str, Any],
    notes: str,
    options: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    split: np.ndarray | None = None,
) -> MultiViewDataset:
    """The image-file + text data set a builder returns, after logging its counts.

    ``meta`` holds, in this order: ``provenance`` (source, url, licence,
    built_by), ``image_root`` (``raw_dir`` as given), ``options``,
    ``reference_counts``, ``obtained_counts``, ``details`` and ``notes``.
    """
    _log_counts(name, obtained, reference)
    return MultiViewDataset(
        name=name,
        views={"image": _paths_view(paths), "text": text},
        labels=labels,
        masks={"text": text_mask},
        kinds={"image": "image_file", "text": "text"},
        class_names=class_names,
        split=split,
        meta={
            **provenance,
            "image_root": str(raw_dir),
            **(options or {}),
            "reference_counts": reference,
            "obtained_counts": obtained,
            **(details or {}),
            "notes": notes,
        },
    )


def _labels_from_names(
    names: Sequence[str], order: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Class ids 0..k-1 for string labels; ``order`` fixes the class order."""
    classes = list(order) if order is not None else sorted(set(names))
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[s] for s in names], dtype=np.int64), classes


def _drop_empty_classes(
    labels: np.ndarray, classes: list[str], name: str
) -> tuple[np.ndarray, list[str]]:
    """Leave out classes without samples (with a warning) so ids stay 0..k-1.

    An empty selection is an error: there is nothing to cluster.
    """
    if labels.size == 0:
        raise DatasetError(
            f"{name}: no sample was selected; check the raw files and the builder's options"
        )
    present = np.unique(labels)
    if present.size == len(classes):
        return labels, classes
    empty = [c for i, c in enumerate(classes) if i not in set(present.tolist())]
    log.warning("%s: classes %s have no sample and are left out", name, empty)
    remap = np.full(len(classes), -1, dtype=np.int64)
    remap[present] = np.arange(present.size)
    return remap[labels], [classes[i] for i in present]


# -- COCO ------------------------------------------------------------------------------

COCO_CROSS = (
    "stop sign", "airplane", "suitcase", "pizza", "cell phone",
    "person", "giraffe", "kite", "toilet", "clock",
)  # fmt: skip
COCO_REFERENCE = {
    "cross": {"n": 7429, "k": 10},
    "all": {"n": 23189, "k": 43},
}
COCO_FIX = (
    "Download the 2014 annotations (http://images.cocodataset.org/annotations/"
    "annotations_trainval2014.zip) and images (http://images.cocodataset.org/zips/"
    "train2014.zip, val2014.zip) and unpack them so that raw_dir holds "
    "annotations/instances_<split>.json, annotations/captions_<split>.json and <split>/*.jpg."
)


def coco(
    name: str,
    raw_dir: Path,
    split: str | Sequence[str] = ("train2014", "val2014"),
    categories: Sequence[str] | str = "cross",
    min_per_class: int = 100,
    caption_join: str = " ",
) -> MultiViewDataset:
    """MS-COCO images whose instance annotations name exactly one category (JECL).

    Layout of ``raw_dir`` (the official archives unpacked in place)::

        annotations/instances_<split>.json   # official COCO instance annotations
        annotations/captions_<split>.json    # official COCO caption annotations
        <split>/<file_name>                  # the images, e.g. train2014/COCO_train2014_…jpg

    Choices the JECL paper leaves open, made here:

    * ``split``: which COCO release(s) were used is not stated; the default
      pools ``train2014`` and ``val2014`` (the 2014 release JECL's time
      suggests).  Any list of split names whose two JSON files are present can
      be given (e.g. ``["train2017", "val2017"]``).
    * "exactly one category": the set of distinct ``category_id`` over all of
      an image's instance annotations (crowd regions included) has one
      element; several instances of that one category are allowed; images
      with no instance annotation are left out.
    * ``categories``: a list of COCO category names (class order = list
      order), ``"cross"`` for Coco-cross (the paper's 10 categories, 7429
      points) or ``"all"`` for Coco-all: every category with at least
      ``min_per_class`` single-category images (the paper: 43 classes, 23189
      points), in COCO category-id order.  ``min_per_class`` only applies to
      ``"all"``; a listed category without any such image is left out (warning).
    * captions: all captions of an image, in annotation-id order, stripped
      and joined with ``caption_join`` (the paper's ~50 words per item); an
      image without captions keeps its image and has the text mask False.
    """
    raw_dir = Path(raw_dir)
    splits = [split] if isinstance(split, str) else list(split)
    if not splits:
        raise DatasetError(f"{name}: give at least one COCO split (e.g. train2014)")
    if isinstance(categories, str) and categories not in ("all", "cross"):
        raise DatasetError(
            f"{name}: categories must be a list of COCO category names, 'cross' or 'all', "
            f"not {categories!r}"
        )
    cat_names: dict[int, str] = {}
    # (split, image id) -> file name / category / captions
    files: dict[tuple[str, int], str] = {}
    single: dict[tuple[str, int], int] = {}
    captions: dict[tuple[str, int], list[tuple[int, str]]] = defaultdict(list)
    for s in splits:
        inst_path = _need(
            raw_dir / "annotations" / f"instances_{s}.json", "COCO instance annotations", COCO_FIX
        )
        cap_path = _need(
            raw_dir / "annotations" / f"captions_{s}.json", "COCO caption annotations", COCO_FIX
        )
        log.info("%s: reading %s", name, inst_path)
        inst = _read_json(inst_path)
        for c in inst.get("categories", []):
            if cat_names.setdefault(int(c["id"]), c["name"]) != c["name"]:
                raise DatasetError(f"{inst_path}: category {c['id']} has another name elsewhere")
        for im in inst.get("images", []):
            files[(s, int(im["id"]))] = im["file_name"]
        cats_of: dict[int, set[int]] = defaultdict(set)
        for a in inst.get("annotations", []):
            cats_of[int(a["image_id"])].add(int(a["category_id"]))
        for img_id, cs in cats_of.items():
            if len(cs) == 1 and (s, img_id) in files:
                single[(s, img_id)] = next(iter(cs))
        del inst, cats_of
        log.info("%s: reading %s", name, cap_path)
        for a in _read_json(cap_path).get("annotations", []):
            captions[(s, int(a["image_id"]))].append((int(a.get("id", 0)), a["caption"]))

    per_cat = Counter(single.values())
    if categories == "all":
        chosen_ids = sorted(c for c in cat_names if per_cat[c] >= min_per_class)
        reference = COCO_REFERENCE["all"]
    else:
        wanted = list(COCO_CROSS) if categories == "cross" else list(categories)
        by_name = {v: k for k, v in cat_names.items()}
        unknown = [c for c in wanted if c not in by_name]
        if unknown:
            raise DatasetError(
                f"{name}: {unknown} are not COCO category names; known: {sorted(by_name)}"
            )
        chosen_ids = [by_name[c] for c in wanted]
        reference = COCO_REFERENCE["cross"] if set(wanted) == set(COCO_CROSS) else None
    if not chosen_ids:
        raise DatasetError(
            f"{name}: no category has {min_per_class} single-category images; "
            "lower min_per_class or check the annotation files"
        )
    class_of = {c: i for i, c in enumerate(chosen_ids)}
    keys = sorted(
        (k for k, c in single.items() if c in class_of),
        key=lambda k: (splits.index(k[0]), k[1]),
    )
    paths = [f"{s}/{files[(s, i)]}" for s, i in keys]
    _check_images(raw_dir, paths, name, COCO_FIX)
    texts = [caption_join.join(c.strip() for _, c in sorted(captions.get(k, []))) for k in keys]
    text, text_mask = _text_view(texts)
    labels, class_names = _drop_empty_classes(
        np.array([class_of[single[k]] for k in keys], dtype=np.int64),
        [cat_names[c] for c in chosen_ids],
        name,
    )
    obtained = {"n": len(keys), "k": len(class_names)}
    split_counts = {s: sum(1 for k in keys if k[0] == s) for s in splits}
    words = [len(t.split()) for t in text[text_mask]]
    return _image_text_dataset(
        name,
        raw_dir,
        paths=paths,
        text=text,
        text_mask=text_mask,
        labels=labels,
        class_names=class_names,
        provenance={
            "source": "MS-COCO (instances + captions annotations, images)",
            "url": "https://cocodataset.org/#download",
            "licence": "annotations CC BY 4.0; images under their Flickr licences",
            "built_by": "mmclust.data.paired.coco",
        },
        options={
            "coco_splits": splits,
            "coco_split_counts": split_counts,
            "categories": "all" if categories == "all" else "list",
            "min_per_class": min_per_class if categories == "all" else None,
        },
        reference=reference,
        obtained=obtained,
        details={"mean_caption_words": float(np.mean(words)) if words else 0.0},
        notes=(
            "Images whose instance annotations name exactly one distinct category; "
            "all captions of an image joined. The COCO split(s) used by the paper are "
            f"not stated; this build pools {splits}."
        ),
    )


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise DatasetError(
            f"{path} is not valid JSON ({e}): the file is damaged or truncated; download it again"
        ) from None


# -- Pascal Sentences ------------------------------------------------------------------

PASCAL_FIX = (
    "Mirror http://vision.cs.uiuc.edu/pascal-sentences/ into raw_dir: the page saved as "
    "raw_dir/index.html and its images as raw_dir/<category>/<image>.jpg (e.g. wget --recursive "
    "--level=1 --no-parent --no-host-directories --cut-dirs=1 --accept jpg,html); or store "
    "raw_dir/dataset/<category>/<image>.jpg with raw_dir/sentence/<category>/<image>.txt "
    "(one sentence per line)."
)


def pascal_sentences(name: str, raw_dir: Path) -> MultiViewDataset:
    """UIUC Pascal Sentences: 1000 PASCAL VOC 2008 images, 20 classes × 50, 5 sentences each.

    The data set is one web page: a table whose rows show an image (address
    ``<category>/<file>.jpg`` relative to the page) beside a small table of
    its five sentences.  Two layouts of ``raw_dir`` are read:

    1. the page mirrored as it is (tried first)::

           index.html                      # the saved page
           <category>/<file>.jpg           # its images

       the sentences of an image are the texts of the innermost table cells
       that follow its ``<img>`` up to the next image;
    2. per-category folders (how several public scripts save the page)::

           dataset/<category>/<stem>.jpg   # or images/<category>/<stem>.jpg
           sentence/<category>/<stem>.txt  # or sentences/…, one sentence per line

    Classes are the category names in sorted order; images in category, then
    file-name order.  The sentences of an image are joined with a space; an
    image without sentences keeps its image and has the text mask False
    (logged).
    """
    raw_dir = Path(raw_dir)
    page = raw_dir / "index.html"
    if page.is_file():
        records = _pascal_page(page, name)
        layout = "index.html"
    else:
        records = _pascal_folders(raw_dir, name)
        layout = "dataset/ + sentence/ folders"
    records.sort(key=lambda r: (r[1], r[0]))
    paths = [r[0] for r in records]
    _check_images(raw_dir, paths, name, PASCAL_FIX)
    no_text = [p for p, _, sentences in records if not sentences]
    if no_text:
        log.warning(
            "%s: %d image(s) have no sentence (text mask False), e.g. %s",
            name, len(no_text), no_text[0],
        )  # fmt: skip
    labels, classes = _labels_from_names([r[1] for r in records])
    text, text_mask = _text_view([" ".join(r[2]) for r in records])
    reference = {"n": 1000, "k": 20, "sentences_per_image": 5}
    obtained = {"n": len(paths), "k": len(classes)}
    return _image_text_dataset(
        name,
        raw_dir,
        paths=paths,
        text=text,
        text_mask=text_mask,
        labels=labels,
        class_names=classes,
        provenance={
            "source": "UIUC Pascal Sentences (Rashtchian et al. 2010)",
            "url": "http://vision.cs.uiuc.edu/pascal-sentences/",
            "licence": "research use; images from PASCAL VOC 2008 (Flickr licences)",
            "built_by": "mmclust.data.paired.pascal_sentences",
        },
        options={"raw_layout": layout},
        reference=reference,
        obtained=obtained,
        details={"sentences_per_image": dict(sorted(Counter(len(r[2]) for r in records).items()))},
        notes="All sentences of an image joined with a space.",
    )


class _PascalPage(HTMLParser):
    """(image address, sentences) from the UIUC page: leaf <td> texts after each <img>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.records: list[tuple[str, list[str]]] = []
        self._cells: list[list[Any]] = []  # stack of [text parts, has a nested cell]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.records.append((src, []))
        elif tag == "td":
            if self._cells:
                self._cells[-1][1] = True
            self._cells.append([[], False])

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cells:
            parts, nested = self._cells.pop()
            sentence = _clean("".join(parts))
            if sentence and not nested and self.records:
                self.records[-1][1].append(sentence)

    def handle_data(self, data: str) -> None:
        if self._cells:
            self._cells[-1][0].append(data)


def _pascal_page(page: Path, name: str) -> list[tuple[str, str, list[str]]]:
    parser = _PascalPage()
    parser.feed(_read_text(page))
    parser.close()
    records = []
    for src, sentences in parser.records:
        parts = [p for p in src.split("?")[0].split("/") if p]
        if len(parts) < 2 or Path(parts[-1]).suffix.lower() not in IMAGE_SUFFIXES:
            continue  # not one of the data set's images (e.g. a logo)
        rel = "/".join(parts[-2:])
        records.append((rel, parts[-2], sentences))
    if not records:
        raise DatasetError(f"{name}: {page} lists no <category>/<file>.jpg image. {PASCAL_FIX}")
    return records


def _pascal_folders(raw_dir: Path, name: str) -> list[tuple[str, str, list[str]]]:
    img_root = _first_existing(
        raw_dir, ("dataset", "images"), "Pascal Sentences images (or index.html)", PASCAL_FIX
    )
    sen_root = _first_existing(
        raw_dir, ("sentence", "sentences"), "Pascal Sentences sentences", PASCAL_FIX
    )
    cats = sorted(p.name for p in img_root.iterdir() if p.is_dir())
    if not cats:
        raise DatasetError(f"{name}: {img_root} has no category folders. {PASCAL_FIX}")
    records = []
    for cat in cats:
        for img in sorted((img_root / cat).iterdir()):
            if img.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            txt = sen_root / cat / f"{img.stem}.txt"
            lines = []
            if txt.is_file():
                lines = [_clean(ln) for ln in _read_text(txt).splitlines() if ln.strip()]
            records.append((img.relative_to(raw_dir).as_posix(), cat, lines))
    return records


def _read_text(path: Path) -> str:
    """Text of a file: UTF-8, falling back to Latin-1 for old files."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# -- NYU Depth v2 (RGB-D) --------------------------------------------------------------

NYU_MAT = "nyu_depth_v2_labeled.mat"
NYU_FIX = (
    "Download http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat "
    "(MATLAB v7.3) into raw_dir."
)
NYU_TEXT_FIX = (
    "Put the per-image descriptions of Kong et al. (CVPR 2014, 'What are you talking about? "
    "Text-to-image coreference') in raw_dir/descriptions/<index>.txt (index = 1-based image "
    "number in the .mat file, zero padding allowed) or in raw_dir/descriptions.tsv "
    "(lines '<index><TAB><text>')."
)
# The 12 most frequent of NYU Depth v2's 27 scene types in the 1449 labelled
# images, by the counts as we recall them (bedroom 383, kitchen 225,
# living_room 221, bathroom 121, dining_room 117, office 78, home_office 50,
# classroom 49, bookstore 36, playroom 31, furniture_store 27, study 25; not
# verified against the file here: the builder stores the real counts in
# meta["scene_type_counts"], check them on the first real build); the other
# 15 (basement, cafe, computer_lab, conference_room, dinette, excercise_room,
# foyer, home_storage, indoor_balcony, laundry_room, office_kitchen,
# printer_room, reception_room, student_lounge, study_room) become "other".
NYU_SCENES_12 = (
    "bedroom", "kitchen", "living_room", "bathroom", "dining_room", "office",
    "home_office", "classroom", "bookstore", "playroom", "furniture_store", "study",
)  # fmt: skip


def nyu_default_scene_map() -> dict[str, str]:
    """The default 27 → 13 class mapping: 12 most frequent scene types + ``other``."""
    return {**{s: s for s in NYU_SCENES_12}, "*": "other"}


def nyu_rgbd(
    name: str,
    raw_dir: Path,
    scene_map: dict[str, str] | None = None,
    image_dir: str = "images",
) -> MultiViewDataset:
    """NYU Depth v2 labelled images (1449) with Kong et al.'s descriptions (JECL "RGB-D").

    Layout of ``raw_dir``::

        nyu_depth_v2_labeled.mat        # the official labelled set, MATLAB v7.3 (HDF5)
        descriptions/<index>.txt        # one description per image, index 1..1449
                                        #   (``0001.txt`` or ``1.txt``; sub-folders of
                                        #   descriptions/ are searched too), or instead
        descriptions.tsv                # lines "<index>\\t<description>"

    The .mat file is read with h5py: ``images`` is stored transposed as
    (N, 3, W, H) uint8 and ``sceneTypes`` is a cell array of strings (object
    references to uint16 character arrays).  Only the RGB images are used
    (JECL's image view); they are written once to
    ``raw_dir/<image_dir>/<index:04d>.png`` (a PNG already there is reused)
    and the ``image`` view holds those paths.

    Classes: the paper reports 13 classes without saying how the 27 NYU scene
    types were grouped.  **This is our choice**: by default the 12 most
    frequent scene types keep their own class and the other 15 are merged
    into ``other`` (see :func:`nyu_default_scene_map`).  ``scene_map`` maps
    scene type → class name; the key ``"*"`` catches every unlisted type, and
    without it an unlisted type is an error.  Class order is the order of
    first appearance in the map's values.  An image without a description
    keeps its image and has the text mask False.
    """
    import h5py

    raw_dir = Path(raw_dir)
    mat = _need(raw_dir / NYU_MAT, "NYU Depth v2 labelled data", NYU_FIX)
    mapping = dict(scene_map) if scene_map is not None else nyu_default_scene_map()
    descriptions = _nyu_descriptions(raw_dir)
    out_dir = raw_dir / image_dir
    try:
        f = h5py.File(mat, "r")
    except OSError as e:
        raise DatasetError(
            f"{mat} is not a MATLAB v7.3 (HDF5) file ({e}): it is damaged or a different file. "
            f"{NYU_FIX}"
        ) from None
    with f:
        for key in ("images", "sceneTypes"):
            if key not in f:
                raise DatasetError(
                    f"{mat} has no variable {key!r}: it is not the labelled set. {NYU_FIX}"
                )
        images = f["images"]
        if images.ndim != 4 or images.shape[1] != 3:
            raise DatasetError(f"{mat}: 'images' should be (N, 3, W, H), got {images.shape}")
        n = images.shape[0]
        scenes = [_matlab_string(f, r) for r in np.asarray(f["sceneTypes"]).ravel()]
        if len(scenes) != n:
            raise DatasetError(f"{mat}: {len(scenes)} scene types for {n} images")
        paths = []
        for i in tqdm(range(n), desc=f"{name}: images", unit="img", disable=None):
            rel = f"{image_dir}/{i + 1:04d}.png"
            paths.append(rel)
            if not (raw_dir / rel).is_file():
                # MATLAB stores H x W x 3 x N column-major: h5py sees (N, 3, W, H)
                rgb = np.ascontiguousarray(np.asarray(images[i]).transpose(2, 1, 0))
                _write_png(out_dir / f"{i + 1:04d}.png", rgb.astype(np.uint8, copy=False))
    unmapped = [] if "*" in mapping else sorted({s for s in scenes if s not in mapping})
    if unmapped:
        raise DatasetError(
            f"{name}: scene types {unmapped} are not in scene_map; add them, or map every "
            "other type with the key '*' (e.g. '*': 'other')"
        )
    names = [mapping.get(s, mapping.get("*", "")) for s in scenes]
    labels, classes = _labels_from_names(names, list(dict.fromkeys(mapping.values())))
    labels, classes = _drop_empty_classes(labels, classes, name)
    texts = [descriptions.get(i + 1, "") for i in range(n)]
    text, text_mask = _text_view(texts)
    if (~text_mask).any():
        log.warning("%s: %d of %d images have no description", name, int((~text_mask).sum()), n)
    reference = {"n": 1449, "k": 13}
    obtained = {"n": n, "k": len(classes)}
    return _image_text_dataset(
        name,
        raw_dir,
        paths=paths,
        text=text,
        text_mask=text_mask,
        labels=labels,
        class_names=classes,
        provenance={
            "source": "NYU Depth v2 labelled set (Silberman et al. 2012) + descriptions of "
            "Kong et al. (CVPR 2014)",
            "url": "https://cs.nyu.edu/~silberman/datasets/nyu_depth_v2.html",
            "licence": "research use (see the data set pages)",
            "built_by": "mmclust.data.paired.nyu_rgbd",
        },
        reference=reference,
        obtained=obtained,
        details={
            "scene_type_counts": dict(sorted(Counter(scenes).items())),
            "scene_map": mapping,
        },
        notes=(
            "Our choice, not the paper's (it reports 13 classes without the grouping): "
            + (
                "the 12 most frequent NYU scene types + 'other' for the remaining 15."
                if scene_map is None
                else "scene types grouped by the scene_map given in the config."
            )
            + " RGB only; images written once as PNG under image_root."
        ),
    )


def _matlab_string(f: Any, ref: Any) -> str:
    """A MATLAB char array stored in a v7.3 file (uint16 codes), as ``str``."""
    obj = f[ref]
    if obj.attrs.get("MATLAB_empty", 0):
        return ""
    codes = np.asarray(obj[()]).ravel()
    return "".join(chr(int(c)) for c in codes)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")


def _nyu_descriptions(raw_dir: Path) -> dict[int, str]:
    folder, tsv = raw_dir / "descriptions", raw_dir / "descriptions.tsv"
    out: dict[int, str] = {}
    if folder.is_dir():
        for p in sorted(folder.rglob("*.txt")):
            if p.stem.isdigit():
                if int(p.stem) in out:
                    raise DatasetError(
                        f"{p}: a second description for image {int(p.stem)}; keep one file "
                        "per image index under descriptions/"
                    )
                out[int(p.stem)] = _clean(_read_text(p))
        if not out:
            raise DatasetError(f"{folder} has no <index>.txt description file. {NYU_TEXT_FIX}")
    elif tsv.is_file():
        for ln, line in enumerate(_read_text(tsv).splitlines(), 1):
            if not line.strip():
                continue
            idx, _, txt = line.partition("\t")
            if not idx.strip().isdigit():
                if ln == 1:  # a header row
                    continue
                raise DatasetError(f"{tsv}:{ln}: the first column must be the image index")
            out[int(idx)] = _clean(txt)
    else:
        raise DatasetError(
            f"NYU descriptions not found: neither {folder} nor {tsv} exists. {NYU_TEXT_FIX}"
        )
    return out


# -- Wikipedia (Rasiwasia et al. 2010) -------------------------------------------------

WIKI_FIX = (
    "Download the Wikipedia cross-modal data set (wikipedia_dataset.zip from "
    "http://www.svcl.ucsd.edu/projects/crossmodal/) and unpack it so that raw_dir holds "
    "trainset_txt_img_cat.list, testset_txt_img_cat.list, categories.list, texts_xml/ (or "
    "texts/) and images/<category>/."
)
WIKI_SUBDIR = "wikipedia_dataset"
_TEXT_RE = re.compile(r"<text>(.*?)</text>", re.DOTALL | re.IGNORECASE)


def wikipedia(name: str, raw_dir: Path) -> MultiViewDataset:
    """Wikipedia cross-modal data set: 2866 image–text pairs, 10 categories (DM2C).

    Layout of ``raw_dir`` (the published archive; all of it may also sit in
    a ``wikipedia_dataset/`` folder inside ``raw_dir``, as the zip unpacks)::

        categories.list                 # one category name per line (art, biology, …)
        trainset_txt_img_cat.list       # "<text id>\\t<image id>\\t<category number 1..10>"
        testset_txt_img_cat.list
        texts_xml/<text id>.xml         # (or texts/) the article section inside <text>…</text>
        images/<category>/<image id>.jpg

    The original train/test split is kept in ``split`` (2173 / 693).  Class
    ids follow the category numbers of categories.list (a category without
    any pair would be left out, with a warning).
    """
    raw_dir = Path(raw_dir)
    prefix = ""
    if not (raw_dir / "categories.list").exists() and (raw_dir / WIKI_SUBDIR).is_dir():
        prefix = f"{WIKI_SUBDIR}/"  # the archive's own top-level folder
    root = raw_dir / prefix if prefix else raw_dir
    cat_file = _need(root / "categories.list", "Wikipedia category list", WIKI_FIX)
    categories = [ln.strip() for ln in _read_text(cat_file).splitlines() if ln.strip()]
    text_dir = _first_existing(root, ("texts_xml", "texts"), "Wikipedia texts", WIKI_FIX)
    rows: list[tuple[str, str, int, str]] = []
    for part in ("train", "test"):
        lst = _need(root / f"{part}set_txt_img_cat.list", f"Wikipedia {part} list", WIKI_FIX)
        for ln, line in enumerate(_read_text(lst).splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 3 or not fields[2].isdigit():
                raise DatasetError(
                    f"{lst}:{ln}: expected '<text id><TAB><image id><TAB><category>', got {line!r}"
                )
            cat = int(fields[2])
            if not 1 <= cat <= len(categories):
                raise DatasetError(
                    f"{lst}:{ln}: category {cat} outside 1..{len(categories)} of {cat_file}"
                )
            rows.append((fields[0], fields[1], cat - 1, part))
    texts = []
    for text_id, _, _, _ in rows:
        xml = _need(text_dir / f"{text_id}.xml", "Wikipedia text", WIKI_FIX)
        m = _TEXT_RE.search(_read_text(xml))
        if m is None:
            raise DatasetError(f"{xml} has no <text>…</text> element: the file is damaged")
        texts.append(html.unescape(m.group(1)))
    paths = [f"{prefix}images/{categories[c]}/{img}.jpg" for _, img, c, _ in rows]
    _check_images(raw_dir, paths, name, WIKI_FIX)
    text, text_mask = _text_view(texts)
    labels, classes = _drop_empty_classes(
        np.array([c for _, _, c, _ in rows], dtype=np.int64), categories, name
    )
    split = np.array([p for *_, p in rows], dtype=str)
    reference = {"n": 2866, "k": 10, "train": 2173, "test": 693}
    obtained = {
        "n": len(rows),
        "k": len(classes),
        "train": int((split == "train").sum()),
        "test": int((split == "test").sum()),
    }
    return _image_text_dataset(
        name,
        raw_dir,
        paths=paths,
        text=text,
        text_mask=text_mask,
        labels=labels,
        class_names=classes,
        split=split,
        provenance={
            "source": "Wikipedia cross-modal data set (Rasiwasia et al., ACM MM 2010)",
            "url": "http://www.svcl.ucsd.edu/projects/crossmodal/",
            "licence": "research use; texts from Wikipedia (CC BY-SA)",
            "built_by": "mmclust.data.paired.wikipedia",
        },
        reference=reference,
        obtained=obtained,
        notes="Original train/test split kept in 'split'.",
    )


# -- NUS-WIDE-10K ----------------------------------------------------------------------

NUS_FIX = (
    "NUS-WIDE cannot be downloaded automatically: get ImageList.zip, NUS_WID_Tags.zip, "
    "Groundtruth.zip (and ConceptsList.zip) from "
    "https://lms.comp.nus.edu.sg/wp-content/uploads/2019/research/nuswide/NUS-WIDE.html and "
    "request the images from its authors; unpack so that raw_dir holds ImageList/Imagelist.txt, "
    "NUS_WID_Tags/AllTags1k.txt, NUS_WID_Tags/TagList1k.txt, Groundtruth/AllLabels/"
    "Labels_<concept>.txt and Flickr/<folder>/<image>.jpg."
)


def nus_wide_10k(
    name: str,
    raw_dir: Path,
    concepts: Sequence[str] | None = None,
    n_classes: int = 10,
    per_class: int = 1000,
    exclusive_among: str = "all",
    seed: int = 0,
    image_dir: str = "Flickr",
    skip_missing_images: bool = True,
) -> MultiViewDataset:
    """NUS-WIDE-10K: 10 categories × 1000 single-label image–tag pairs (DM2C).

    Layout of ``raw_dir`` (NUS-WIDE's archives unpacked)::

        ImageList/Imagelist.txt               # one image per line, e.g.
                                              #   C:\\ImageData\\Flickr\\actor\\0001_2124494179.jpg
        NUS_WID_Tags/AllTags1k.txt            # per image: 1000 0/1 values (space/tab separated)
        NUS_WID_Tags/TagList1k.txt            # the 1000 tags, one per line (or ConceptsList/)
        Groundtruth/AllLabels/Labels_<concept>.txt   # per image: 0/1, one per line (81 files)
        Flickr/<folder>/<image>.jpg           # the images; path = last two parts of the list entry

    All per-image files are row-aligned with Imagelist.txt.

    Selection (Feng et al. 2014 took "the 10 largest categories" with one
    label per pair; the exact rule is not published, so this is our choice):

    * an image is *single-label* when exactly one of the 81 concepts is
      positive (``exclusive_among="all"``) or exactly one of the chosen
      concepts (``"chosen"``), it has at least one of the 1000 tags, and (with
      ``skip_missing_images``) its image file exists;
    * ``concepts`` None → the ``n_classes`` concepts with the most single-label
      images (ties by name); otherwise the given concept names;
    * ``per_class`` images per concept are drawn without replacement with
      ``numpy.random.default_rng(seed)`` (all of them when fewer, with a
      warning); classes in sorted name order; samples in list order.

    Text view: the image's tags from the 1000-tag vocabulary, in vocabulary
    order, joined with spaces.
    """
    raw_dir = Path(raw_dir)
    if exclusive_among not in ("all", "chosen"):
        raise DatasetError(f"{name}: exclusive_among must be 'all' or 'chosen'")
    if concepts is None and exclusive_among == "chosen":
        raise DatasetError(f"{name}: exclusive_among='chosen' needs an explicit concepts list")
    list_file = _need(raw_dir / "ImageList" / "Imagelist.txt", "NUS-WIDE image list", NUS_FIX)
    tags_file = _need(raw_dir / "NUS_WID_Tags" / "AllTags1k.txt", "NUS-WIDE tags", NUS_FIX)
    vocab_file = _first_existing(
        raw_dir,
        ("NUS_WID_Tags/TagList1k.txt", "ConceptsList/TagList1k.txt", "Concepts/TagList1k.txt"),
        "NUS-WIDE tag vocabulary",
        NUS_FIX,
    )
    label_dir = _need(raw_dir / "Groundtruth" / "AllLabels", "NUS-WIDE labels", NUS_FIX)
    entries = [ln.strip() for ln in _read_text(list_file).splitlines() if ln.strip()]
    n = len(entries)
    paths = [_nus_path(e, image_dir) for e in entries]
    vocab = [ln.strip() for ln in _read_text(vocab_file).splitlines() if ln.strip()]
    label_files = sorted(label_dir.glob("Labels_*.txt"))
    if not label_files:
        raise DatasetError(f"no Labels_<concept>.txt in {label_dir}. {NUS_FIX}")
    all_concepts = [p.stem[len("Labels_") :] for p in label_files]
    L = np.zeros((n, len(label_files)), dtype=bool)
    for j, p in enumerate(label_files):
        v = np.array(_read_text(p).split(), dtype=np.int64)
        if v.shape[0] != n:
            raise DatasetError(f"{p} has {v.shape[0]} rows but {list_file} lists {n} images")
        L[:, j] = v > 0
    if concepts is not None:
        unknown = [c for c in concepts if c not in all_concepts]
        if unknown:
            raise DatasetError(
                f"{name}: unknown NUS-WIDE concepts {unknown}; known: {all_concepts}"
            )
        cols = [all_concepts.index(c) for c in concepts]
        pool = L[:, cols].sum(1) == 1 if exclusive_among == "chosen" else L.sum(1) == 1
        pool &= L[:, cols].any(1)
    else:
        pool = L.sum(1) == 1
    tags = _nus_tags(tags_file, np.flatnonzero(pool), vocab, n)
    has_tags = np.array([bool(tags.get(i)) for i in range(n)])
    ok = pool & has_tags
    missing_images = 0
    if skip_missing_images:
        exists = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(ok):
            exists[i] = (raw_dir / paths[i]).is_file()
        missing_images = int((ok & ~exists).sum())
        if missing_images:
            log.warning("%s: %d candidate images are missing and skipped", name, missing_images)
        ok &= exists
    if concepts is None:
        counts = {c: int((ok & L[:, j]).sum()) for j, c in enumerate(all_concepts)}
        chosen = sorted(counts, key=lambda c: (-counts[c], c))[:n_classes]
    else:
        chosen = list(concepts)
    classes = sorted(chosen)
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    labels_list: list[int] = []
    available: dict[str, int] = {}
    for k, c in enumerate(classes):
        cand = np.flatnonzero(ok & L[:, all_concepts.index(c)])
        available[c] = int(cand.size)
        if cand.size < per_class:
            log.warning(
                "%s: concept %r has only %d usable images (< %d)", name, c, cand.size, per_class
            )
            take = cand
        else:
            take = np.sort(rng.choice(cand, size=per_class, replace=False))
        picked.extend(take.tolist())
        labels_list.extend([k] * len(take))
    order = np.argsort(picked, kind="stable")
    idx = np.array(picked, dtype=np.int64)[order]
    labels, classes = _drop_empty_classes(
        np.array(labels_list, dtype=np.int64)[order], classes, name
    )
    sel_paths = [paths[i] for i in idx]
    if not skip_missing_images:
        _check_images(raw_dir, sel_paths, name, NUS_FIX)
    text, text_mask = _text_view([" ".join(tags[i]) for i in idx])
    reference = {"n": 10000, "k": 10, "per_class": 1000}
    obtained = {"n": int(idx.size), "k": len(classes)}
    return _image_text_dataset(
        name,
        raw_dir,
        paths=sel_paths,
        text=text,
        text_mask=text_mask,
        labels=labels,
        class_names=classes,
        provenance={
            "source": "NUS-WIDE (Chua et al. 2009), NUS-WIDE-10K selection (Feng et al. 2014)",
            "url": "https://lms.comp.nus.edu.sg/wp-content/uploads/2019/research/nuswide/NUS-WIDE.html",
            "licence": "research use; images under their Flickr licences",
            "built_by": "mmclust.data.paired.nus_wide_10k",
        },
        reference=reference,
        obtained=obtained,
        details={
            "selection": {
                "concepts": classes,
                "auto_selected": concepts is None,
                "exclusive_among": exclusive_among,
                "per_class": per_class,
                "seed": seed,
                "usable_per_class": available,
                "missing_images_skipped": missing_images,
            },
        },
        notes=(
            "Our selection rule (not published): images with exactly one positive concept "
            f"({exclusive_among}), at least one of the 1000 tags; {per_class} per class drawn "
            f"with seed {seed}. Text = tags joined."
        ),
    )


def _nus_path(entry: str, image_dir: str) -> str:
    parts = [p for p in entry.replace("\\", "/").split("/") if p]
    return "/".join([image_dir, *parts[-2:]])


def _nus_tags(path: Path, rows: np.ndarray, vocab: list[str], n: int) -> dict[int, list[str]]:
    """Tags (vocabulary words) of the images at ``rows`` from AllTags1k.txt."""
    wanted = set(rows.tolist())
    out: dict[int, list[str]] = {}
    count = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(tqdm(fh, total=n, desc="NUS-WIDE tags", unit="img", disable=None)):
            count += 1
            if i not in wanted:
                continue
            v = line.split()
            if len(v) != len(vocab):
                raise DatasetError(
                    f"{path}:{i + 1}: {len(v)} values but the tag list has {len(vocab)} tags"
                )
            out[i] = [t for t, x in zip(vocab, v, strict=True) if x != "0"]
    if count != n:
        raise DatasetError(f"{path} has {count} rows but the image list has {n} images")
    return out


# -- bring your own --------------------------------------------------------------------

_HEADER_NAMES = {
    "image": ("image", "image_file", "file", "filename", "path", "image_path"),
    "caption": ("caption", "text", "captions", "description"),
    "label": ("label", "class", "category", "labels"),
}


def captioned_folder(name: str, raw_dir: Path, captions: str = "captions.tsv") -> MultiViewDataset:
    """Bring your own: a folder of images plus a tab-separated captions file.

    Layout of ``raw_dir``::

        captions.tsv                    # image file <TAB> caption <TAB> label
        <any/sub/folders>/<image files> # paths in the first column, relative to raw_dir

    * one row per image; columns image file, caption, label, separated by
      tabs (so a caption cannot contain a tab);
    * an optional header row, recognised when its first column is one of
      ``image``, ``image_file``, ``file``, ``filename``, ``path``; with a
      header, columns are found by name (image / caption or text / label or
      class) and may be in any order;
    * an empty caption means the image has no caption: text ``""``, mask False;
    * the label column is required (evaluation needs the classes): labels
      are strings, mapped to ids in sorted order (numerically sorted when all
      are integers) and kept as ``class_names``.
    """
    raw_dir = Path(raw_dir)
    tsv = _need(
        raw_dir / captions,
        "captions file",
        f"Write {raw_dir / captions} with one line per image: <image file>\\t<caption>\\t<label>.",
    )
    lines = [ln for ln in _read_text(tsv).splitlines() if ln.strip()]
    if not lines:
        raise DatasetError(
            f"{tsv} is empty: add one line per image (<image>\\t<caption>\\t<label>)"
        )
    head = [c.strip().lower() for c in lines[0].split("\t")]
    cols = {"image": 0, "caption": 1, "label": 2}
    if head[0] in _HEADER_NAMES["image"]:
        for key, names in _HEADER_NAMES.items():
            hit = [i for i, h in enumerate(head) if h in names]
            if hit:
                cols[key] = hit[0]
            elif key == "caption":
                raise DatasetError(
                    f"{tsv}: the header {lines[0]!r} has no caption column; name it 'caption'"
                )
            else:
                cols[key] = -1
        lines = lines[1:]
        first_line = 2
    else:
        first_line = 1
    paths: list[str] = []
    texts: list[str] = []
    names: list[str] = []
    for ln, line in enumerate(lines, first_line):
        fields = line.split("\t")
        if cols["label"] < 0 or len(fields) <= max(cols.values()):
            raise DatasetError(
                f"{tsv}:{ln}: no label column. Every row needs <image>\\t<caption>\\t<label>: "
                "clustering is evaluated against the classes, so a label is required (use any "
                "string, e.g. the folder name); leave the caption empty if there is none"
            )
        img = fields[cols["image"]].strip()
        label = fields[cols["label"]].strip()
        if not img:
            raise DatasetError(f"{tsv}:{ln}: empty image file name")
        if not label:
            raise DatasetError(f"{tsv}:{ln}: empty label for {img!r}; every image needs a label")
        paths.append(img)
        texts.append(fields[cols["caption"]])
        names.append(label)
    if not paths:
        raise DatasetError(f"{tsv} has a header but no rows")
    _check_images(
        raw_dir, paths, name, f"Put the images under {raw_dir} or fix their names in {tsv}."
    )
    if all(re.fullmatch(r"[+-]?\d+", s) for s in names):
        order = [str(v) for v in sorted({int(s) for s in names})]
        names = [str(int(s)) for s in names]
    else:
        order = sorted(set(names))
    labels, classes = _labels_from_names(names, order)
    text, text_mask = _text_view(texts)
    obtained = {"n": len(paths), "k": len(classes), "captions": int(text_mask.sum())}
    return _image_text_dataset(
        name,
        raw_dir,
        paths=paths,
        text=text,
        text_mask=text_mask,
        labels=labels,
        class_names=classes,
        provenance={
            "source": f"user-provided folder ({captions})",
            "licence": "as provided by the user",
            "built_by": "mmclust.data.paired.captioned_folder",
        },
        reference=None,
        obtained=obtained,
        notes="Bring-your-own captioned images; empty captions are missing (mask False).",
    )


# -- synthetic captioned digits (offline demo) ---------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (60, 100, 245),
    "yellow": (240, 220, 40),
    "orange": (250, 140, 20),
    "purple": (160, 70, 210),
    "pink": (250, 120, 190),
    "cyan": (40, 220, 230),
}
_NOUN = ("number", "digit", "numeral", "figure")
_PIC = ("picture", "photo", "image", "scan", "snapshot")
_WROTE = ("wrote", "drew", "scribbled", "sketched")
_HAND = ("handwritten", "hand-drawn", "scribbled", "hand-written")
# {d}: the digit (word or numeral), {c}: colour word ({a_c}: with its article),
# {noun} {pic} {wrote} {hand}: synonyms
_INFORMATIVE = (
    "{a_c} {hand} {d}",
    "the {noun} {d} written in {c} ink",
    "a {pic} of {a_c} {d}",
    "somebody {wrote} the {noun} {d} in {c}",
    "{d} in {c} on a dark background",
    "this {pic} shows the {noun} {d}",
    "{a_c} {noun} that reads {d}",
    "a {hand} {noun}: {d}",
)
# never mention a digit (no digit word, no numeral)
_UNINFORMATIVE = (
    "{a_c} scribble on a dark background",
    "a small {pic} of some handwriting",
    "{c} ink on a plain background",
    "a {pic} from an old scanned form",
    "a {hand} mark in {c}",
    "a blurry {pic}, hard to tell what it shows",
    "some {c} strokes",
    "a {pic} of a {noun} written in {c}",
)
SYNTHETIC_NOTE = (
    "SYNTHETIC CAPTIONS: the images are real (MNIST digits, coloured here), the captions are "
    "generated from a template grammar; a seeded fraction name a wrong digit, are "
    "uninformative (no digit) or are missing. Not a paper data set."
)


def synthetic_captions(
    name: str,
    source: MultiViewDataset | str | None = None,
    seed: int = 0,
    wrong_rate: float = 0.1,
    uninformative_rate: float = 0.1,
    missing_rate: float = 0.1,
    colour: bool = True,
    sentences: int = 1,
) -> MultiViewDataset:
    """A captioned-image demo set from real offline digits, with synthetic captions.

    ``source`` (default: ``mmclust.data.sources.mnist5k()``; a string names
    a registered offline builder, e.g. ``"digits"``) must have a grayscale
    ``image`` view (n, H, W) uint8; its classes name the digits.

    Images: each digit is coloured, (n, H, W, 3) uint8 (channels last, as the
    common format stores images): a seeded random colour from
    :data:`COLOURS` for the strokes on a seeded dark background; with
    ``colour=False`` white strokes on black.

    Captions: exactly ``round(rate * n)`` samples of each kind, chosen by a
    seeded permutation: *missing* (``""``, mask False), *wrong* (an
    informative template naming a different digit, uniform over the other
    classes), *uninformative* (a template that mentions no digit); the rest
    are *correct*.  Templates, synonyms, word-or-numeral digits and the
    colour word (the true colour of the image) are drawn with the same seed.
    ``sentences`` > 1 joins that many independently drawn sentences of the
    sample's kind into one caption (as COCO gives five captions per image, so
    that the class is named several times among varying words).
    ``meta["synthetic_captions"]`` is True and ``meta["caption_kinds"]``
    holds one letter per sample (c/w/u/m) so analyses can split by kind.
    """
    rates = {"wrong": wrong_rate, "uninformative": uninformative_rate, "missing": missing_rate}
    for key, r in rates.items():
        if not 0.0 <= r <= 1.0:
            raise DatasetError(f"{name}: {key}_rate must be in [0, 1], got {r}")
    if sentences < 1:
        raise DatasetError(f"{name}: sentences must be at least 1, got {sentences}")
    if sum(rates.values()) > 1.0 + 1e-12:
        raise DatasetError(f"{name}: wrong + uninformative + missing rates exceed 1 ({rates})")
    if source is None:
        from mmclust.data.sources import mnist5k

        source = mnist5k()
    elif isinstance(source, str):
        from mmclust.data.sources import build

        source = build(source, source)
    if "image" not in source.views or source.views["image"].ndim != 3:
        raise DatasetError(
            f"{name}: the source needs a grayscale 'image' view (n, H, W) uint8; "
            f"{source.name!r} has { ({v: x.shape for v, x in source.views.items()}) }"
        )
    gray = source.views["image"]
    if gray.dtype != np.uint8:
        raise DatasetError(f"{name}: the source images must be uint8, not {gray.dtype}")
    n = source.n
    labels = source.labels.copy()
    class_names = list(source.class_names or [str(i) for i in range(int(labels.max()) + 1)])
    k = len(class_names)
    if k < 2:
        raise DatasetError(f"{name}: wrong captions need at least two classes")
    rng = np.random.default_rng(seed)

    colour_names = list(COLOURS) if colour else ["white"]
    palette = np.array(list(COLOURS.values()) if colour else [(245, 245, 245)], dtype=np.float32)
    colour_id = rng.integers(0, len(colour_names), size=n)
    background = rng.integers(0, 50, size=(n, 3)).astype(np.float32) if colour else np.zeros((n, 3))
    a = gray.astype(np.float32)[..., None] / 255.0
    fg = palette[colour_id][:, None, None, :]
    bg = background[:, None, None, :]
    images = np.clip(np.rint(bg * (1.0 - a) + fg * a), 0, 255).astype(np.uint8)

    counts = {key: int(np.floor(r * n + 0.5)) for key, r in rates.items()}
    perm = rng.permutation(n)
    kinds = np.full(n, "c", dtype="<U1")
    start = 0
    for key, letter in (("missing", "m"), ("wrong", "w"), ("uninformative", "u")):
        kinds[perm[start : start + counts[key]]] = letter
        start += counts[key]

    def digit_forms(c: int) -> tuple[str, ...]:
        s = class_names[c]
        if s.isdigit() and len(s) == 1:
            return (DIGIT_WORDS[int(s)], s)
        return (s,)

    texts: list[str] = []
    named = np.full(n, -1, dtype=np.int64)  # the class a caption names (-1: none)
    for i in range(n):
        kind = kinds[i]
        if kind == "m":
            texts.append("")
            continue
        c_word = colour_names[colour_id[i]]
        c = int(labels[i])
        parts = []
        for j in range(sentences):
            fill = {
                "c": c_word,
                "a_c": ("an " if c_word[0] in "aeiou" else "a ") + c_word,
                "noun": _NOUN[rng.integers(len(_NOUN))],
                "pic": _PIC[rng.integers(len(_PIC))],
                "wrote": _WROTE[rng.integers(len(_WROTE))],
                "hand": _HAND[rng.integers(len(_HAND))],
            }
            if kind == "u":
                parts.append(_UNINFORMATIVE[rng.integers(len(_UNINFORMATIVE))].format(**fill))
                continue
            if kind == "w" and j == 0:
                c = (c + int(rng.integers(1, k))) % k
            forms = digit_forms(c)
            fill["d"] = forms[rng.integers(len(forms))]
            named[i] = c
            parts.append(_INFORMATIVE[rng.integers(len(_INFORMATIVE))].format(**fill))
        texts.append(". ".join(parts))
    text, text_mask = _text_view(texts)
    kind_counts = {
        "correct": int((kinds == "c").sum()),
        "wrong": int((kinds == "w").sum()),
        "uninformative": int((kinds == "u").sum()),
        "missing": int((kinds == "m").sum()),
    }
    log.info("%s: synthetic captions %s (n=%d)", name, kind_counts, n)
    return MultiViewDataset(
        name=name,
        views={"image": images, "text": text},
        labels=labels,
        masks={"text": text_mask},
        kinds={"image": "image", "text": "text"},
        class_names=class_names,
        meta={
            "source": f"{source.meta.get('source', source.name)} images + synthetic captions",
            "url": source.meta.get("url"),
            "licence": source.meta.get("licence"),
            "built_by": "mmclust.data.paired.synthetic_captions",
            "synthetic_captions": True,
            "display_name": f"{name} (synthetic captions)",
            "notes": SYNTHETIC_NOTE,
            "caption_rates": rates,
            "caption_counts": kind_counts,
            "caption_kinds": "".join(kinds.tolist()),
            "caption_named_class": named.tolist(),
            "colour": colour,
            "sentences": sentences,
            "seed": seed,
            "reference_counts": None,
            "obtained_counts": {"n": n, "k": k},
        },
    )
