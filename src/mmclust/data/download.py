"""Checksummed, resumable downloads and safe archive extraction for raw data.

Three layers:

``fetch(url, dest, sha256, md5)``
    Downloads one file to ``<dest>.part``, resuming an earlier partial download
    with an HTTP ``Range`` request, verifies the checksum and only then renames
    the file onto ``dest`` (an atomic rename in the same folder).  Several URLs
    are mirrors of the same bytes, tried in order.
``extract(archive, dest_dir)``
    Unpacks zip / tar (plain, gz, bz2, xz) / single-file gz, bz2, xz into a
    temporary folder and renames the result into place; refuses members with
    absolute paths, ``..`` escapes, links pointing outside, devices and FIFOs.
``ensure_source(name, raw_dir)``
    Does the above for every file of a registry entry (``registry.yaml``),
    checks the hand-placed files of entries that need manual steps, and writes
    ``raw_dir/.complete`` (JSON: files, sizes, checksums) last.  A later rule
    can treat ``.complete`` as "the raw data are all there and verified".

Choices the issue leaves open, made here:

* A file without any published checksum is refused unless the caller passes
  ``allow_unverified=True``; then its computed sha256 is logged and written to
  ``<dest>.sha256`` (``sha256sum`` format) so that it can be pinned in the
  registry.  An optional registry ``size`` is checked as well (it is the only
  check for such files).
* Transient failures (connection cut, timeout, HTTP 408/425/429/5xx) are
  retried ``retries`` times per mirror with exponential back-off, resuming from
  the ``.part`` file; permanent ones (other HTTP 4xx) move on to the next
  mirror at once.  When every mirror fails the ``.part`` file is kept so that
  the next call resumes.
* A server that ignores ``Range`` (answers 200) is downloaded again from byte
  0; a 416 answer to a range request means the ``.part`` file is already
  complete and it is verified as it is.  A checksum mismatch after a resumed
  transfer is retried once from scratch (the partial file may have come from
  another version of the file) before it is reported.
* A ``dest`` that exists but does not match its checksum is renamed to
  ``<dest>.rejected`` (never silently used, never silently deleted) and
  downloaded again.
* Archives are kept after extraction: they are what the checksums pin.  A
  hidden ``.<archive>.extracted.json`` beside them records what was unpacked,
  so a rerun does not unpack again.
* Only the standard library's ``urllib`` is used (no ``requests``); progress
  bars are tqdm's, on stderr.
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
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mmclust.data.dataset import DatasetError
from mmclust.data.registry import ExpectSpec, FileSpec, SourceSpec, get_source
from mmclust.io import atomic_open, atomic_path, read_json, write_json

__all__ = [
    "MARKER",
    "ChecksumError",
    "Digest",
    "DownloadError",
    "ManualDownloadRequired",
    "archive_kind",
    "ensure_source",
    "extract",
    "fetch",
    "file_digest",
    "is_complete",
    "main",
]

log = logging.getLogger(__name__)

MARKER = ".complete"
MARKER_VERSION = 1
USER_AGENT = "mmclust/0.1 (research data download; urllib)"
_HASH_CHUNK = 1 << 20


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

    def matches(self, sha256: str | None, md5: str | None, size: int | None = None) -> bool:
        """True when every given expectation holds (None = not checked)."""
        return (
            (sha256 is None or self.sha256 == sha256.lower())
            and (md5 is None or self.md5 == md5.lower())
            and (size is None or self.size == size)
        )


def file_digest(path: str | os.PathLike[str], chunk: int = _HASH_CHUNK) -> Digest:
    """sha256, md5 and size of ``path``."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as fh:
        while buf := fh.read(chunk):
            sha.update(buf)
            md5.update(buf)
            size += len(buf)
    return Digest(sha.hexdigest(), md5.hexdigest(), size)


# -- fetch ------------------------------------------------------------------------------------


