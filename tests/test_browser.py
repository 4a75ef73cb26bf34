"""The headless-Chromium check of tests/browser.py on hand-made pages: it must see a
broken figure, a console error and an uncaught exception (the report test relies on it)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest

from tests.browser import find_chromium, inspect_report, png_problem

pytestmark = pytest.mark.slow


def png(width: int, height: int) -> bytes:
    """A valid grey PNG, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def report_page(path: Path, figure: bytes, script: str = "") -> Path:
    """A page with the globals a Snakemake report defines (results, categories, app)."""
    uri = "data:image/png;base64," + base64.b64encode(figure).decode()
    results = {"results/report/scorecard_x.png": {"mime_type": "image/png", "data_uri": uri}}
    path.write_text(
        "<!DOCTYPE html><html><body><script>"
        f"var results = {json.dumps(results)};"
        'var categories = {"JULE": {"Scorecards": []}, "Claims": {"Claims": []}};'
        "let app = {setView(v) { const i = document.createElement('img');"
        " i.src = v.contentPath; document.body.appendChild(i); }};"
        f"{script}</script></body></html>"
    )
    return path


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = find_chromium()
    if exe is None:
        pytest.fail("no Chromium: install Debian's chromium package (.ci/run does)")
    return exe


def test_a_good_page_passes(chromium: str, tmp_path: Path) -> None:
    page = report_page(tmp_path / "good.html", png(40, 30))
    shot = tmp_path / "good.png"
    out = inspect_report(page, shot, show="scorecard_x", executable=chromium)
    assert out.errors == [] and out.broken_figures == []
    assert out.figures == ["results/report/scorecard_x.png"]
    assert out.categories == {"JULE": ["Scorecards"], "Claims": ["Claims"]}
    assert out.shown_figure_width == 40
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_figure_the_browser_shows_in_part_is_caught(chromium: str, tmp_path: Path) -> None:
    """A PNG cut after its first image-data chunk decodes in the browser (its top rows),
    so the figures are also read in full."""
    good = png(40, 30)
    assert png_problem(good) is None
    cut = good[: good.index(b"IEND") - 4]  # everything but the IEND chunk
    assert png_problem(cut) == "no IEND chunk"
    page = report_page(tmp_path / "cut.html", cut)
    out = inspect_report(page, executable=chromium)
    assert out.broken_figures == ["results/report/scorecard_x.png: no IEND chunk"]


def test_a_broken_figure_and_errors_are_caught(chromium: str, tmp_path: Path) -> None:
    good = png(40, 30)
    page = report_page(
        tmp_path / "bad.html",
        good[: len(good) // 2],  # truncated: the browser cannot decode it
        "console.error('a console error'); setTimeout(() => { throw new Error('uncaught'); });",
    )
    out = inspect_report(page, executable=chromium)
    assert [f.split(":")[0] for f in out.broken_figures] == ["results/report/scorecard_x.png"]
    assert any("a console error" in e for e in out.errors), out.errors
    assert any("uncaught" in e for e in out.errors), out.errors
