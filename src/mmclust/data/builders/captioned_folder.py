"""Bring your own: a folder of images plus a tab-separated captions file."""

from __future__ import annotations

import codecs
import logging
import posixpath
import re
from pathlib import Path

from mmclust.data.builders._common import (
    check_images,
    image_text_dataset,
    labels_from_names,
    require,
    text_view,
)
from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

VIEWS = ("image", "text")
#: what each view holds (image paths and captions), known before the data set is built
VIEW_KINDS = {"image": "image_file", "text": "text"}

_HEADER_NAMES = {
    "image": ("image", "image_file", "file", "filename", "path", "image_path"),
    "caption": ("caption", "text", "captions", "description"),
    "label": ("label", "class", "category", "labels"),
}

_FORMAT = "<image file>\\t<caption>\\t<label>"

#: byte-order marks, longest first (a UTF-32 LE mark starts like a UTF-16 LE one)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_table(path: Path, encoding: str | None = None) -> str:
    """The text of a captions file.

    ``encoding`` given: that codec, strictly.  Otherwise: a byte-order mark
    decides (UTF-8, UTF-16 or UTF-32, little or big endian); without one the
    file must be UTF-8, and a file that is not is read as Latin-1 with a
    warning (every byte is a Latin-1 character, so accented captions from old
    tools survive), except one that looks like UTF-16 without a mark (NUL
    bytes), which is an error naming the fix.
    """
    data = path.read_bytes()
    if encoding is not None:
        try:
            return data.decode(encoding)
        except LookupError:
            raise DatasetError(f"{path}: unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as err:
            raise DatasetError(
                f"{path} is not valid {encoding} (byte {err.start}); give the file's real "
                "encoding as the option encoding (e.g. utf-8, utf-16, latin-1)"
            ) from None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as err:
                raise DatasetError(
                    f"{path} starts with a {codec} byte-order mark but is not valid {codec} "
                    f"(byte {err.start}); save it again as UTF-8"
                ) from None
    if b"\x00" in data:
        raise DatasetError(
            f"{path} holds NUL bytes: it looks like UTF-16 without a byte-order mark. Save it "
            "as UTF-8, or give its encoding as the option encoding (utf-16-le or utf-16-be)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        log.warning(
            "%s is not UTF-8 (byte %d): read as Latin-1; if captions look wrong, save the "
            "file as UTF-8 or give the option encoding",
            path,
            err.start,
        )
        return data.decode("latin-1")


def _inside(path: str) -> str | None:
    """``path`` normalised (``a/./b`` -> ``a/b``), or None when it leaves its folder
    (absolute, a drive letter, or ``..`` above the folder)."""
    p = path.replace("\\", "/")
    if p.startswith("/") or re.match(r"^[A-Za-z]:", p):
        return None
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def captioned_folder(
    name: str,
    raw_dir: Path,
    captions: str = "captions.tsv",
    image_dir: str = ".",
    encoding: str | None = None,
) -> MultiViewDataset:
    """Bring your own: a folder of images plus a tab-separated captions file.

    Parameters
    ----------
    name : str
        The data set's name.
    raw_dir : path
        The data set's folder.  A relative ``raw_dir`` is relative to the
        working directory (the folder Snakemake runs in).
    captions : str, default ``captions.tsv``
        The captions file, relative to ``raw_dir`` (``../captions.tsv`` is
        allowed) or absolute.
    image_dir : str, default ``.``
        The folder the image paths of the table are relative to, itself
        relative to ``raw_dir`` (e.g. ``images`` when the table names bare
        files that sit in ``raw_dir/images/``).
    encoding : str, optional
        The table's encoding when it has no byte-order mark and is not UTF-8
        (``utf-16-le``, ``cp1252``, ...); by default it is detected
        (:func:`decode_table`).

    Layout of ``raw_dir``::

        captions.tsv                     # image file <TAB> caption <TAB> label
        <image_dir>/<any/sub/folders>/<image files>

    The table format (a plain tab-separated table, no quoting):

    * one row per image, exactly three fields separated by tabs: image file,
      caption, label.  A caption cannot contain a tab (a row with more fields
      is an error naming its line: replace the tab by a space); quotes are
      ordinary characters.  Blank lines are skipped;
    * an optional header row, recognised when its first field is one of
      ``image``, ``image_file``, ``file``, ``filename``, ``path``,
      ``image_path``, or when it names the image column and another one;
      with a header, columns are found by name (image / caption or text /
      label or class), may be in any order, and every row has as many
      fields as the header.  A header without a caption column
      (``image<TAB>label``) gives a data set without captions;
    * image paths are relative to ``raw_dir/image_dir``, use ``/`` (or
      ``\\``) between folders and may not leave that folder (no absolute
      paths, no ``..`` above it); each image is listed once;
    * an empty caption means the image has no caption: text ``""``, mask
      False.  When no image has a caption a warning is logged (text inputs
      of such a data set are errors when built);
    * the label column is required: it is each image's true class, read
      only to score the clusters (the methods never see it).  Labels are
      strings, mapped to ids in sorted order (numerically sorted when all are
      integers) and kept as ``class_names``; there must be at least two
      classes, and k, the number of clusters every method is asked for, is
      the number of distinct labels;
    * encodings: UTF-8 with or without a byte-order mark, UTF-16 / UTF-32
      with one; other files are read as Latin-1 with a warning, or with the
      ``encoding`` option.

    The images are checked to exist here but opened only when an input is
    built from them (features step).
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise DatasetError(
            f"{name}: raw_dir {raw_dir} is not a folder (a relative raw_dir is relative to the "
            f"working directory, {Path.cwd()}); set options: {{raw_dir: <your folder>}}"
        )
    tsv = require(
        raw_dir,
        captions,
        f"Write {raw_dir / captions} with one line per image: {_FORMAT}.",
        what="captions file",
    )
    image_root = raw_dir / image_dir if image_dir not in ("", ".") else raw_dir
    if not image_root.is_dir():
        raise DatasetError(f"{name}: image_dir {image_root} is not a folder")
    lines = [
        (i, ln)
        for i, ln in enumerate(re.split(r"\r\n|\n|\r", decode_table(tsv, encoding)), 1)
        if ln.strip()
    ]
    if not lines:
        raise DatasetError(f"{tsv} is empty: add one line per image ({_FORMAT})")
    head = [c.strip().lower() for c in lines[0][1].split("\t")]
    n_fields = 3
    cols = {"image": 0, "caption": 1, "label": 2}
    named = {key for key, names in _HEADER_NAMES.items() if any(h in names for h in head)}
    if head[0] in _HEADER_NAMES["image"] or ("image" in named and len(named) > 1):
        for key, names in _HEADER_NAMES.items():
            hit = [i for i, h in enumerate(head) if h in names]
            cols[key] = hit[0] if hit else -1
        if cols["label"] < 0:
            raise DatasetError(
                f"{tsv}:{lines[0][0]}: the header {lines[0][1]!r} has no label column; name it "
                "'label' and give every image its class"
            )
        n_fields = len(head)
        lines = lines[1:]
    paths: list[str] = []
    texts: list[str] = []
    names: list[str] = []
    seen: dict[str, tuple[int, str]] = {}
    for ln, line in lines:
        fields = line.split("\t")
        if len(fields) < n_fields and cols["label"] >= len(fields):
            raise DatasetError(
                f"{tsv}:{ln}: no label column ({len(fields)} field(s), expected {n_fields}). "
                f"Every row needs {_FORMAT}; a label is required: the image's true class, "
                "used only to score the clusters; leave the caption empty if there is none"
            )
        if len(fields) != n_fields:
            tab = (
                " A caption cannot contain a tab: replace it by a space."
                if len(fields) > n_fields
                else ""
            )
            raise DatasetError(
                f"{tsv}:{ln}: {len(fields)} tab-separated fields, expected {n_fields} "
                f"({'image, caption, label' if n_fields == 3 else 'as in the header'}).{tab}"
            )
        img = fields[cols["image"]].strip()
        label = fields[cols["label"]].strip()
        if not img:
            raise DatasetError(f"{tsv}:{ln}: empty image file name")
        if not label:
            raise DatasetError(f"{tsv}:{ln}: empty label for {img!r}; every image needs a label")
        norm = _inside(img)
        if norm is None:
            raise DatasetError(
                f"{tsv}:{ln}: the image path {img!r} leaves the image folder {image_root}; "
                "paths must be relative to it and stay inside it (move the images into the "
                "folder, or set raw_dir / image_dir to a folder that contains them)"
            )
        if norm in seen:
            first, first_label = seen[norm]
            also = (
                f" with another label ({first_label!r} there, {label!r} here)"
                if first_label != label
                else ""
            )
            raise DatasetError(
                f"{tsv}:{ln}: image {img!r} is already listed on line {first}{also}; list "
                "each image once (join its captions into one)"
            )
        seen[norm] = (ln, label)
        paths.append(norm)
        texts.append(fields[cols["caption"]] if cols["caption"] >= 0 else "")
        names.append(label)
    if not paths:
        raise DatasetError(f"{tsv} has a header but no rows")
    check_images(
        image_root, paths, name, f"Put the images under {image_root} or fix their names in {tsv}."
    )
    if all(re.fullmatch(r"[+-]?\d+", s) for s in names):
        order = [str(v) for v in sorted({int(s) for s in names})]
        names = [str(int(s)) for s in names]
    else:
        order = sorted(set(names))
    if len(order) < 2:
        raise DatasetError(
            f"{tsv}: every image has the label {order[0]!r}: a clustering benchmark needs at "
            "least two classes (with one, every method scores 1.0 by construction). The label "
            "column must hold each image's true class"
        )
    labels, classes = labels_from_names(names, order)
    text, text_mask = text_view(texts)
    if not text_mask.any():
        log.warning(
            "%s: no image has a caption (%s): only image inputs can be built; an input "
            "of the text view will fail",
            name,
            tsv,
        )
    return image_text_dataset(
        name,
        image_root,
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
