"""UIUC Pascal Sentences: 1000 PASCAL VOC 2008 images, 20 classes x 50, 5 sentences each."""

from __future__ import annotations

import logging
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from mmclust.data.builders._common import (
    check_images,
    clean,
    image_text_dataset,
    labels_from_names,
    read_text,
    require,
    text_view,
)
from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

VIEWS = ("image", "text")
#: what each view holds (image paths and captions), known before the data set is built
VIEW_KINDS = {"image": "image_file", "text": "text"}

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
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
    check_images(raw_dir, paths, name, PASCAL_FIX)
    no_text = [p for p, _, sentences in records if not sentences]
    if no_text:
        log.warning(
            "%s: %d image(s) have no sentence (text mask False), e.g. %s",
            name, len(no_text), no_text[0],
        )  # fmt: skip
    labels, classes = labels_from_names([r[1] for r in records])
    reference = {
        "n": 1000,
        "k": 20,
        "largest_class_share": 0.05,
        "smallest_class_share": 0.05,
        "words_per_item": 48.9,
        "sentences_per_image": 5,
    }
    return image_text_dataset(
        name,
        raw_dir,
        paths,
        text_view([" ".join(r[2]) for r in records]),
        labels,
        classes,
        provenance={
            "source": "UIUC Pascal Sentences (Rashtchian et al. 2010)",
            "url": "http://vision.cs.uiuc.edu/pascal-sentences/",
            "licence": "research use; images from PASCAL VOC 2008 (Flickr licences)",
            "built_by": "mmclust.data.builders.pascal.pascal_sentences",
        },
        options={"raw_layout": layout},
        reference=reference,
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
            sentence = clean("".join(parts))
            if sentence and not nested and self.records:
                self.records[-1][1].append(sentence)

    def handle_data(self, data: str) -> None:
        if self._cells:
            self._cells[-1][0].append(data)


def _pascal_page(page: Path, name: str) -> list[tuple[str, str, list[str]]]:
    parser = _PascalPage()
    parser.feed(read_text(page))
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
    img_root = require(
        raw_dir, ("dataset", "images"), PASCAL_FIX, what="Pascal Sentences images (or index.html)"
    )
    sen_root = require(
        raw_dir, ("sentence", "sentences"), PASCAL_FIX, what="Pascal Sentences sentences"
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
                lines = [clean(ln) for ln in read_text(txt).splitlines() if ln.strip()]
            records.append((img.relative_to(raw_dir).as_posix(), cat, lines))
    return records
