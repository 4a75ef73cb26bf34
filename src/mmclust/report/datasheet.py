"""The data sheet: every data set of the report, obtained against published.

One row per data set a selected experiment uses (the data sets the
configuration names; sweep points derived from them are left out), read from
the ``meta.json`` its preparation wrote and, for downloaded data, the raw
folder's ``.complete`` record (:mod:`mmclust.data.download`):

* n and k obtained, beside the paper's (``reference_counts`` in ``meta.json``;
  "—" where the paper gives none);
* class balance obtained: the smallest and largest class and their ratio
  (published balance only where ``reference_counts`` holds class counts);
* source, URL and licence as the builder recorded them;
* how the raw files were verified: **checksum** (every file matched a
  published checksum), **trust on first use** (a file without a published
  checksum, checked by content on its first download and pinned in
  ``resources/raw/checksums.lock``), **manual** (files a person placed by
  hand; their published checksums, where any, were checked), or **package**
  (no download: the data ship with a Python or Debian package);
* derived and mixed-modal data sets say what they come from and inherit their
  base's verification;
* synthetic stand-ins (``synthetic_captions`` in ``meta.json``, or a source
  that says "synthetic") are labelled ``SYNTHETIC`` in the name and kind
  columns and in the notes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mmclust.report.html import markdown_row, write_section_files

#: ``verified_by`` values of a ``.complete`` record -> the data sheet's words
TRUST_ON_FIRST_USE = "checksum lock"
COLUMNS = [
    "dataset", "kind", "n", "n_paper", "k", "k_paper", "smallest_class", "largest_class",
    "balance", "balance_paper", "source", "licence", "verified", "details",
]  # fmt: skip


def _read(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def verification(marker: dict[str, Any] | None) -> tuple[str, str]:
    """(how the raw files were verified, details) from a ``.complete`` record."""
    if marker is None:
        return "not downloaded", "no .complete record in the raw folder"
    files = marker.get("files", [])
    manual = marker.get("manual", [])
    by = [f.get("verified_by", "") for f in files]
    kinds = []
    if any(b and b != TRUST_ON_FIRST_USE and b not in ("content check", "presence") for b in by):
        kinds.append("checksum")
    if any(b == TRUST_ON_FIRST_USE for b in by):
        kinds.append("trust on first use")
    if any(b == "content check" for b in by):
        kinds.append("content check only")
    if manual:
        kinds.append("manual")
    n_tofu = sum(b == TRUST_ON_FIRST_USE for b in by)
    details = f"{len(files)} downloaded file(s)"
    if n_tofu:
        details += f" ({n_tofu} pinned in checksums.lock on first use)"
    if manual:
        placed = sum(int(m.get("count", 1)) for m in manual)
        checked = sum(m.get("verified_by") == "published checksum" for m in manual)
        details += f"; {placed} hand-placed file(s), {checked} with a published checksum"
    return " + ".join(kinds) or "nothing to verify", details


def _balance(counts: Sequence[int] | None) -> tuple[Any, Any, str]:
    if not counts:
        return None, None, "—"
    lo, hi = int(min(counts)), int(max(counts))
    return lo, hi, f"{hi / lo:.2f}" if lo else "∞"


def datasheet_rows(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per data set.

    Each entry: ``name``, ``meta`` (path of ``meta.json``), ``raw`` (path of
    the raw folder's ``.complete`` or None), ``base`` (the data set it is
    derived from, or None; its verification is inherited).
    """
    rows: dict[str, dict[str, Any]] = {}
    for e in entries:
        meta = _read(e["meta"]) or {}
        ref = meta.get("reference_counts") or {}
        lo, hi, ratio = _balance(meta.get("class_counts"))
        ref_counts = ref.get("class_counts")
        synthetic = (
            bool(meta.get("synthetic_captions"))
            or "synthetic" in str(meta.get("source", "")).lower()
        )
        if e.get("base"):
            kind = f"derived from {e['base']}"
        elif e.get("raw"):
            kind = "downloaded"
        else:
            kind = "package"
        if synthetic:
            kind = "SYNTHETIC stand-in; " + kind
        if e.get("raw"):
            verified, details = verification(_read(e["raw"]))
        elif e.get("base") and e["base"] in rows:
            verified = rows[e["base"]]["verified"]
            details = f"as {e['base']}"
        else:
            verified, details = "package", "shipped with a Python or Debian package; no download"
        note = meta.get("notes", "")
        if synthetic and "SYNTHETIC" not in str(note).upper():
            note = "SYNTHETIC data. " + str(note)
        if note:
            details += f". {str(note).strip()[:160]}"
        name = e["name"] + (" (SYNTHETIC)" if synthetic else "")
        rows[e["name"]] = {
            "dataset": name,
            "kind": kind,
            "n": meta.get("n"),
            "n_paper": ref.get("n"),
            "k": meta.get("k"),
            "k_paper": ref.get("k"),
            "smallest_class": lo,
            "largest_class": hi,
            "balance": ratio,
            "balance_paper": _balance(ref_counts)[2] if ref_counts else "—",
            "source": meta.get("source", ""),
            "licence": meta.get("licence") or "not recorded",
            "verified": verified,
            "details": details,
        }
    return pd.DataFrame(list(rows.values()), columns=COLUMNS)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def to_markdown(df: pd.DataFrame) -> str:
    head = [
        "data set", "kind", "n", "n (paper)", "k", "k (paper)", "class sizes",
        "largest/smallest", "(paper)", "source", "licence", "verified",
    ]  # fmt: skip
    lines = [
        "# Data sheet",
        "",
        "Obtained counts beside the paper's (— where the paper gives none); class balance is "
        "the largest class over the smallest. Verified: checksum (published), trust on first "
        "use (pinned in resources/raw/checksums.lock), manual (hand-placed), package (no "
        "download).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for r in df.itertuples(index=False):
        sizes = f"{_cell(r.smallest_class)}–{_cell(r.largest_class)}"
        cells = [
            r.dataset, r.kind, _cell(r.n), _cell(r.n_paper), _cell(r.k), _cell(r.k_paper),
            sizes, r.balance, r.balance_paper, r.source, r.licence, r.verified,
        ]  # fmt: skip
        lines.append(markdown_row(cells))
    return "\n".join(lines) + "\n"


def write_datasheet(
    entries: list[dict[str, Any]],
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str],
    out_html: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    df = datasheet_rows(entries)
    write_section_files(df, to_markdown(df), out_csv, out_md, out_html, "Data sheet", [("", df)])
    return df


def entries_from_plan(plan: Any, datasets: Sequence[str]) -> list[dict[str, Any]]:
    """The data sheet's entries for ``datasets`` and their bases, bases first (sweep
    points, whose generated names hold a dot, are left out: their base is listed)."""
    from mmclust.plan import paths

    order: list[str] = []
    for ds in datasets:
        for name in reversed(plan.lineage(ds)):
            if "." in name:  # a sweep point (a generated name): its base stands for it
                continue
            if name not in order:
                order.append(name)
    out = []
    for name in order:
        spec = plan.datasets[name]
        raw = spec.get("raw")
        out.append(
            {
                "name": name,
                "meta": paths.dataset_files(name)["meta"],
                "raw": str(Path(paths.raw_marker(raw))) if raw else None,
                "base": plan.base_dataset(name),
            }
        )
    return out
