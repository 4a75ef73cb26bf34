"""Verified, resumable downloads and safe archive extraction for raw data.

Three layers:

``fetch(url, dest, sha256, md5)``
    Downloads one file to ``<dest>.part``, resuming an earlier partial download
    with an HTTP ``Range`` request, verifies it and only then renames the file
    onto ``dest`` (an atomic rename in the same folder).  Several URLs are
    mirrors of the same bytes, tried in order.
``extract(archive, dest_dir)``
    Unpacks zip / tar (plain, gz, bz2, xz) / single-file gz, bz2, xz into a
    temporary folder and renames the result into place; refuses members with
    absolute paths, ``..`` escapes, links pointing outside, devices and FIFOs.
``ensure_source(name, raw_dir)``
    Does the above for every file of a registry entry (``registry.yaml``),
    checks the hand-placed files of entries that need manual steps, and writes
    ``raw_dir/.complete`` (JSON: files, sizes, checksums, how each was
    verified) last.  A later rule can treat ``.complete`` as "the raw data are
    all there and verified".

How a file is verified
----------------------
* **Published checksum** (sha256, md5 and/or git blob id in the registry,
  copied from public sources): the file must match it.
* **Trust on first use**, for files no one publishes a checksum for (COIL-20,
  UMist, Roweis' USPS, the Wikipedia archive): the first download is checked
  by its content against the registry's ``format`` (:mod:`mmclust.data.formats`:
  magic bytes and completeness - an HTML error page, a truncated zip or a
  short MAT-file is refused and the next mirror tried); its sha256, md5, size
  and URL are then recorded in the lock file (:mod:`mmclust.data.lockfile`,
  ``<raw folder>/../checksums.lock`` by default) and the log says how to pin
  it in the registry.  From then on the lock entry is the file's checksum: a
  later download that differs is a :class:`LockMismatchError` naming both
  hashes, the file and the fix.
* **Strict mode** (``require_published_checksum=True``; the config key
  ``downloads: {require_published_checksum: true}``) refuses every file
  without a published checksum, lock or no lock.
* A file that is verified by neither a published checksum nor the lock is
  never treated as present: an unverified file found at ``dest`` is moved to
  ``<dest>.unverified`` and downloaded again; one that fails its checksum is
  moved to ``<dest>.rejected`` (never silently used, never silently deleted).

Mirrors
-------
``mirror`` (config ``downloads: {mirror: ...}``) is a base URL
(``http://``, ``https://``, ``file://``) or a local folder.  File ``NAME`` of
source ``SOURCE`` is looked up at ``<mirror>/SOURCE/NAME`` first, then at the
registry's own URLs; with ``mirror_only=True`` only at the mirror (a pipeline
rehearsal against a local server, a cluster whose nodes have no internet).
The mirror is also asked for the single hand-placed files of manual entries
that declare a format or checksum (``data4torch.h5``, ``index.html``, ...);
files given by a glob (images, descriptions) must be copied by hand.  A
mirror's copy is verified exactly like a download from the registry's URLs.

Other choices
-------------
* Transient failures (connection cut, timeout, HTTP 408/425/429/5xx) are
  retried ``retries`` times per mirror with exponential back-off, resuming from
  the ``.part`` file; permanent ones (other HTTP 4xx, a missing file in a
  ``file://`` mirror, an HTML page where a file of known size was expected)
  move on to the next mirror at once.  When every mirror fails the ``.part``
  file is kept so that the next call resumes.
* A server that ignores ``Range`` (answers 200) is downloaded again from byte
  0; a 416 answer to a range request means the ``.part`` file is already
  complete and it is verified as it is.  A file that fails verification after
  a resumed transfer is downloaded once more from scratch (the partial file may
  have come from another version of the file) before it is reported.
* Archives are kept after extraction: they are what the checksums pin.  A
  hidden ``.<archive>.extracted.json`` beside them records what was unpacked,
  so a rerun does not unpack again.
* Only the standard library's ``urllib`` is used (no ``requests``); progress
  bars are tqdm's, on stderr.

Why not pooch
-------------
pooch (1.9, the download manager behind SciPy's and scikit-image's data sets)
was weighed against this module and is not used, not even for hashing:

* ``pooch.retrieve``/``stream_download`` writes to a temporary file and, on a
  failure, retries from byte 0 (``retry_if_failed``): no HTTP ``Range``
  resume, so a connection cut at 12 of COCO's 13.5 GB starts over.
* one URL per file (``base_url`` + name, or ``urls[name]``): no mirror list
  per file, and every ``requests`` exception is retried alike (a 404 is
  retried like a 503).
* ``known_hash=None`` downloads without any check and takes an existing file
  as present from then on, printing the hash to copy by hand: the failure this
  module's trust-on-first-use lock exists to prevent (an HTML page stored as
  the zip and never fetched again).  There is no content (format) check.
* ``Untar`` passes ``filter="data"`` to ``extractall`` only on Python >= 3.12,
  so on the 3.11 this project supports it unpacks members with absolute
  paths or links pointing outside; ``Unzip`` relies on ``zipfile``'s silent
  renaming of ``..`` members.  Both unpack straight into the target folder and
  decide "already unpacked" by the presence of member names, so an
  interrupted extraction is taken as finished.  :func:`extract` refuses such
  archives, unpacks into a temporary folder and renames it into place.
* ``pooch.file_hash`` reads the file once per algorithm; :func:`file_digest`
  computes sha256, md5 (and a git blob id when asked) in one pass, which
  matters for the 13.5 GB and 6.6 GB COCO archives.  pooch has no git blob
  ids, no hand-placed (manual) entries and no lock file.
* It would add ``requests`` to the data environment.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import http.client
import logging
import lzma
import os
import posixpath
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mmclust.data.dataset import DatasetError
from mmclust.data.formats import FORMATS, FormatError, check_format, looks_like_html
from mmclust.data.lockfile import LOCK_NAME, ChecksumLock, LockEntry
from mmclust.data.registry import ExpectSpec, FileSpec, SourceSpec, get_source
from mmclust.io import atomic_path, read_json, write_json

__all__ = [
    "MARKER",
    "ChecksumError",
    "Digest",
    "DownloadError",
    "LockMismatchError",
    "ManualDownloadRequired",
    "archive_kind",
    "ensure_source",
    "extract",
    "fetch",
    "file_digest",
    "is_complete",
    "main",
    "mirror_url",
]

log = logging.getLogger(__name__)

MARKER = ".complete"
MARKER_VERSION = 2
USER_AGENT = "mmclust/0.1 (research data download; urllib)"
_HASH_CHUNK = 1 << 20
REGISTRY_FILE = "src/mmclust/data/registry.yaml"

VERIFIED_PUBLISHED = "published checksum"
VERIFIED_LOCK = "checksum lock"


class DownloadError(DatasetError):
    """A raw file could not be downloaded, verified or unpacked."""


class ChecksumError(DownloadError):
    """A downloaded (or hand-placed) file does not match its published checksum."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        path: Path,
        expected_sha256: str | None,
        actual_sha256: str,
        expected_md5: str | None = None,
        actual_md5: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.path = path
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        self.expected_md5 = expected_md5
        self.actual_md5 = actual_md5


