"""The checksum lock file: sha256 of raw files trusted on first use.

Some raw files (COIL-20, UMist, Roweis' USPS, the Wikipedia archive) have no
published checksum.  The downloader checks such a file by its content
(:mod:`mmclust.data.formats`) when it first downloads it and records what it
got here; from then on the file is verified against this record like a
published checksum, and a later download that differs is an error.

The lock is one YAML file beside the raw folders (``resources/raw/checksums.lock``
in the workflow), shared by every source, so that it can be reviewed, copied
to another machine, or committed::

    version: 1
    sources:
      coil-20:
        coil-20-proc.zip:
          sha256: 5f3c...
          md5: 2b1a...
          size: 13612278
          format: zip
          url: https://cave.cs.columbia.edu/old/databases/...
          recorded: '2026-08-20T10:12:03+0000'

Several download jobs may finish at once: every update re-reads the file
under an exclusive ``flock`` on a companion ``.<name>.mutex`` file and
replaces it atomically, so no entry is lost and no reader sees half a file.
Deleting an entry (or the file) makes the next run trust the file again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from mmclust.data.dataset import DatasetError
from mmclust.io import atomic_open

__all__ = ["LOCK_NAME", "ChecksumLock", "LockEntry", "LockFileError"]

log = logging.getLogger(__name__)

LOCK_NAME = "checksums.lock"
LOCK_VERSION = 1

_HEADER = """\
# Checksums of raw files that have no published checksum, recorded by
# mmclust.data.download when each was first downloaded (trust on first use,
# after a check of the file's content).  Later runs verify the files against
# these entries, like a published checksum.
#
# To pin a file for everyone, copy its sha256 and size into its entry of
# src/mmclust/data/registry.yaml.  If an upstream file really changed, delete
# its entry here and run again.
"""


class LockFileError(DatasetError):
    """The lock file cannot be read or written."""


@dataclass(frozen=True)
class LockEntry:
    """What was recorded for one file of one source."""

    source: str
    file: str
    sha256: str
    md5: str
    size: int
    format: str
    url: str
    recorded: str

    def label(self) -> str:
        """How messages name the entry."""
        return f"{self.source} / {self.file}"


class ChecksumLock:
    """Read and update one lock file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ChecksumLock({str(self.path)!r})"

    def get(self, source: str, file: str) -> LockEntry | None:
        """The entry for ``file`` of ``source``, or None."""
        raw = self._read().get(source, {}).get(file)
        if raw is None:
            return None
        try:
            return LockEntry(
                source=source,
                file=file,
                sha256=str(raw["sha256"]).lower(),
                md5=str(raw.get("md5") or ""),
                size=int(raw["size"]),
                format=str(raw.get("format") or ""),
                url=str(raw.get("url") or ""),
                recorded=str(raw.get("recorded") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LockFileError(
                f"{self.path}: the entry {source} / {file} is incomplete ({exc!r}); delete it "
                "and run again to record the file afresh"
            ) from exc

    def record(
        self, source: str, file: str, *, sha256: str, md5: str, size: int, fmt: str, url: str
    ) -> LockEntry:
        """Add (or replace) the entry for ``file`` of ``source``."""
        entry = LockEntry(
            source=source,
            file=file,
            sha256=sha256,
            md5=md5,
            size=size,
            format=fmt,
            url=url,
            recorded=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        with self._mutex():
            sources = self._read()
            fields = asdict(entry)
            del fields["source"], fields["file"]
            sources.setdefault(source, {})[file] = fields
            self._write(sources)
        return entry

    # -- file access ---------------------------------------------------------------------------

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise LockFileError(f"cannot read the checksum lock file {self.path}: {exc}") from exc
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise LockFileError(
                f"the checksum lock file {self.path} is not valid YAML ({exc}); repair it, or "
                "delete it to record every file without a published checksum afresh"
            ) from exc
        if not isinstance(doc, dict) or doc.get("version", LOCK_VERSION) != LOCK_VERSION:
            raise LockFileError(
                f"{self.path} is not a version-{LOCK_VERSION} checksum lock file; repair or "
                "delete it"
            )
        sources = doc.get("sources") or {}
        if not isinstance(sources, dict) or not all(
            isinstance(v, dict) and all(isinstance(e, dict) for e in v.values())
            for v in sources.values()
        ):
            raise LockFileError(
                f"{self.path}: 'sources' must map each source to its files; repair or delete it"
            )
        return sources

    def _write(self, sources: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ordered = {
            src: {name: dict(sorted(fields.items())) for name, fields in sorted(files.items())}
            for src, files in sorted(sources.items())
        }
        body = yaml.safe_dump(
            {"version": LOCK_VERSION, "sources": ordered}, sort_keys=False, width=100
        )
        with atomic_open(self.path) as fh:
            fh.write(_HEADER + "\n" + body)

    @contextlib.contextmanager
    def _mutex(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mutex = self.path.with_name(f".{self.path.name}.mutex")
        with open(mutex, "a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except OSError as exc:  # a file system without locks: carry on without
                log.debug("cannot lock %s (%s); updating %s without a lock", mutex, exc, self.path)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