def fetch(
    url: str | Sequence[str],
    dest: str | os.PathLike[str],
    sha256: str | None,
    md5: str | None = None,
    *,
    timeout: float = 60,
    chunk: int = 1 << 20,
    retries: int = 3,
    progress: bool = True,
    allow_unverified: bool = False,
    size: int | None = None,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` (or the first working mirror of a list) to ``dest`` and verify it.

    The data go to ``<dest>.part`` first; an existing ``.part`` file is resumed
    with a ``Range`` request.  Only a file whose sha256 and/or md5 (and
    ``size``, when given) match is renamed onto ``dest``.  If ``dest`` already
    exists and matches, nothing is downloaded.

    Raises :class:`ChecksumError` on a mismatch (the ``.part`` file is deleted)
    and :class:`DownloadError` when no mirror delivers the file (the ``.part``
    file is kept for the next call to resume) or when no checksum is known and
    ``allow_unverified`` is False.  ``backoff`` is the first retry delay in
    seconds (doubled each retry).
    """
    path, _ = _fetch(
        url,
        Path(dest),
        sha256,
        md5,
        timeout=timeout,
        chunk=chunk,
        retries=retries,
        progress=progress,
        allow_unverified=allow_unverified,
        size=size,
        backoff=backoff,
    )
    return path


def _fetch(
    url: str | Sequence[str],
    dest: Path,
    sha256: str | None,
    md5: str | None,
    *,
    timeout: float,
    chunk: int,
    retries: int,
    progress: bool,
    allow_unverified: bool,
    size: int | None,
    backoff: float,
) -> tuple[Path, Digest]:
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise DownloadError(f"no URL given for {dest}")
    if retries < 1:
        raise DownloadError(f"retries must be at least 1, got {retries}")
    sha256 = sha256.lower() if sha256 else None
    md5 = md5.lower() if md5 else None
    verified = sha256 is not None or md5 is not None
    if not verified and not allow_unverified:
        raise DownloadError(
            f"no published checksum for {dest.name} ({urls[0]}), so a download could not be "
            "verified and is refused. Pin its sha256 in src/mmclust/data/registry.yaml, or allow "
            "an unverified download once (allow_unverified=True, `--allow-unverified`, or "
            "`allow_unverified: true` in the config); its computed sha256 is then written to "
            f"{dest.name}.sha256 so that you can pin it."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)

    if dest.exists():
        digest = file_digest(dest)
        if verified and digest.matches(sha256, md5, size):
            log.info("%s is present and its checksum matches; not downloading", dest)
            return dest, digest
        if not verified and (size is None or digest.size == size):
            log.info("%s is present (no published checksum to compare)", dest)
            _write_sha_file(dest, digest)
            return dest, digest
        rejected = dest.with_name(dest.name + ".rejected")
        os.replace(dest, rejected)
        log.warning(
            "%s does not match its expected checksum/size (sha256 %s, %d bytes); moved it to %s "
            "and downloading it again",
            dest,
            digest.sha256,
            digest.size,
            rejected.name,
        )

    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    checksum_error: ChecksumError | None = None
    for u in urls:
        attempt = 0
        restarted = False
        while True:
            try:
                resumed = _transfer(
                    u, part, timeout=timeout, chunk=chunk, progress=progress, size=size
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

            digest = file_digest(part)
            if digest.matches(sha256, md5, size):
                os.replace(part, dest)
                _fsync_dir(dest.parent)
                if verified:
                    log.info("downloaded and verified %s (sha256 %s)", dest, digest.sha256)
                else:
                    _write_sha_file(dest, digest)
                    log.warning(
                        "downloaded %s WITHOUT a published checksum; its sha256 is %s "
                        "(written to %s.sha256) - pin it in the registry",
                        dest, digest.sha256, dest.name,
                    )  # fmt: skip
                return dest, digest

            part.unlink()
            if resumed and not restarted:
                restarted = True
                log.warning(
                    "%s: checksum mismatch after resuming a partial download (it may have come "
                    "from another version of the file); deleted it and downloading from scratch",
                    u,
                )
                continue
            checksum_error = _checksum_error(u, dest, part, sha256, md5, size, digest)
            errors.append(f"{u}: checksum mismatch (sha256 {digest.sha256})")
            log.error("%s", checksum_error)
            break

    if checksum_error is not None:
        raise checksum_error
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
        "the URLs in src/mmclust/data/registry.yaml, or put a copy of the file with the right "
        f"checksum at {dest} yourself."
    )


def _checksum_error(
    url: str,
    dest: Path,
    part: Path,
    sha256: str | None,
    md5: str | None,
    size: int | None,
    digest: Digest,
) -> ChecksumError:
    lines = [f"checksum mismatch for {dest.name} downloaded from {url}:"]
    lines.append(f"  expected sha256: {sha256 or '(not published)'}")
    lines.append(f"  actual sha256:   {digest.sha256}")
    if md5 is not None:
        lines.append(f"  expected md5:    {md5}")
        lines.append(f"  actual md5:      {digest.md5}")
    if size is not None:
        lines.append(f"  expected size:   {size} bytes; actual size: {digest.size} bytes")
    lines.append(
        f"The partial file {part.name} was removed and nothing was written to {dest}. "
        "The mirror may serve a different version of the file or a broken copy: try again "
        "later or another mirror; if the file has been changed upstream on purpose, update "
        "the checksum in src/mmclust/data/registry.yaml."
    )
    return ChecksumError(
        "\n".join(lines),
        url=url,
        path=dest,
        expected_sha256=sha256,
        actual_sha256=digest.sha256,
        expected_md5=md5,
        actual_md5=digest.md5,
    )


def _transfer(
    url: str, part: Path, *, timeout: float, chunk: int, progress: bool, size: int | None
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
            if offset:
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


def _write_sha_file(dest: Path, digest: Digest) -> None:
    with atomic_open(dest.with_name(dest.name + ".sha256")) as fh:
        fh.write(f"{digest.sha256}  {dest.name}\n")


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
    allow_unverified: bool = False,
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
    already describes the current registry entry and the files are there,
    nothing is done.  Raises :class:`ManualDownloadRequired` (with the
    instructions, the expected file names and the folder) when hand-placed
    files are missing; run again once they are in place.
    """
    spec = name if isinstance(name, SourceSpec) else get_source(name, registry)
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    marker = raw_dir / MARKER
    if is_complete(spec, raw_dir):
        log.info("%s: raw files in %s are complete", spec.name, raw_dir)
        return raw_dir
    if marker.exists() or marker.is_symlink():
        log.info("%s: %s is out of date; checking the files again", spec.name, marker)
        marker.unlink()

    records: list[dict[str, Any]] = []
    for f in spec.files:
        dest = raw_dir / f.name
        _copy_local(spec, f, dest)
        path, digest = _fetch(
            list(f.urls),
            dest,
            f.sha256,
            f.md5,
            timeout=timeout,
            chunk=1 << 20,
            retries=retries,
            progress=progress,
            allow_unverified=allow_unverified,
            size=f.size,
            backoff=backoff,
        )
        record: dict[str, Any] = {
            "name": f.name,
            "sha256": digest.sha256,
            "md5": digest.md5,
            "size": digest.size,
            "checksum_published": f.verified,
        }
        if f.extract:
            record["extracted_to"] = f.extract_to
            record["extracted_files"] = _extract_once(path, digest, raw_dir / f.extract_to)
        records.append(record)

    manual_records = _check_manual(spec, raw_dir) if spec.manual is not None else []
    write_json(
        marker,
        {
            "version": MARKER_VERSION,
            "source": spec.name,
            "title": spec.title,
            "files": records,
            "manual": manual_records,
            "completed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    log.info("%s: raw files complete in %s", spec.name, raw_dir)
    return raw_dir


def is_complete(spec: SourceSpec, raw_dir: str | os.PathLike[str]) -> bool:
    """True when ``raw_dir/.complete`` matches ``spec`` and the files it lists are there.

    A cheap check (names, sizes, registry checksums, presence), not a re-hash.
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
    for f in spec.files:
        rec = by_name[f.name]
        if f.sha256 and rec.get("sha256") != f.sha256:
            return False
        if f.md5 and rec.get("md5") != f.md5:
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
        digest = file_digest(candidate)
        if not digest.matches(f.sha256, f.md5, f.size):
            log.warning("%s does not match the registry checksum; not using it", candidate)
            continue
        with atomic_path(dest) as tmp:
            shutil.copyfile(candidate, tmp)
        log.info("%s: copied the verified local file %s", spec.name, candidate)
        return


def _check_manual(spec: SourceSpec, raw_dir: Path) -> list[dict[str, Any]]:
    assert spec.manual is not None
    missing: list[tuple[ExpectSpec, int | None]] = []
    records: list[dict[str, Any]] = []
    for e in spec.manual.expect:
        if e.path is not None:
            path = raw_dir / e.path
            if not path.exists():
                missing.append((e, None))
                continue
            rec: dict[str, Any] = {"path": e.path}
            if path.is_file():
                digest = file_digest(path)
                if (e.sha256 or e.md5) and not digest.matches(e.sha256, e.md5):
                    raise ChecksumError(
                        f"{path} does not match its published checksum:\n"
                        f"  expected sha256: {e.sha256 or '(not published)'}\n"
                        f"  actual sha256:   {digest.sha256}\n"
                        + (f"  expected md5: {e.md5}; actual md5: {digest.md5}\n" if e.md5 else "")
                        + "Replace it with the file from the source named in the registry "
                        "entry and run again.",
                        url=spec.homepage,
                        path=path,
                        expected_sha256=e.sha256,
                        actual_sha256=digest.sha256,
                        expected_md5=e.md5,
                        actual_md5=digest.md5,
                    )
                rec.update(sha256=digest.sha256, md5=digest.md5, size=digest.size)
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
            _manual_message(spec, raw_dir, missing),
            source=spec.name,
            folder=raw_dir.resolve(),
            missing=[e.label() for e, _ in missing],
        )
    return records


def _manual_message(
    spec: SourceSpec, raw_dir: Path, missing: list[tuple[ExpectSpec, int | None]]
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
    lines += ["", "Then run the same command (or Snakemake rule) again; it continues from there."]
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mmclust.data.download SOURCE RAW_DIR``: fetch one registry entry."""
    parser = argparse.ArgumentParser(
        prog="python -m mmclust.data.download",
        description="Download, verify and unpack the raw files of one data source.",
    )
    parser.add_argument("source", help="registry entry, e.g. mnist, coco2014")
    parser.add_argument("raw_dir", type=Path, help="folder for the raw files")
    parser.add_argument("--allow-unverified", action="store_true",
                        help="download files whose checksum is not published")  # fmt: skip
    parser.add_argument("--registry", type=Path, default=None, help="another registry.yaml")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per network read")
    parser.add_argument("--retries", type=int, default=3, help="attempts per mirror")
    a = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        ensure_source(
            a.source,
            a.raw_dir,
            allow_unverified=a.allow_unverified,
            registry=a.registry,
            progress=not a.no_progress,
            timeout=a.timeout,
            retries=a.retries,
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
