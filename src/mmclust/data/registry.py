"""The raw-file registry: where every paper data set's raw files come from.

The registry is the YAML file ``registry.yaml`` that ships inside this package
(package data); its header documents every field.  This module loads it,
validates every entry and turns it into frozen dataclasses:

* :class:`FileSpec`   one file that can be downloaded (mirror URLs, checksums,
  size, its format, whether to unpack it);
* :class:`ExpectSpec` one file (or a glob pattern with a minimum count) that a
  person has to put in place by hand;
* :class:`ManualSpec` the instructions for those files;
* :class:`SourceSpec` one data source: its files, its manual part, provenance.

``get_source(name)`` is what the download code calls.  A different registry
file (for a test, or a site mirror) can be passed as ``path``.

Choices this module makes:

* Checksums are lower-case hex (sha256: 64 characters, md5: 32, git blob
  sha1: 40); ``null`` means "not published".  An entry may carry several; the
  downloader then checks all of them.  ``git_blob_sha1`` is the id git gives a
  file (sha1 of ``"blob <size>\\0"`` + content): what a public repository that
  holds a data file publishes about it, e.g. the JULE authors' HDF5 files.
* Every downloadable file declares its ``format`` (one of
  :data:`mmclust.data.formats.FORMATS`): a file without a published checksum
  is checked by its content against it before it is trusted, and a checksum
  mismatch is explained by it (an HTML page instead of a zip archive).
* File names and folders in an entry are relative paths without ``..`` and
  without a leading ``/``: nothing in the registry can point outside the raw
  folder of its source.
* Only ``http``, ``https`` and ``file`` URLs are accepted (``file`` for
  site-local mirrors and tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mmclust.data.dataset import DatasetError
from mmclust.data.formats import FORMATS

__all__ = [
    "REGISTRY_VERSION",
    "ExpectSpec",
    "FileSpec",
    "ManualSpec",
    "RegistryError",
    "SourceSpec",
    "get_source",
    "load_registry",
    "parse_source",
    "registry_path",
]

REGISTRY_VERSION = 2

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_URL = re.compile(r"^(https?|file)://\S+$")

_SOURCE_KEYS = {
    "title",
    "homepage",
    "licence",
    "citation",
    "used_by",
    "notes",
    "layout",
    "local_dirs",
    "files",
    "manual",
}
_FILE_KEYS = {
    "name",
    "urls",
    "sha256",
    "md5",
    "git_blob_sha1",
    "size",
    "format",
    "extract",
    "extract_to",
}
_MANUAL_KEYS = {"instructions", "expect"}
_EXPECT_KEYS = {
    "path",
    "glob",
    "min_count",
    "sha256",
    "md5",
    "git_blob_sha1",
    "format",
    "description",
}


class RegistryError(DatasetError):
    """The raw-file registry (``registry.yaml``) has an invalid entry."""


@dataclass(frozen=True)
class FileSpec:
    """One downloadable raw file.

    ``name`` is the file name inside the source's raw folder; ``urls`` are
    mirrors of the same bytes, tried in order; ``format`` is what the file is
    (checked by content when no checksum is published); ``extract`` unpacks
    the file into ``extract_to`` (a folder relative to the raw folder, ``"."``
    = the raw folder itself) after it has been verified.
    """

    name: str
    urls: tuple[str, ...]
    format: str
    sha256: str | None = None
    md5: str | None = None
    git_blob_sha1: str | None = None
    size: int | None = None
    extract: bool = False
    extract_to: str = "."

    @property
    def verified(self) -> bool:
        """True when at least one published checksum is known."""
        return self.sha256 is not None or self.md5 is not None or self.git_blob_sha1 is not None


@dataclass(frozen=True)
class ExpectSpec:
    """A file (``path``) or a set of files (``glob`` with ``min_count``) that
    must be present in the raw folder of a source that needs manual steps."""

    path: str | None = None
    glob: str | None = None
    min_count: int = 1
    sha256: str | None = None
    md5: str | None = None
    git_blob_sha1: str | None = None
    format: str | None = None
    description: str = ""

    def label(self) -> str:
        """How the file(s) are named in messages."""
        if self.path is not None:
            return self.path
        return f"{self.glob} (at least {self.min_count} file{'s' if self.min_count != 1 else ''})"


@dataclass(frozen=True)
class ManualSpec:
    """Files a person must obtain by hand (licence or host forbid automation)."""

    instructions: str
    expect: tuple[ExpectSpec, ...]


@dataclass(frozen=True)
class SourceSpec:
    """One registry entry."""

    name: str
    title: str
    homepage: str = ""
    licence: str = ""
    citation: str = ""
    used_by: tuple[str, ...] = ()
    notes: str = ""
    layout: str = ""
    local_dirs: tuple[str, ...] = ()
    files: tuple[FileSpec, ...] = ()
    manual: ManualSpec | None = None

    @property
    def is_manual(self) -> bool:
        """True when some of the files must be put in place by hand."""
        return self.manual is not None

    def provenance(self) -> dict[str, Any]:
        """The fields a builder copies into a data set's ``meta``."""
        return {
            "source": self.name,
            "title": self.title,
            "url": self.homepage,
            "licence": self.licence,
            "citation": self.citation,
            "files": {
                f.name: {
                    "urls": list(f.urls),
                    "sha256": f.sha256,
                    "md5": f.md5,
                    "git_blob_sha1": f.git_blob_sha1,
                }
                for f in self.files
            },
        }


