"""A small HTTP file server on 127.0.0.1 for the download tests.

Each route serves fixed bytes and can misbehave on purpose:

* ``status``        answer every request with this status (404, 500 ...);
* ``cut_after`` /   send only ``cut_after`` body bytes of the next ``cut_times``
  ``cut_times``     responses (with the full Content-Length), then close the
                    connection: an interrupted transfer;
* ``ignore_range``  answer a ``Range`` request with the whole file (200);
* ``stall``         after ``cut_after`` bytes wait this many seconds instead of
                    closing (a stalled server, for read timeouts);
* ``content_type``  the Content-Type header (``text/html`` for error pages).

``add_folder`` serves every file under a folder (read from disk at each
request), so a folder laid out as ``<source>/<file>`` is a download mirror
(``downloads: {mirror: http://127.0.0.1:<port>/}``).  Every request's path
and ``Range`` header is recorded.  Traffic never leaves the loopback
interface.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    data: bytes
    status: int = 200
    cut_after: int | None = None
    cut_times: int = 0
    ignore_range: bool = False
    stall: float = 0.0
    content_type: str = "application/octet-stream"
    file: Path | None = None  # served from disk instead of ``data``

    def body(self) -> bytes:
        return self.file.read_bytes() if self.file is not None else self.data


class FileServer:
    """Serve :class:`Route` objects from a background thread."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, data: bytes = b"", **options: object) -> str:
        """Serve ``data`` at ``path``; returns its URL."""
        self.routes[path] = Route(data=data, **options)  # type: ignore[arg-type]
        return self.url(path)

    def add_folder(self, folder: str | Path, prefix: str = "/") -> str:
        """Serve every file under ``folder`` at ``prefix`` + its relative path; the base URL."""
        folder = Path(folder)
        base = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                self.routes[base + urllib.parse.quote(rel)] = Route(data=b"", file=path)
        return self.url(base)

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def ranges(self, path: str) -> list[str | None]:
        """The Range headers of the requests for ``path``, in order (None = no Range)."""
        with self._lock:
            return [r for p, r in self.requests if p == path]

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, path: str, range_header: str | None) -> None:
        with self._lock:
            self.requests.append((path, range_header))


def _make_handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            range_header = self.headers.get("Range")
            server._record(self.path, range_header)
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.status != 200:
                self.send_error(route.status)
                return
            data, start = route.body(), 0
            if range_header and not route.ignore_range:
                m = re.fullmatch(r"bytes=(\d+)-", range_header.strip())
                if m is None:
                    self.send_error(400)
                    return
                start = int(m.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Type", route.content_type)
            self.send_header("Accept-Ranges", "none" if route.ignore_range else "bytes")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if route.cut_after is not None and route.cut_times > 0:
                route.cut_times -= 1
                self.wfile.write(body[: route.cut_after])
                self.wfile.flush()
                if route.stall:
                    time.sleep(route.stall)
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve a mirror folder on 127.0.0.1 (with Range support) for a pipeline rehearsal.

    ``python -m tests.fixtures_http FOLDER [--port 8123] [--seconds 3600]``, then
    ``downloads: {mirror: http://127.0.0.1:8123/, mirror_only: true}`` in the config.
    The files are listed when the server starts; it stops after ``--seconds``.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.fixtures_http")
    parser.add_argument("folder", type=Path, help="laid out as <source>/<file>")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--seconds", type=float, default=3600, help="stop after this long")
    a = parser.parse_args(argv)
    server = FileServer(port=a.port)
    base = server.add_folder(a.folder)
    with server:
        print(f"serving {len(server.routes)} files of {a.folder} at {base}", flush=True)  # noqa: T201
        time.sleep(a.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
