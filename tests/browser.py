"""Open an HTML file in headless Chromium and inspect it (the report's browser test).

Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (file
descriptors 3 and 4, NUL-separated JSON messages), so no driver or Python
package beyond the standard library is needed: Debian's ``chromium`` package
is enough.  :func:`inspect_report` loads a Snakemake report and returns the
console errors and uncaught exceptions, every figure of the report that the
browser could not decode (or that is not a complete PNG: a browser shows a
truncated one as far as it goes), the report's categories and a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    env = os.environ.get("MMCLUST_CHROMIUM")
    if env:
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium process driven over the DevTools pipe."""

    def __init__(self, executable: str, timeout: float = 60) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="mmclust-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:  # in the child: the pipe ends become fds 3 and 4
            import fcntl

            # out of the way first: either end may itself be fd 3 or 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (to_child_r, from_child_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        args = [
            executable, "--headless", "--remote-debugging-pipe", "--no-sandbox",
            "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--allow-file-access-from-files",
            f"--user-data-dir={self._profile}", "about:blank",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            preexec_fn=fds,
            pass_fds=(3, 4),  # kept open: close_fds runs after preexec_fn
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    # -- the protocol -------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    err = (
                        self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                    )
                    raise RuntimeError(f"Chromium closed the pipe: {err[-2000:]}")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None):
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read_message(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def png_problem(data: bytes) -> str | None:
    """Why ``data`` is not a complete PNG (None when it is).

    A browser shows a truncated PNG as far as its rows go (and ``img.decode()``
    succeeds), so the figures are also read here in full: every chunk's CRC, an
    IEND chunk last, and a zlib stream that ends with exactly the bytes the
    header announces (non-interlaced images).
    """
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "not a PNG signature"
    pos, idat, header, last = 8, [], b"", b""
    while pos < len(data):
        if pos + 8 > len(data):
            return "truncated chunk header"
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) < length or len(crc) < 4:
            return f"truncated {kind.decode(errors='replace')} chunk"
        if zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            return f"bad CRC in a {kind.decode(errors='replace')} chunk"
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        last = kind
        pos += 12 + length
    if last != b"IEND":
        return "no IEND chunk"
    if len(header) != 13 or not idat:
        return "no IHDR or no IDAT"
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    d = zlib.decompressobj()
    try:
        raw = d.decompress(b"".join(idat))
    except zlib.error as err:
        return f"image data do not decompress: {err}"
    if not d.eof:
        return "image data end early"
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None:
        return f"unknown colour type {colour}"
    row = (width * channels * depth + 7) // 8
    if interlace == 0 and len(raw) != height * (1 + row):
        return f"{len(raw)} bytes of image data where {height * (1 + row)} were expected"
    return None


def report_images(html: Path) -> dict[str, bytes]:
    """The image results embedded in a Snakemake report (path -> bytes)."""
    text = html.read_text()
    block = text.find('<script id="results">')  # a report; a hand-made page has no id
    start = text.index("var results = ", max(block, 0)) + len("var results = ")
    results, _ = json.JSONDecoder().raw_decode(text, start)
    out = {}
    for path, res in results.items():
        if str(res.get("mime_type", "")).startswith("image/"):
            out[path] = base64.b64decode(res["data_uri"].split(",", 1)[1])
    return out


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)
    broken_figures: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    shown_figure_width: int = 0


#: run in the page: decode every image result of the report (and every image inside
#: an HTML result), then show the first result whose path matches SHOW
_CHECK = r"""
(async () => {
  const broken = [], figures = [];
  const decode = async (uri, name) => {
    figures.push(name);
    const img = new Image();
    img.src = uri;
    try { await img.decode(); if (!img.naturalWidth) broken.push(name); }
    catch (e) { broken.push(name + ": " + e); }
  };
  for (const [path, res] of Object.entries(results)) {
    if (res.mime_type && res.mime_type.startsWith("image/")) {
      await decode(res.data_uri, path);
    } else if (res.mime_type === "text/html") {
      const html = atob(res.data_uri.split(",")[1] || "");
      const doc = new DOMParser().parseFromString(html, "text/html");
      for (const img of doc.querySelectorAll("img")) await decode(img.src, path + " <img>");
    }
  }
  const cats = {};
  for (const [c, subs] of Object.entries(categories)) cats[c] = Object.keys(subs);
  return JSON.stringify({broken, figures, cats});
})()
"""


def _show(path_part: str) -> str:
    find = f"Object.keys(results).find(k => k.includes({json.dumps(path_part)}))"
    return (
        f"(() => {{ const p = {find}; if (!p) return false;"
        " app.setView({navbarMode: 'resultinfo', resultPath: p,"
        " content: 'img', contentPath: results[p].data_uri}); return true; })()"
    )


def inspect_report(
    html: Path,
    screenshot: Path | None = None,
    show: str | None = None,
    executable: str | None = None,
    timeout: float = 120,
) -> PageReport:
    """Load ``html``; collect console errors and broken figures; optionally show the
    result whose path contains ``show`` and save a screenshot."""
    exe = executable or find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (install Debian's chromium package)")
    out = PageReport()
    with Browser(exe, timeout=timeout) as b:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            b.send(f"{domain}.enable", session=session)
        b.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        b.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
        b.wait_event("Page.loadEventFired", timeout)
        result = b.send(
            "Runtime.evaluate",
            {"expression": _CHECK, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        if "exceptionDetails" in result:
            out.errors.append(f"the check script failed: {result['exceptionDetails']}")
        else:
            data = json.loads(result["result"]["value"])
            out.broken_figures = data["broken"]
            out.figures = data["figures"]
            out.categories = data["cats"]
        # a figure the browser shows only in part (truncated) counts as broken too
        for path, data in report_images(html).items():
            seen = any(f.split(":")[0] == path for f in out.broken_figures)
            if path.endswith(".png") and not seen:
                problem = png_problem(data)
                if problem:
                    out.broken_figures.append(f"{path}: {problem}")
        if show:
            shown = b.send(
                "Runtime.evaluate",
                {"expression": _show(show), "returnByValue": True},
                session=session,
            )
            if shown.get("result", {}).get("value"):
                time.sleep(1.0)
                width = b.send(
                    "Runtime.evaluate",
                    {
                        "expression": "Math.max(0, ...[...document.querySelectorAll('img')]"
                        ".map(i => i.complete ? i.naturalWidth : 0))",
                        "returnByValue": True,
                    },
                    session=session,
                )
                out.shown_figure_width = int(width.get("result", {}).get("value") or 0)
        time.sleep(0.5)
        if screenshot is not None:
            shot = b.send("Page.captureScreenshot", {"format": "png"}, session=session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        # drain what arrived meanwhile, then collect errors
        for ev in b.events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                out.errors.append(
                    "uncaught: " + str(d.get("exception", {}).get("description") or d.get("text"))
                )
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
                out.errors.append("console.error: " + " ".join(map(str, args)))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                e = params["entry"]
                out.errors.append(f"log: {e.get('text')} ({e.get('url', '')})")
    return out