def registry_path() -> Path:
    """Path of the registry that ships with the package."""
    return Path(str(resources.files("mmclust.data").joinpath("registry.yaml")))


def load_registry(path: str | Path | None = None) -> dict[str, SourceSpec]:
    """Load and validate a registry file (the packaged one by default)."""
    return dict(_load_cached(str(Path(path).resolve()) if path else str(registry_path())))


def get_source(name: str, path: str | Path | None = None) -> SourceSpec:
    """The registry entry ``name``; a :class:`RegistryError` names the known ones."""
    registry = load_registry(path)
    try:
        return registry[name]
    except KeyError:
        raise RegistryError(
            f"no data source {name!r} in the raw-file registry "
            f"{path or registry_path()}; known sources: {sorted(registry)}"
        ) from None


@cache
def _load_cached(path: str) -> dict[str, SourceSpec]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"cannot read the raw-file registry {path}: {exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), dict):
        raise RegistryError(f"{path}: expected a mapping with a 'sources' mapping at the top")
    version = doc.get("version")
    if version != REGISTRY_VERSION:
        raise RegistryError(
            f"{path}: registry version {version!r}; this code reads version {REGISTRY_VERSION}"
        )
    return {name: parse_source(name, entry, where=path) for name, entry in doc["sources"].items()}


# -- validation -----------------------------------------------------------------------------


