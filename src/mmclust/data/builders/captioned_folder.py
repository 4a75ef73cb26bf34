"""Bring your own: a folder of images plus a tab-separated captions file."""

from __future__ import annotations

import re
from pathlib import Path

from mmclust.data.builders._common import (
    check_images,
    image_text_dataset,
    labels_from_names,
    read_text,
    require,
    text_view,
)
from mmclust.data.dataset import DatasetError, MultiViewDataset

VIEWS = ("image", "text")

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
    tsv = require(
        raw_dir,
        captions,
        f"Write {raw_dir / captions} with one line per image: <image file>\\t<caption>\\t<label>.",
        what="captions file",
    )
    lines = [ln for ln in read_text(tsv).splitlines() if ln.strip()]
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
    check_images(
        raw_dir, paths, name, f"Put the images under {raw_dir} or fix their names in {tsv}."
    )
    if all(re.fullmatch(r"[+-]?\d+", s) for s in names):
        order = [str(v) for v in sorted({int(s) for s in names})]
        names = [str(int(s)) for s in names]
    else:
        order = sorted(set(names))
    labels, classes = labels_from_names(names, order)
    text, text_mask = text_view(texts)
    return image_text_dataset(
        name,
        raw_dir,
        paths,
        (text, text_mask),
        labels,
        classes,
        provenance={
            "source": f"user-provided folder ({captions})",
            "licence": "as provided by the user",
            "built_by": "mmclust.data.builders.captioned_folder.captioned_folder",
        },
        reference=None,
        counts={"captions": int(text_mask.sum())},
        notes="Bring-your-own captioned images; empty captions are missing (mask False).",
    )
