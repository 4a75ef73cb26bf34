"""Small self-contained HTML pages for the report's sections.

The Snakemake report shows an HTML result in a frame; these pages hold plain
tables (no script, no external file) so that they render the same in a
browser, in the report and when opened from ``results/report/``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.bad { background: #fde0dd; } .good { background: #e5f5e0; }
code, pre { background: #f6f6f6; }
"""


def table(df: pd.DataFrame, flag: str | None = None) -> str:
    """An HTML table of ``df``; rows whose column ``flag`` is truthy are marked."""
    if df.empty:
        return "<p><em>none</em></p>"
    if flag not in df.columns:
        flag = None
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns if c != flag)
    rows = []
    for _, r in df.iterrows():
        cls = ' class="bad"' if flag and bool(r[flag]) else ""
        cells = "".join(f"<td>{html.escape(_text(r[c]))}</td>" for c in df.columns if c != flag)
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _text(v: object) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def paragraphs(text: str) -> str:
    """Plain text (blank-line separated paragraphs; lines starting with ``$ `` as code)."""
    out = []
    for block in text.strip().split("\n\n"):
        block = block.strip()
        if not block:
            continue
        if block.startswith("$ "):
            out.append(f"<pre>{html.escape(block)}</pre>")
        else:
            out.append(f"<p>{html.escape(block)}</p>")
    return "\n".join(out)


def page(
    title: str,
    intro: str,
    sections: Sequence[tuple[str, pd.DataFrame | str]],
    flag: str | None = None,
) -> str:
    """A whole page: a title, an introduction and (heading, table or text) sections."""
    body = [f"<h1>{html.escape(title)}</h1>", paragraphs(intro)]
    for heading, content in sections:
        if heading:
            body.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, pd.DataFrame):
            body.append(table(content, flag))
        else:
            body.append(paragraphs(content))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def markdown_row(cells: Sequence[object]) -> str:
    """One row of a Markdown table; a "|" inside a cell becomes "/"."""
    return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"


def write_section_files(
    df: pd.DataFrame,
    md: str,
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str],
    out_html: str | os.PathLike[str] | None = None,
    title: str = "",
    sections: Sequence[tuple[str, pd.DataFrame | str]] = (),
    flag: str | None = None,
) -> None:
    """A report section's table as CSV and its Markdown text and, when ``out_html``
    is given, its :func:`page` (``title``, the Markdown's third line as the
    introduction, ``sections``, ``flag``), each written atomically."""
    from mmclust.io import atomic_open

    with atomic_open(out_csv) as fh:
        df.to_csv(fh, index=False)
    with atomic_open(out_md) as fh:
        fh.write(md)
    if out_html is not None:
        with atomic_open(out_html) as fh:
            fh.write(page(title, md.split("\n")[2], sections, flag=flag))