def parse_source(name: str, entry: Any, where: str = "registry") -> SourceSpec:
    """Validate one registry entry and build its :class:`SourceSpec`."""
    ctx = f"{where}: source {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistryError(
            f"{ctx}: a source name must be lower case letters, digits, '.', '_' or '-'"
        )
    _check_mapping(entry, _SOURCE_KEYS, ctx, "the entry must be a mapping")
    title = _text(entry.get("title"), f"{ctx}: title", required=True)

    files_raw = entry.get("files") or []
    if not isinstance(files_raw, list):
        raise RegistryError(f"{ctx}: 'files' must be a list")
    files = tuple(_parse_file(f, f"{ctx}: files[{i}]") for i, f in enumerate(files_raw))
    names = [f.name for f in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RegistryError(f"{ctx}: file names listed twice: {dupes}")

    manual = None
    if entry.get("manual") is not None:
        manual = _parse_manual(entry["manual"], f"{ctx}: manual")
    if not files and manual is None:
        raise RegistryError(
            f"{ctx}: needs downloadable 'files' (with urls) or 'manual' instructions, or both"
        )

    used_by = entry.get("used_by") or []
    local_dirs = entry.get("local_dirs") or []
    for key, value in (("used_by", used_by), ("local_dirs", local_dirs)):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise RegistryError(f"{ctx}: {key!r} must be a list of non-empty strings")
    for d in local_dirs:
        if not Path(d).is_absolute():
            raise RegistryError(f"{ctx}: local_dirs entries must be absolute paths, got {d!r}")

    return SourceSpec(
        name=name,
        title=title,
        homepage=_text(entry.get("homepage"), f"{ctx}: homepage"),
        licence=_text(entry.get("licence"), f"{ctx}: licence"),
        citation=_text(entry.get("citation"), f"{ctx}: citation"),
        used_by=tuple(used_by),
        notes=_text(entry.get("notes"), f"{ctx}: notes"),
        layout=_text(entry.get("layout"), f"{ctx}: layout"),
        local_dirs=tuple(local_dirs),
        files=files,
        manual=manual,
    )


def _parse_file(raw: Any, ctx: str) -> FileSpec:
    _check_mapping(raw, _FILE_KEYS, ctx, "each file must be a mapping")
    name = _rel_path(raw.get("name"), f"{ctx}: name", single=True)
    urls = raw.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls:
        raise RegistryError(f"{ctx} ({name}): 'urls' must be a non-empty list of mirror URLs")
    for u in urls:
        if not isinstance(u, str) or not _URL.match(u):
            raise RegistryError(f"{ctx} ({name}): {u!r} is not an http(s):// or file:// URL")
    extract = raw.get("extract", False)
    if not isinstance(extract, bool):
        raise RegistryError(f"{ctx} ({name}): 'extract' must be true or false")
    extract_to = raw.get("extract_to", ".")
    if extract_to != ".":
        extract_to = _rel_path(extract_to, f"{ctx} ({name}): extract_to")
    fmt = _format(raw.get("format"), f"{ctx} ({name}): format", required=True)
    assert fmt is not None
    return FileSpec(
        name=name,
        urls=tuple(urls),
        format=fmt,
        sha256=_checksum(raw.get("sha256"), _SHA256, f"{ctx} ({name}): sha256"),
        md5=_checksum(raw.get("md5"), _MD5, f"{ctx} ({name}): md5"),
        git_blob_sha1=_checksum(raw.get("git_blob_sha1"), _SHA1, f"{ctx} ({name}): git_blob_sha1"),
        size=_size(raw.get("size"), f"{ctx} ({name}): size"),
        extract=extract,
        extract_to=extract_to,
    )


def _parse_manual(raw: Any, ctx: str) -> ManualSpec:
    _check_mapping(raw, _MANUAL_KEYS, ctx, "must be a mapping with 'instructions' and 'expect'")
    instructions = _text(raw.get("instructions"), f"{ctx}: instructions", required=True)
    expect_raw = raw.get("expect")
    if not isinstance(expect_raw, list) or not expect_raw:
        raise RegistryError(f"{ctx}: 'expect' must list the files a person has to put in place")
    expect = []
    for i, item in enumerate(expect_raw):
        ictx = f"{ctx}: expect[{i}]"
        if isinstance(item, str):
            item = {"path": item}
        _check_mapping(item, _EXPECT_KEYS, ictx, "must be a file name or a mapping")
        has_path, has_glob = item.get("path") is not None, item.get("glob") is not None
        if has_path == has_glob:
            raise RegistryError(f"{ictx}: give exactly one of 'path' and 'glob'")
        min_count = item.get("min_count", 1)
        if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
            raise RegistryError(f"{ictx}: min_count must be a positive integer")
        if has_glob and any(item.get(k) for k in ("sha256", "md5", "git_blob_sha1", "format")):
            raise RegistryError(
                f"{ictx}: checksums and a format can only be given for a single 'path'"
            )
        expect.append(
            ExpectSpec(
                path=_rel_path(item["path"], f"{ictx}: path") if has_path else None,
                glob=_rel_path(item["glob"], f"{ictx}: glob") if has_glob else None,
                min_count=min_count,
                sha256=_checksum(item.get("sha256"), _SHA256, f"{ictx}: sha256"),
                md5=_checksum(item.get("md5"), _MD5, f"{ictx}: md5"),
                git_blob_sha1=_checksum(item.get("git_blob_sha1"), _SHA1, f"{ictx}: git_blob_sha1"),
                format=_format(item.get("format"), f"{ictx}: format"),
                description=_text(item.get("description"), f"{ictx}: description"),
            )
        )
    return ManualSpec(instructions=instructions.strip(), expect=tuple(expect))


def _check_mapping(raw: Any, allowed: set[str], ctx: str, not_a_mapping: str) -> None:
    """RegistryError unless ``raw`` is a mapping whose fields are all in ``allowed``."""
    if not isinstance(raw, dict):
        raise RegistryError(f"{ctx}: {not_a_mapping}")
    unknown = set(raw) - allowed
    if unknown:
        raise RegistryError(f"{ctx}: unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")


def _text(value: Any, ctx: str, required: bool = False) -> str:
    if value is None:
        if required:
            raise RegistryError(f"{ctx} is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise RegistryError(f"{ctx} must be a non-empty string")
    return value


def _checksum(value: Any, pattern: re.Pattern[str], ctx: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise RegistryError(
            f"{ctx}: {value!r} is not a lower-case hex digest of the right length "
            "(sha256: 64 characters, md5: 32, git_blob_sha1: 40); write null if it is not "
            "published"
        )
    return value


def _format(value: Any, ctx: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if value not in FORMATS:
        raise RegistryError(
            f"{ctx}: {value!r} is not a known format; give one of {', '.join(FORMATS)} "
            "(what the file's bytes are; it is checked by content)"
        )
    return str(value)


def _size(value: Any, ctx: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise RegistryError(f"{ctx}: must be a positive number of bytes or null")
    return value


def _rel_path(value: Any, ctx: str, single: bool = False) -> str:
    """A relative POSIX path that stays inside the raw folder."""
    if not isinstance(value, str) or not value or value != value.strip():
        raise RegistryError(f"{ctx}: must be a non-empty relative path, got {value!r}")
    p = PurePosixPath(value)
    if p.is_absolute() or "\\" in value or ".." in p.parts or value.startswith("~"):
        raise RegistryError(f"{ctx}: {value!r} must be relative and must not contain '..'")
    if single and len(p.parts) != 1:
        raise RegistryError(f"{ctx}: {value!r} must be a bare file name (no folders)")
    if value.startswith(".") and value not in (".",):
        # hidden names are reserved for the downloader's own bookkeeping (.complete, .part)
        raise RegistryError(f"{ctx}: {value!r} must not start with '.'")
    return value