class LockMismatchError(ChecksumError):
    """A file differs from the checksum recorded in the lock file on its first download."""

    def __init__(self, message: str, *, entry: LockEntry, lock_file: Path, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.entry = entry
        self.lock_file = lock_file


class ManualDownloadRequired(DownloadError):
    """A licence or the host forbids automatic download: a person must fetch the files."""

    def __init__(self, message: str, *, source: str, folder: Path, missing: list[str]) -> None:
        super().__init__(message)
        self.source = source
        self.folder = folder
        self.missing = missing


class _Transient(Exception):
    """A failure worth retrying on the same mirror (resuming from the .part file)."""


class _Permanent(Exception):
    """A failure that will not go away on this mirror: try the next one."""


@dataclass(frozen=True)
class Digest:
    """Checksums and size of a file, computed in one pass."""

    sha256: str
    md5: str
    size: int
    git_blob_sha1: str | None = None

    def matches(
        self,
        sha256: str | None,
        md5: str | None,
        size: int | None = None,
        git_blob_sha1: str | None = None,
    ) -> bool:
        """True when every given expectation holds (None = not checked)."""
        return (
            (sha256 is None or self.sha256 == sha256.lower())
            and (md5 is None or self.md5 == md5.lower())
            and (size is None or self.size == size)
            and (git_blob_sha1 is None or self.git_blob_sha1 == git_blob_sha1.lower())
        )


def file_digest(
    path: str | os.PathLike[str], chunk: int = _HASH_CHUNK, *, git_blob: bool = False
) -> Digest:
    """sha256, md5 and size of ``path`` (and its git blob id with ``git_blob``), one pass.

    A git blob id is ``sha1(b"blob <size>\\0" + content)``: the id a git
    repository gives the file.
    """
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    blob = None
    if git_blob:
        blob = hashlib.sha1(usedforsecurity=False)
        blob.update(b"blob %d\0" % os.stat(path).st_size)
    with open(path, "rb") as fh:
        while buf := fh.read(chunk):
            sha.update(buf)
            md5.update(buf)
            if blob is not None:
                blob.update(buf)
            size += len(buf)
    return Digest(sha.hexdigest(), md5.hexdigest(), size, blob.hexdigest() if blob else None)


@dataclass(frozen=True)
class _Expected:
    """What a file must match: published checksums, or its lock entry."""

    sha256: str | None = None
    md5: str | None = None
    git_blob_sha1: str | None = None
    size: int | None = None
    entry: LockEntry | None = None  # set when the expectation comes from the lock file

    @property
    def known(self) -> bool:
        return bool(self.sha256 or self.md5 or self.git_blob_sha1)

    @property
    def origin(self) -> str:
        return VERIFIED_LOCK if self.entry is not None else VERIFIED_PUBLISHED

    def matches(self, digest: Digest) -> bool:
        return digest.matches(self.sha256, self.md5, self.size, self.git_blob_sha1)


# -- fetch ------------------------------------------------------------------------------------


def fetch(
    url: str | Sequence[str],
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    md5: str | None = None,
    *,
    fmt: str | None = None,
    git_blob_sha1: str | None = None,
    size: int | None = None,
    lock: ChecksumLock | None = None,
    source: str = "",
    require_published_checksum: bool = False,
    timeout: float = 60,
    chunk: int = 1 << 20,
    retries: int = 3,
    progress: bool = True,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` (or the first working mirror of a list) to ``dest`` and verify it.

    The data go to ``<dest>.part`` first; an existing ``.part`` file is resumed
    with a ``Range`` request.  Only a verified file is renamed onto ``dest``:
    one matching the published ``sha256``/``md5``/``git_blob_sha1`` (and
    ``size``, when given); without a published checksum, one matching its
    entry for (``source``, file name) in ``lock``, or, when there is no entry,
    one that passes the content check of format ``fmt``, which is then
    recorded in ``lock`` (trust on first use).  If ``dest`` already exists and
    is verified, nothing is downloaded.

    Raises :class:`ChecksumError` on a mismatch with a published checksum,
    :class:`LockMismatchError` on a mismatch with the lock (the ``.part`` file
    is deleted in both cases), and :class:`DownloadError` when no mirror
    delivers a good file (a ``.part`` file of an interrupted transfer is kept
    for the next call to resume) or, with ``require_published_checksum``, when
    no checksum is published.  ``backoff`` is the first retry delay in seconds
    (doubled each retry).
    """
    path, _, _ = _fetch(
        url,
        Path(dest),
        _Expected(sha256 or None, md5 or None, git_blob_sha1 or None, size),
        fmt=fmt,
        lock=lock,
        source=source,
        strict=require_published_checksum,
        timeout=timeout,
        chunk=chunk,
        retries=retries,
        progress=progress,
        backoff=backoff,
    )
    return path


def _fetch(
    url: str | Sequence[str],
    dest: Path,
    published: _Expected,
    *,
    fmt: str | None,
    lock: ChecksumLock | None,
    source: str,
    strict: bool,
    timeout: float,
    chunk: int,
    retries: int,
    progress: bool,
    backoff: float,
) -> tuple[Path, Digest, str]:
    """:func:`fetch`; returns the path, its digest and how it was verified."""
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise DownloadError(f"no URL given for {dest}")
    if retries < 1:
        raise DownloadError(f"retries must be at least 1, got {retries}")
    if fmt is not None and fmt not in FORMATS:
        raise DownloadError(f"unknown format {fmt!r} for {dest.name}; known: {sorted(FORMATS)}")
    published = _Expected(
        published.sha256.lower() if published.sha256 else None,
        published.md5.lower() if published.md5 else None,
        published.git_blob_sha1.lower() if published.git_blob_sha1 else None,
        published.size,
    )
    expected: _Expected | None = published if published.known else None
    if expected is None:
        if strict:
            raise DownloadError(_strict_message(dest, urls[0], lock))
        entry = lock.get(source, dest.name) if lock is not None else None
        if entry is not None:
            expected = _Expected(sha256=entry.sha256, size=entry.size, entry=entry)
    # only a published size limits the transfer: a download of another size than the lock
    # entry's must reach the hash comparison, which reports a lock mismatch
    size = published.size
    git_blob = bool(expected and expected.git_blob_sha1)
    dest.parent.mkdir(parents=True, exist_ok=True)

    if dest.exists():
        if expected is not None:
            digest = file_digest(dest, git_blob=git_blob)
            if expected.matches(digest):
                log.info("%s is present and matches its %s; not downloading", dest, expected.origin)
                return dest, digest, expected.origin
            rejected = dest.with_name(dest.name + ".rejected")
            os.replace(dest, rejected)
            log.warning(
                "%s does not match its %s (sha256 %s, %d bytes; expected %s); moved it to %s "
                "and downloading it again",
                dest, expected.origin, digest.sha256, digest.size,
                expected.sha256 or expected.md5 or expected.git_blob_sha1, rejected.name,
            )  # fmt: skip
        else:
            unverified = dest.with_name(dest.name + ".unverified")
            os.replace(dest, unverified)
            log.warning(
                "%s is present but not verified: it has no published checksum and no entry in "
                "the lock file %s. An unverified file is never used: moved it to %s and "
                "downloading it again",
                dest, lock.path if lock else "(none)", unverified.name,
            )  # fmt: skip

    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    mismatch: ChecksumError | None = None
    for u in urls:
        attempt = 0
        restarted = False
        while True:
            try:
                resumed = _transfer(
                    u, part, timeout=timeout, chunk=chunk, progress=progress, size=size, fmt=fmt
                )
            except _Permanent as exc:
                errors.append(f"{u}: {exc}")
                log.warning("%s: %s; trying the next mirror if there is one", u, exc)
                break
            except _Transient as exc:
                attempt += 1
                if attempt >= retries:
                    errors.append(f"{u}: {exc} (gave up after {retries} attempts)")
                    log.warning("%s: %s; giving up on this mirror", u, exc)
                    break
                delay = backoff * 2 ** (attempt - 1)
                have = part.stat().st_size if part.exists() else 0
                log.warning(
                    "%s: %s; retrying in %.1f s (attempt %d of %d, resuming from byte %d)",
                    u, exc, delay, attempt + 1, retries, have,
                )  # fmt: skip
                time.sleep(delay)
                continue

            digest = file_digest(part, git_blob=git_blob)
            if expected is not None:
                ok = expected.matches(digest)
                problem = "" if ok else _content_problem(part, fmt)  # explains a mismatch
            else:
                problem = _content_problem(part, fmt, deep=True)
                ok = not problem
            if ok:
                if expected is None and lock is not None:
                    # recorded before the rename: a file at dest always has its lock entry
                    lock.record(
                        source, dest.name, sha256=digest.sha256, md5=digest.md5,
                        size=digest.size, fmt=fmt or "", url=u,
                    )  # fmt: skip
                    _log_first_use(dest, digest, fmt, u, lock, source)
                    verified_by = VERIFIED_LOCK
                elif expected is None:
                    log.warning(
                        "downloaded %s from %s without a published checksum and without a lock "
                        "file to record it in; its content checked out as %s; sha256 %s",
                        dest.name, u, FORMATS.get(fmt or "", "(no format given)"), digest.sha256,
                    )  # fmt: skip
                    verified_by = "content check"
                else:
                    log.info(
                        "downloaded %s and verified it against its %s (sha256 %s)",
                        dest, expected.origin, digest.sha256,
                    )  # fmt: skip
                    verified_by = expected.origin
                os.replace(part, dest)
                _fsync_dir(dest.parent)
                return dest, digest, verified_by

            part.unlink()
            if resumed and not restarted:
                restarted = True
                log.warning(
                    "%s: the file failed verification after resuming a partial download (it "
                    "may have come from another version of the file); deleted it and "
                    "downloading from scratch",
                    u,
                )
                continue
            if expected is not None:
                mismatch = _mismatch_error(u, dest, part, expected, digest, problem, lock)
                errors.append(
                    f"{u}: {problem + '; ' if problem else ''}sha256 {digest.sha256} does not "
                    f"match the {expected.origin}"
                )
                log.error("%s", mismatch)
            else:
                errors.append(f"{u}: {problem}")
                log.warning("%s: %s; trying the next mirror if there is one", u, problem)
            break

    if mismatch is not None:
        if len(urls) > 1:
            mismatch.args = (mismatch.args[0] + "\nEvery URL tried:\n  " + "\n  ".join(errors),)
        raise mismatch
    kept = ""
    if part.exists():
        kept = (
            f" The partial download {part} ({part.stat().st_size} bytes) is kept: "
            "run again to resume it."
        )
    raise DownloadError(
        f"could not download {dest.name} from any of {len(urls)} URL(s):\n  "
        + "\n  ".join(errors)
        + f"\n{kept.strip() or 'No partial file was kept.'} Check the network connection and "
        f"the URLs in {REGISTRY_FILE} (or the mirror), or put a good copy of the file into a "
        "folder and name that folder as downloads: {mirror: ...} (it is verified the same way)."
    )


def _content_problem(path: Path, fmt: str | None, *, deep: bool = False) -> str:
    """Why ``path`` is not a file of format ``fmt`` ("" when it is, or no format is known)."""
    if fmt is None:
        if not deep:
            return ""
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if looks_like_html(head):
            return "the server returned an HTML page (probably a moved or error page)"
        return ""
    try:
        check_format(path, fmt, deep=deep)
    except FormatError as exc:
        return str(exc)
    return ""


def _strict_message(dest: Path, url: str, lock: ChecksumLock | None) -> str:
    lock_path = lock.path if lock is not None else Path("resources/raw") / LOCK_NAME
    return (
        f"{dest.name} ({url}) has no published checksum, and strict mode is on "
        "(downloads: {require_published_checksum: true} in the config, or "
        "--require-published-checksum), so it is refused. Either pin a checksum you trust "
        f"in {REGISTRY_FILE}, or turn strict mode off (the default): the file is then "
        "checked by its content when first downloaded, its sha256 recorded in "
        f"{lock_path}, and every later run verifies it against that record."
    )


def _log_first_use(
    dest: Path, digest: Digest, fmt: str | None, url: str, lock: ChecksumLock, source: str
) -> None:
    what = FORMATS.get(fmt or "", "a file of undeclared format")
    log.warning(
        "%s has no published checksum: trusted on first use after a content check (%s, "
        "complete). Recorded in %s: sha256 %s, %d bytes, from %s. Later runs verify the "
        "file against this entry. To pin it for everyone, add to the entry of %s in "
        "source %r of %s:\n    sha256: %s\n    size: %d",
        dest.name, what, lock.path, digest.sha256, digest.size, url, dest.name, source,
        REGISTRY_FILE, digest.sha256, digest.size,
    )  # fmt: skip


def _mismatch_error(
    url: str,
    dest: Path,
    part: Path,
    expected: _Expected,
    digest: Digest,
    problem: str,
    lock: ChecksumLock | None,
) -> ChecksumError:
    entry = expected.entry
    if entry is not None:
        assert lock is not None
        lines = [
            f"{dest.name} downloaded from {url} does not match the checksum recorded when it "
            f"was first downloaded (lock file {lock.path}, entry {entry.label()}):",
            f"  recorded sha256: {entry.sha256} ({entry.size} bytes, from {entry.url}, "
            f"{entry.recorded})",
            f"  actual sha256:   {digest.sha256} ({digest.size} bytes)",
        ]
        if problem:
            lines.append(f"  and the download is not what it should be: {problem}")
        lines.append(
            f"The download was removed and nothing was written to {dest}. If the file really "
            f"changed upstream, delete the entry {entry.label()} from {lock.path} and run "
            "again (the new file is then checked by content and recorded afresh); otherwise "
            "this mirror serves a different or broken copy: try again later or another mirror."
        )
        return LockMismatchError(
            "\n".join(lines),
            entry=entry,
            lock_file=lock.path,
            url=url,
            path=dest,
            expected_sha256=entry.sha256,
            actual_sha256=digest.sha256,
        )
    lines = [f"checksum mismatch for {dest.name} downloaded from {url}:"]
    if problem:
        lines.append(f"  {problem}")
    lines.append(f"  expected sha256: {expected.sha256 or '(not published)'}")
    lines.append(f"  actual sha256:   {digest.sha256}")
    if expected.md5 is not None:
        lines.append(f"  expected md5:    {expected.md5}")
        lines.append(f"  actual md5:      {digest.md5}")
    if expected.git_blob_sha1 is not None:
        lines.append(f"  expected git blob id: {expected.git_blob_sha1}")
        lines.append(f"  actual git blob id:   {digest.git_blob_sha1}")
    if expected.size is not None:
        lines.append(f"  expected size:   {expected.size} bytes; actual size: {digest.size} bytes")
    lines.append(
        f"The partial file {part.name} was removed and nothing was written to {dest}. "
        "The mirror may serve a different version of the file or a broken copy: try again "
        "later or another mirror; if the file has been changed upstream on purpose, update "
        f"the checksum in {REGISTRY_FILE}."
    )
    return ChecksumError(
        "\n".join(lines),
        url=url,
        path=dest,
        expected_sha256=expected.sha256,
        actual_sha256=digest.sha256,
        expected_md5=expected.md5,
        actual_md5=digest.md5,
    )


def _transfer(
    url: str,
    part: Path,
    *,
    timeout: float,
    chunk: int,
    progress: bool,
    size: int | None,
    fmt: str | None = None,
) -> bool:
    """Append the rest of ``url`` to ``part``; True when an earlier partial file was reused."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        log.warning("%s is longer than the expected %d bytes; starting again", part, size)
        part.unlink()
        offset = 0
    if size is not None and offset == size and offset > 0:
        return True  # complete already: verify it
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            log.info("%s: range not satisfiable, so %s is complete; verifying it", url, part.name)
            return True
        if exc.code in (408, 425, 429) or exc.code >= 500:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from exc
        raise _Permanent(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if url.startswith("file:"):
            raise _Permanent(f"cannot read the local file: {reason}") from exc
        raise _Transient(f"cannot connect: {reason}") from exc

    with response:
        status = getattr(response, "status", None) or 200  # file:// answers have no status
        resumed = False
        if status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if not offset or start != offset:
                part.unlink(missing_ok=True)
                raise _Transient(
                    f"server answered with bytes from {start} instead of {offset}; restarting"
                )
            mode, resumed = "ab", True
        elif status == 200:
            if offset and not url.startswith("file:"):
                log.warning(
                    "%s ignored the Range request; downloading %s again from the start",
                    url,
                    part.name,
                )
            offset = 0
            mode = "wb"
        else:
            raise _Permanent(f"unexpected HTTP status {status}")
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        total = offset + length if length is not None else size
        received = 0
        # read1 returns what has arrived (up to chunk) instead of waiting for a full chunk, so
        # bytes received before a stall or a cut are on disk and a later attempt resumes there
        read = getattr(response, "read1", response.read)
        bar = tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name.removesuffix(".part"),
            disable=not progress,
            leave=False,
        )
        try:
            with open(part, mode) as fh:
                while True:
                    try:
                        buf = read(chunk)
                    except (http.client.HTTPException, OSError) as exc:
                        raise _Transient(
                            f"transfer interrupted after {offset + received} bytes: {exc!r}"
                        ) from exc
                    if not buf:
                        break
                    fh.write(buf)
                    received += len(buf)
                    bar.update(len(buf))
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            bar.close()
    if length is not None and received < length:
        raise _Transient(f"connection closed after {offset + received} of {offset + length} bytes")
    final = offset + received
    if size is not None and final != size and fmt != "html":
        # a whole answer of the wrong length: an error page served with status 200?
        with open(part, "rb") as fh:
            head = fh.read(4096)
        if looks_like_html(head):
            part.unlink()
            raise _Permanent(
                "the server returned an HTML page (probably a moved or error page) instead of "
                f"{FORMATS.get(fmt or '', 'the file')}"
            )
    if size is not None and final < size:
        raise _Transient(f"received {final} of the expected {size} bytes")
    if size is not None and final > size:
        part.unlink()
        raise _Permanent(f"the server sent {final} bytes but the file should have {size}")
    return resumed


def _range_start(content_range: str | None) -> int | None:
    """Start byte of a ``Content-Range: bytes start-end/total`` header."""
    if not content_range:
        return None
    try:
        unit, spec = content_range.strip().split(" ", 1)
        if unit.lower() != "bytes":
            return None
        return int(spec.split("-", 1)[0])
    except ValueError:
        return None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def mirror_url(mirror: str | os.PathLike[str], source: str, name: str) -> str:
    """Where file ``name`` of source ``source`` lives on ``mirror``: ``<mirror>/<source>/<name>``.

    ``mirror`` is an ``http://``, ``https://`` or ``file://`` base URL, or a
    local folder (absolute, or relative to the working directory).
    """
    text = os.fspath(mirror)
    parts = [source, *name.split("/")]
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        if not re.match(r"^(https?|file)://", text):
            raise DownloadError(
                f"the download mirror {text!r} is neither an http(s):// or file:// URL nor a "
                "local folder"
            )
        base = text if text.endswith("/") else text + "/"
        return base + "/".join(urllib.parse.quote(p) for p in parts)
    return Path(text).expanduser().resolve().joinpath(*parts).as_uri()


# -- extract ----------------------------------------------------------------------------------

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
_SINGLE = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def archive_kind(archive: str | os.PathLike[str]) -> str:
    """``"zip"``, ``"tar"``, ``"gz"``, ``"bz2"`` or ``"xz"`` from the file name."""
    name = Path(archive).name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    for suffix in _SINGLE:
        if name.endswith(suffix):
            return suffix[1:]
    raise DownloadError(
        f"cannot tell how to unpack {Path(archive).name}: supported are .zip, "
        f"{', '.join(_TAR_SUFFIXES)}, and single files .gz, .bz2, .xz"
    )


def extract(archive: str | os.PathLike[str], dest_dir: str | os.PathLike[str]) -> list[Path]:
    """Unpack ``archive`` into ``dest_dir`` and return the paths of the files it holds.

    Every member is checked before anything is written: an absolute path, a
    path that leaves ``dest_dir`` through ``..``, a symbolic or hard link whose
    target lies outside, a device or a FIFO makes the whole archive refused
    with a :class:`DownloadError` naming the member.  The members are written
    into a temporary folder; when ``dest_dir`` does not exist yet that folder
    is renamed onto it (atomic), otherwise each top-level entry is renamed into
    ``dest_dir`` (replacing an entry of the same name).  A single-file ``.gz``
    / ``.bz2`` / ``.xz`` becomes ``dest_dir/<name without the suffix>``.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    kind = archive_kind(archive)
    if dest_dir.exists() and not dest_dir.is_dir():
        raise DownloadError(f"cannot unpack {archive.name}: {dest_dir} exists and is not a folder")
    existed = dest_dir.is_dir()
    if existed:
        tmp = Path(tempfile.mkdtemp(prefix=f".extract-{archive.name}-", dir=dest_dir))
    else:
        dest_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.extract-", dir=dest_dir.parent))
    try:
        try:
            if kind == "zip":
                _extract_zip(archive, tmp)
            elif kind == "tar":
                _extract_tar(archive, tmp)
            else:
                _extract_single(archive, tmp, kind)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
            raise DownloadError(
                f"{archive} is damaged or not a {kind} archive ({exc}); delete it and run "
                "again to download it afresh"
            ) from exc
        relative = _list_files(tmp)
        os.chmod(tmp, 0o755 & ~_umask())
        if existed:
            _merge_into(tmp, dest_dir)
        else:
            os.rename(tmp, dest_dir)
        _fsync_dir(dest_dir.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("unpacked %d files from %s into %s", len(relative), archive.name, dest_dir)
    return [dest_dir / r for r in relative]


def _list_files(folder: Path) -> list[Path]:
    """Files and links under ``folder`` (relative paths), without following links."""
    out: list[Path] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        out += [(here / d).relative_to(folder) for d in dirs if (here / d).is_symlink()]
        out += [(here / f).relative_to(folder) for f in files]
    return sorted(out)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _merge_into(tmp: Path, dest_dir: Path) -> None:
    """Rename every top-level entry of ``tmp`` into ``dest_dir``."""
    for entry in sorted(tmp.iterdir()):
        target = dest_dir / entry.name
        entry_is_dir = entry.is_dir() and not entry.is_symlink()
        if target.is_dir() and not target.is_symlink():
            # a folder cannot be renamed over a non-empty folder: move the old one aside
            trash = Path(tempfile.mkdtemp(prefix=".replaced-", dir=dest_dir))
            os.rename(target, trash / entry.name)
            os.rename(entry, target)
            shutil.rmtree(trash, ignore_errors=True)
        elif entry_is_dir and (target.exists() or target.is_symlink()):
            target.unlink()
            os.rename(entry, target)
        else:
            os.replace(entry, target)


def _safe_name(name: str, archive: Path) -> str:
    """The normalised relative path of member ``name``, or a refusal."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise DownloadError(
            f"refusing to unpack {archive.name}: member {name!r} has an absolute path"
        )
    normal = posixpath.normpath(unified)
    if normal == ".." or normal.startswith("../"):
        raise DownloadError(
            f"refusing to unpack {archive.name}: member {name!r} would be written outside "
            "the target folder"
        )
    return normal


def _check_link(member: str, target: str, archive: Path, *, hard: bool) -> None:
    """Refuse a link whose target lies outside the extraction folder."""
    unified = target.replace("\\", "/")
    kind = "hard link" if hard else "symbolic link"
    if not unified or unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise DownloadError(
            f"refusing to unpack {archive.name}: member {member!r} is a {kind} to the "
            f"absolute path {target!r}"
        )
    base = "" if hard else posixpath.dirname(member)
    resolved = posixpath.normpath(posixpath.join(base, unified))
    if resolved == ".." or resolved.startswith("../"):
        raise DownloadError(
            f"refusing to unpack {archive.name}: member {member!r} is a {kind} to "
            f"{target!r}, outside the target folder"
        )


def _extract_tar(archive: Path, tmp: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        for m in members:
            name = _safe_name(m.name, archive)
            if m.issym():
                _check_link(name, m.linkname, archive, hard=False)
            elif m.islnk():
                _check_link(name, m.linkname, archive, hard=True)
            elif not (m.isfile() or m.isdir()):
                raise DownloadError(
                    f"refusing to unpack {archive.name}: member {m.name!r} is a device or FIFO"
                )
        try:
            # the stdlib's own guard as well: refuses what the checks above refuse
            tf.extractall(tmp, members=members, filter="data")
        except tarfile.FilterError as exc:
            raise DownloadError(f"refusing to unpack {archive.name}: {exc}") from exc


def _extract_zip(archive: Path, tmp: Path) -> None:
    root = tmp.resolve()
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        plan: list[tuple[zipfile.ZipInfo, str, str | None]] = []
        for info in infos:
            name = _safe_name(info.filename, archive)
            link = None
            if stat.S_ISLNK(info.external_attr >> 16):
                link = zf.read(info).decode("utf-8", "surrogateescape")
                _check_link(name, link, archive, hard=False)
            plan.append((info, name, link))
        for info, name, link in plan:
            if name == ".":
                continue
            out = tmp / name
            parent = out.parent.resolve()
            if parent != root and root not in parent.parents:
                raise DownloadError(
                    f"refusing to unpack {archive.name}: member {info.filename!r} would be "
                    "written through a link outside the target folder"
                )
            if link is not None:
                out.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link, out)
            elif info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, _HASH_CHUNK)


def _extract_single(archive: Path, tmp: Path, kind: str) -> None:
    name = archive.name[: -len(kind) - 1]
    if not name:
        raise DownloadError(f"cannot name the file unpacked from {archive.name}")
    opener = _SINGLE[f".{kind}"]
    with opener(archive, "rb") as src, open(tmp / name, "wb") as dst:
        shutil.copyfileobj(src, dst, _HASH_CHUNK)


# -- ensure_source ----------------------------------------------------------------------------


def ensure_source(
    name: str | SourceSpec,
    raw_dir: str | os.PathLike[str],
    *,
    require_published_checksum: bool = False,
    mirror: str | os.PathLike[str] | None = None,
    mirror_only: bool = False,
    lock_file: str | os.PathLike[str] | None = None,
    registry: str | os.PathLike[str] | None = None,
    progress: bool = True,
    timeout: float = 60,
    retries: int = 3,
    backoff: float = 1.0,
) -> Path:
    """Make ``raw_dir`` hold every raw file of registry entry ``name``, verified.

    Downloads (or reuses) each file, unpacks those marked ``extract``, checks
    the hand-placed files of an entry with a ``manual`` part and writes
    ``raw_dir/.complete`` last.  Returns ``raw_dir``.  When ``.complete``
    already describes the current registry entry (and lock file) and the files
    are there, nothing is done.

    Files without a published checksum are verified against ``lock_file``
    (default: ``checksums.lock`` in the parent of ``raw_dir``), or trusted on
    first use and recorded there; ``require_published_checksum`` refuses them
    instead.  ``mirror`` (a base URL or a local folder) is tried first for every
    file, as ``<mirror>/<source>/<file>``; ``mirror_only`` tries nothing else.

    Raises :class:`ManualDownloadRequired` (with the instructions, the expected
    file names and the folder) when hand-placed files are missing; run again
    once they are in place.
    """
    spec = name if isinstance(name, SourceSpec) else get_source(name, registry)
    raw_dir = Path(raw_dir)
    if mirror_only and not mirror:
        raise DownloadError("mirror_only needs a mirror (downloads: {mirror: URL or folder})")
    raw_dir.mkdir(parents=True, exist_ok=True)
    lock = ChecksumLock(lock_file if lock_file is not None else raw_dir.parent / LOCK_NAME)
    marker = raw_dir / MARKER
    if is_complete(spec, raw_dir, lock=lock, require_published_checksum=require_published_checksum):
        log.info("%s: raw files in %s are complete", spec.name, raw_dir)
        return raw_dir
    if marker.exists() or marker.is_symlink():
        log.info("%s: %s is out of date; checking the files again", spec.name, marker)
        marker.unlink()

    records: list[dict[str, Any]] = []
    for f in spec.files:
        dest = raw_dir / f.name
        _copy_local(spec, f, dest)
        urls = list(f.urls)
        if mirror:
            here = mirror_url(mirror, spec.name, f.name)
            urls = [here] if mirror_only else [here, *urls]
        path, digest, verified_by = _fetch(
            urls,
            dest,
            _Expected(f.sha256, f.md5, f.git_blob_sha1, f.size),
            fmt=f.format,
            lock=lock,
            source=spec.name,
            strict=require_published_checksum,
            timeout=timeout,
            chunk=1 << 20,
            retries=retries,
            progress=progress,
            backoff=backoff,
        )
        record: dict[str, Any] = {
            "name": f.name,
            "sha256": digest.sha256,
            "md5": digest.md5,
            "size": digest.size,
            "format": f.format,
            "verified_by": verified_by,
        }
        if digest.git_blob_sha1:
            record["git_blob_sha1"] = digest.git_blob_sha1
        if f.extract:
            record["extracted_to"] = f.extract_to
            record["extracted_files"] = _extract_once(path, digest, raw_dir / f.extract_to)
        records.append(record)

    manual_records = []
    if spec.manual is not None:
        manual_records = _check_manual(
            spec,
            raw_dir,
            mirror=mirror,
            timeout=timeout,
            retries=retries,
            progress=progress,
            backoff=backoff,
        )
    write_json(
        marker,
        {
            "version": MARKER_VERSION,
            "source": spec.name,
            "title": spec.title,
            "files": records,
            "manual": manual_records,
            "lock_file": str(lock.path),
            "completed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    log.info("%s: raw files complete in %s", spec.name, raw_dir)
    return raw_dir


def is_complete(
    spec: SourceSpec,
    raw_dir: str | os.PathLike[str],
    *,
    lock: ChecksumLock | None = None,
    require_published_checksum: bool = False,
) -> bool:
    """True when ``raw_dir/.complete`` matches ``spec`` and the files it lists are there.

    A cheap check (names, sizes, published checksums or lock entries,
    presence), not a re-hash.  A file without a published checksum counts only
    while its lock entry (``lock``, default ``checksums.lock`` beside
    ``raw_dir``) has the sha256 the marker recorded, and never in strict mode.
    """
    raw_dir = Path(raw_dir)
    marker = raw_dir / MARKER
    try:
        doc = read_json(marker)
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict) or doc.get("version") != MARKER_VERSION:
        return False
    if doc.get("source") != spec.name:
        return False
    by_name = {r.get("name"): r for r in doc.get("files", []) if isinstance(r, dict)}
    if set(by_name) != {f.name for f in spec.files}:
        return False
    if lock is None:
        lock = ChecksumLock(raw_dir.parent / LOCK_NAME)
    for f in spec.files:
        rec = by_name[f.name]
        if f.verified:
            if f.sha256 and rec.get("sha256") != f.sha256:
                return False
            if f.md5 and rec.get("md5") != f.md5:
                return False
            if f.git_blob_sha1 and rec.get("git_blob_sha1") != f.git_blob_sha1:
                return False
        else:
            if require_published_checksum:
                return False
            entry = lock.get(spec.name, f.name)
            if entry is None or rec.get("sha256") != entry.sha256:
                return False
        path = raw_dir / f.name
        if not path.is_file() or path.stat().st_size != rec.get("size"):
            return False
        if f.extract and not (raw_dir / _extract_state_name(f.name)).is_file():
            return False
    if spec.manual is not None:
        for e in spec.manual.expect:
            if e.path is not None and not (raw_dir / e.path).exists():
                return False
    return True


def _extract_state_name(archive_name: str) -> str:
    return f".{archive_name}.extracted.json"


def _extract_once(archive: Path, digest: Digest, dest_dir: Path) -> int:
    """Unpack ``archive`` unless its state file says this very archive was unpacked."""
    state = archive.with_name(_extract_state_name(archive.name))
    base = archive.parent
    try:
        doc = read_json(state)
        if doc.get("sha256") == digest.sha256 and all(
            (base / p).exists() or (base / p).is_symlink() for p in doc["files"]
        ):
            log.info("%s was unpacked before; not unpacking again", archive.name)
            return len(doc["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    state.unlink(missing_ok=True)
    paths = extract(archive, dest_dir)
    files = [p.relative_to(base).as_posix() for p in paths]
    write_json(state, {"archive": archive.name, "sha256": digest.sha256, "files": files})
    return len(files)


def _copy_local(spec: SourceSpec, f: FileSpec, dest: Path) -> None:
    """Copy a verified local copy (e.g. from a Debian data package) instead of downloading."""
    if dest.exists() or not f.verified:
        return
    for folder in spec.local_dirs:
        candidate = Path(folder) / f.name
        if not candidate.is_file():
            continue
        digest = file_digest(candidate, git_blob=f.git_blob_sha1 is not None)
        if not digest.matches(f.sha256, f.md5, f.size, f.git_blob_sha1):
            log.warning("%s does not match the registry checksum; not using it", candidate)
            continue
        with atomic_path(dest) as tmp:
            shutil.copyfile(candidate, tmp)
        log.info("%s: copied the verified local file %s", spec.name, candidate)
        return


def _check_manual(
    spec: SourceSpec,
    raw_dir: Path,
    *,
    mirror: str | os.PathLike[str] | None = None,
    timeout: float = 60,
    retries: int = 3,
    progress: bool = True,
    backoff: float = 1.0,
) -> list[dict[str, Any]]:
    assert spec.manual is not None
    missing: list[tuple[ExpectSpec, int | None]] = []
    records: list[dict[str, Any]] = []
    for e in spec.manual.expect:
        if e.path is not None:
            path = raw_dir / e.path
            if not path.exists() and mirror and (e.format or e.sha256 or e.md5 or e.git_blob_sha1):
                _manual_from_mirror(spec, e, path, mirror, timeout, retries, progress, backoff)
            if not path.exists():
                missing.append((e, None))
                continue
            rec: dict[str, Any] = {"path": e.path}
            if path.is_file():
                rec.update(_verify_placed(spec, e, path))
            records.append(rec)
        else:
            assert e.glob is not None
            count = sum(1 for p in raw_dir.glob(e.glob) if p.is_file())
            if count < e.min_count:
                missing.append((e, count))
            else:
                records.append({"glob": e.glob, "count": count})
    if missing:
        raise ManualDownloadRequired(
            _manual_message(spec, raw_dir, missing, mirror),
            source=spec.name,
            folder=raw_dir.resolve(),
            missing=[e.label() for e, _ in missing],
        )
    return records


def _manual_from_mirror(
    spec: SourceSpec,
    e: ExpectSpec,
    path: Path,
    mirror: str | os.PathLike[str],
    timeout: float,
    retries: int,
    progress: bool,
    backoff: float,
) -> None:
    """Copy a hand-placed file from the mirror when it has one (verified like a placed file)."""
    assert e.path is not None
    url = mirror_url(mirror, spec.name, e.path)
    try:
        _fetch(
            url,
            path,
            _Expected(e.sha256, e.md5, e.git_blob_sha1),
            fmt=e.format,
            lock=None,
            source=spec.name,
            strict=False,
            timeout=timeout,
            chunk=1 << 20,
            retries=retries,
            progress=progress,
            backoff=backoff,
        )
    except ChecksumError:
        raise
    except DownloadError as exc:
        log.info("%s: %s is not on the mirror (%s)", spec.name, e.path, exc)


def _verify_placed(spec: SourceSpec, e: ExpectSpec, path: Path) -> dict[str, Any]:
    """Checksums (published ones must match) and format of a hand-placed file."""
    digest = file_digest(path, git_blob=e.git_blob_sha1 is not None)
    published = bool(e.sha256 or e.md5 or e.git_blob_sha1)
    if published and not digest.matches(e.sha256, e.md5, None, e.git_blob_sha1):
        problem = _content_problem(path, e.format)
        raise ChecksumError(
            f"{path} does not match its published checksum:\n"
            + (f"  {problem}\n" if problem else "")
            + f"  expected sha256: {e.sha256 or '(not published)'}\n"
            f"  actual sha256:   {digest.sha256}\n"
            + (f"  expected md5: {e.md5}; actual md5: {digest.md5}\n" if e.md5 else "")
            + (
                f"  expected git blob id: {e.git_blob_sha1}; actual: {digest.git_blob_sha1}\n"
                if e.git_blob_sha1
                else ""
            )
            + "Replace it with the file from the source named in the registry "
            "entry and run again.",
            url=spec.homepage,
            path=path,
            expected_sha256=e.sha256,
            actual_sha256=digest.sha256,
            expected_md5=e.md5,
            actual_md5=digest.md5,
        )
    if not published and e.format is not None:
        problem = _content_problem(path, e.format, deep=True)
        if problem:
            raise DownloadError(
                f"{path} is not the expected file: {problem}. Replace it with the file from "
                "the source named in the registry entry (a browser may have saved an error or "
                "confirmation page under the file's name) and run again."
            )
    rec: dict[str, Any] = {"sha256": digest.sha256, "md5": digest.md5, "size": digest.size}
    if digest.git_blob_sha1:
        rec["git_blob_sha1"] = digest.git_blob_sha1
    rec["verified_by"] = (
        VERIFIED_PUBLISHED if published else ("content check" if e.format else "presence")
    )
    return rec


def _manual_message(
    spec: SourceSpec,
    raw_dir: Path,
    missing: list[tuple[ExpectSpec, int | None]],
    mirror: str | os.PathLike[str] | None = None,
) -> str:
    assert spec.manual is not None
    folder = raw_dir.resolve()
    indent = "\n".join(
        f"    {line}" if line else "" for line in spec.manual.instructions.splitlines()
    )
    lines = [
        f"{spec.title} ({spec.name}) must be obtained by hand "
        "(its licence or its host does not allow an automatic download).",
        "",
        "Where to get it:",
        indent,
        "",
        "Put the files into this folder (paths relative to it):",
        f"    {folder}",
        "",
        "Expected there:",
    ]
    missing_ids = {id(e): n for e, n in missing}
    for e in spec.manual.expect:
        status = "present"
        if id(e) in missing_ids:
            found = missing_ids[id(e)]
            status = "MISSING" if found is None else f"MISSING: found {found}"
        desc = f" - {e.description}" if e.description else ""
        lines.append(f"  - {e.label()}  [{status}]{desc}")
    if mirror:
        lines += [
            "",
            f"The mirror was asked for the single files: {mirror_url(mirror, spec.name, '')}"
            " (files given by a pattern are never taken from a mirror).",
        ]
    lines += ["", "Then run the same command (or Snakemake rule) again; it continues from there."]
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mmclust.data.download SOURCE RAW_DIR``: fetch one registry entry."""
    parser = argparse.ArgumentParser(
        prog="python -m mmclust.data.download",
        description="Download, verify and unpack the raw files of one data source.",
    )
    add_download_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per network read")
    parser.add_argument("--retries", type=int, default=3, help="attempts per mirror")
    a = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_download(a)


def add_download_options(parser: argparse.ArgumentParser) -> None:
    """The arguments of a download command (shared with ``python -m mmclust download``)."""
    parser.add_argument("source", help="registry entry, e.g. mnist, coco2014")
    parser.add_argument("raw_dir", type=Path, help="folder for the raw files")
    parser.add_argument(
        "--require-published-checksum",
        action="store_true",
        help="strict mode: refuse files whose checksum is not published (no trust on first use)",
    )
    parser.add_argument(
        "--mirror",
        default=None,
        help="base URL or local folder tried first for every file, as MIRROR/SOURCE/FILE",
    )
    parser.add_argument(
        "--mirror-only", action="store_true", help="try only the mirror, not the registry URLs"
    )
    parser.add_argument(
        "--lock-file",
        type=Path,
        default=None,
        help=f"checksums recorded on first use (default: {LOCK_NAME} beside RAW_DIR)",
    )
    parser.add_argument(
        "--registry",
        type=Path,
        default=None,
        help="another raw-file registry (registry.yaml) instead of the packaged one",
    )
    parser.add_argument("--allow-unverified", action="store_true", help=argparse.SUPPRESS)


def run_download(a: argparse.Namespace) -> int:
    """Run :func:`ensure_source` for parsed arguments; the process exit code."""
    if getattr(a, "allow_unverified", False):
        log.error(
            "--allow-unverified is obsolete: files without a published checksum are now "
            "trusted on first use (checked by content, their sha256 recorded in the lock file) "
            "without it; use --require-published-checksum to refuse them instead"
        )
        return 2
    try:
        ensure_source(
            a.source,
            a.raw_dir,
            require_published_checksum=a.require_published_checksum,
            mirror=a.mirror or None,
            mirror_only=a.mirror_only,
            lock_file=a.lock_file,
            registry=getattr(a, "registry", None),
            progress=not getattr(a, "no_progress", False),
            timeout=getattr(a, "timeout", 60),
            retries=getattr(a, "retries", 3),
        )
    except ManualDownloadRequired as exc:
        log.error("%s", exc)
        return 3
    except DatasetError as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
