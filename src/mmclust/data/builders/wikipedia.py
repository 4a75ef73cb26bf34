"""Wikipedia cross-modal data set (Rasiwasia et al. 2010): 2866 image–text pairs (DM2C)."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import numpy as np

from mmclust.data.builders._common import (
    check_images,
    drop_empty_classes,
    image_text_dataset,
    read_text,
    require,
    text_view,
)
from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

VIEWS = ("image", "text")
#: what each view holds (image paths and captions), known before the data set is built
VIEW_KINDS = {"image": "image_file", "text": "text"}

WIKI_FIX = (
    "Download the Wikipedia cross-modal data set (wikipedia_dataset.zip from "
    "http://www.svcl.ucsd.edu/projects/crossmodal/) and unpack it so that raw_dir holds "
    "trainset_txt_img_cat.list, testset_txt_img_cat.list, categories.list, texts_xml/ (or "
    "texts/) and images/<category>/."
)
WIKI_SUBDIR = "wikipedia_dataset"
#: the category numbers 1..10 of the .list files, in order (the image folder names)
WIKI_CATEGORIES = (
    "art", "biology", "geography", "history", "literature", "media", "music", "royalty",
    "sport", "warfare",
)  # fmt: skip
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
    any pair would be left out, with a warning).  A copy without
    categories.list is read with the archive's ten names in number order
    (:data:`WIKI_CATEGORIES`, art … warfare, which are also its image folders).
    """
    raw_dir = Path(raw_dir)
    prefix = ""
    if not (raw_dir / "categories.list").exists() and (raw_dir / WIKI_SUBDIR).is_dir():
        prefix = f"{WIKI_SUBDIR}/"  # the archive's own top-level folder
    root = raw_dir / prefix if prefix else raw_dir
    cat_file = root / "categories.list"
    if cat_file.is_file():
        categories = [ln.strip() for ln in read_text(cat_file).splitlines() if ln.strip()]
    else:
        log.info("%s: no %s; using the archive's ten category names", name, cat_file)
        categories = list(WIKI_CATEGORIES)
    text_dir = require(root, ("texts_xml", "texts"), WIKI_FIX, what="Wikipedia texts")
    rows: list[tuple[str, str, int, str]] = []
    for part in ("train", "test"):
        lst = require(root, f"{part}set_txt_img_cat.list", WIKI_FIX, what=f"Wikipedia {part} list")
        for ln, line in enumerate(read_text(lst).splitlines(), 1):
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
        xml = require(text_dir, f"{text_id}.xml", WIKI_FIX, what="Wikipedia text")
        m = _TEXT_RE.search(read_text(xml))
        if m is None:
            raise DatasetError(f"{xml} has no <text>…</text> element: the file is damaged")
        texts.append(html.unescape(m.group(1)))
    paths = [f"{prefix}images/{categories[c]}/{img}.jpg" for _, img, c, _ in rows]
    check_images(raw_dir, paths, name, WIKI_FIX)
    labels, classes = drop_empty_classes(
        np.array([c for _, _, c, _ in rows], dtype=np.int64), categories, name
    )
    split = np.array([p for *_, p in rows], dtype=str)
    reference = {"n": 2866, "k": 10, "train": 2173, "test": 693}
    return image_text_dataset(
        name,
        raw_dir,
        paths,
        text_view(texts),
        labels,
        classes,
        split=split,
        provenance={
            "source": "Wikipedia cross-modal data set (Rasiwasia et al., ACM MM 2010)",
            "url": "http://www.svcl.ucsd.edu/projects/crossmodal/",
            "licence": "research use; texts from Wikipedia (CC BY-SA)",
            "built_by": "mmclust.data.builders.wikipedia.wikipedia",
        },
        reference=reference,
        counts={s: int((split == s).sum()) for s in ("train", "test")},
        notes="Original train/test split kept in 'split'.",
    )
