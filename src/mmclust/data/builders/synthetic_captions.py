"""A captioned-image demo set from real offline digits, with synthetic captions.

Not a paper data set: the images are real (MNIST digits by default, coloured
here) and the captions come from a template grammar; see
:func:`synthetic_captions`.
"""

from __future__ import annotations

import logging

import numpy as np

from mmclust.data.builders import build
from mmclust.data.builders._common import text_view
from mmclust.data.dataset import DatasetError, MultiViewDataset

log = logging.getLogger(__name__)

VIEWS = ("image", "text")
#: what each view holds, known before the data set is built
VIEW_KINDS = {"image": "image", "text": "text"}

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

    ``source`` (a data set, or the name of a registered offline source, built
    under its own name; default ``"mnist5k"``, e.g. also ``"digits"``) must
    have a grayscale ``image`` view (n, H, W) uint8; its classes name the
    digits.

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
        source = "mnist5k"
    if isinstance(source, str):
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
    text, text_mask = text_view(texts)
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
            "built_by": "mmclust.data.builders.synthetic_captions.synthetic_captions",
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
