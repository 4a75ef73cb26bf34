"""What a raw file is, told from its bytes: magic numbers and completeness checks.

A download without a published checksum can only be judged by its content
(``download.py`` trusts it on first use and records its sha256).  This module
checks that a file is of the format the registry declares (``format:`` of a
registry file) and, with ``deep=True``, that it is complete:

=========  ===========================================  =================================
format     magic (start of the file)                    deep check (truncation, damage)
=========  ===========================================  =================================
zip        ``PK\\x03\\x04`` (``PK\\x05\\x06`` if empty)    central directory readable, every
                                                        member's CRC (``testzip``)
tar        ``ustar`` at offset 257                      every member's data inside the file,
                                                        then the two zero end blocks
tar.gz     gzip magic, ``ustar`` at 257 once unpacked   the whole stream unpacks (CRC and
tar.bz2    bzip2 magic, likewise                        length trailer), then as ``tar``
tar.xz     xz magic, likewise
gz         ``\\x1f\\x8b``                                the whole stream unpacks
bz2        ``BZh``                                      likewise
xz         ``\\xfd7zXZ\\x00``                             likewise
idx        bytes 0, 1 = 0, 2 = type code, 3 = number    size = header + product of the
           of dimensions (MNIST's IDX)                  dimensions x item size
idx.gz     gzip magic, IDX header once unpacked         the same on the unpacked bytes
mat5       ``MATLAB 5.0 MAT-file`` text header,         the data elements add up to the
           version 0x0100, ``IM``/``MI`` at 126         file size (none runs past its end)
hdf5       ``\\x89HDF\\r\\n\\x1a\\n`` at offset 0, 512,      the file reaches the superblock's
           1024 or 2048 (MATLAB v7.3 files: 512)        end-of-file address
mat73      ``MATLAB 7.3 MAT-file`` text header and      as hdf5
           the HDF5 signature at 512
jpeg       ``\\xff\\xd8\\xff``                             ends with the end-of-image marker
png        ``\\x89PNG\\r\\n\\x1a\\n``                        ends with the ``IEND`` chunk
text       no NUL byte, valid UTF-8 at the start        no NUL byte anywhere
html       ``<!DOCTYPE html`` or ``<html`` (a saved     (none)
           page: text with ``<head``, ``<body`` or
           ``<table`` markup)
=========  ===========================================  =================================

An HTML page is never taken for any other format: servers answer a moved or
missing file with a page and status 200 more often than with an error, so
``check_format`` says so in words ("the server returned an HTML page
(probably a moved or error page) instead of a zip archive") and names the
page's title.  Deep checks read the whole file (and unpack compressed
streams without writing anything); they run once, when a file without a
published checksum is first downloaded.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FORMATS",
    "FormatError",
    "check_format",
    "describe",
    "looks_like_html",
]

_HEAD = 64 * 1024
_CHUNK = 1 << 20

#: every value the registry's ``format:`` field accepts, with how messages name it
FORMATS: dict[str, str] = {
    "zip": "a zip archive",
    "tar": "a tar archive",
    "tar.gz": "a gzip-compressed tar archive",
    "tar.bz2": "a bzip2-compressed tar archive",
    "tar.xz": "an xz-compressed tar archive",
    "gz": "a gzip-compressed file",
    "bz2": "a bzip2-compressed file",
    "xz": "an xz-compressed file",
    "idx": "an IDX file (MNIST format)",
    "idx.gz": "a gzip-compressed IDX file (MNIST format)",
    "mat5": "a MATLAB 5.0 MAT-file",
    "hdf5": "an HDF5 file",
    "mat73": "a MATLAB 7.3 MAT-file (HDF5)",
    "jpeg": "a JPEG image",
    "png": "a PNG image",
    "text": "a plain text file",
    "html": "an HTML page",
}

_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_HDF5 = b"\x89HDF\r\n\x1a\n"
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_JPEG = b"\xff\xd8\xff"
_MAT5 = b"MATLAB 5.0 MAT-file"
_MAT73 = b"MATLAB 7.3 MAT-file"
# IDX type codes and their item sizes (unsigned/signed byte, short, int, float, double)
_IDX_TYPES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}
_MI_COMPRESSED = 15


class FormatError(ValueError):
    """A file is not of the expected format, or is incomplete."""


# -- public -----------------------------------------------------------------------------------


def looks_like_html(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) is an HTML page."""
    text = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return True
    # an XML prolog or a comment before the page
    if text.startswith((b"<?xml", b"<!--")) and b"<html" in text:
        return True
    return False


def describe(head: bytes) -> str:
    """What ``head`` (the first bytes of a file) looks like, for messages."""
    if not head:
        return "an empty file"
    if looks_like_html(head):
        title = _html_title(head)
        return "an HTML page" + (f" titled {title!r}" if title else "")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return FORMATS["zip"]
    if len(head) >= 262 and head[257:262] == b"ustar":
        return FORMATS["tar"]
    if head.startswith(_GZIP):
        return "a gzip stream"
    if head.startswith(_BZIP2):
        return "a bzip2 stream"
    if head.startswith(_XZ):
        return "an xz stream"
    if head.startswith(_MAT5):
        return FORMATS["mat5"]
    if head.startswith(_MAT73):
        return FORMATS["mat73"]
    if _hdf5_offset(head) is not None:
        return FORMATS["hdf5"]
    if head.startswith(_PNG):
        return FORMATS["png"]
    if head.startswith(_JPEG):
        return FORMATS["jpeg"]
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if _idx_header(head) is not None:
        return "an IDX file"
    if b"\0" not in head[:4096]:
        snippet = head[:60].decode("utf-8", "replace").strip().splitlines()
        return f"text starting {snippet[0][:60]!r}" if snippet else "blank text"
    return f"unrecognised binary data (first bytes {head[:8].hex()})"


def check_format(path: str | os.PathLike[str], fmt: str, *, deep: bool = True) -> None:
    """Raise :class:`FormatError` unless ``path`` is a file of format ``fmt``.

    ``deep`` also checks that the file is complete (see the module docstring);
    without it only the first bytes are read.
    """
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    want = FORMATS[fmt]
    if fmt != "html" and looks_like_html(head):
        title = _html_title(head)
        raise FormatError(
            "the server returned an HTML page (probably a moved or error page) instead of "
            f"{want}" + (f"; the page's title is {title!r}" if title else "")
        )
    if not head:
        raise FormatError(f"the file is empty instead of {want}")
    _MAGIC[fmt](path, head, size, deep)


# -- per format -------------------------------------------------------------------------------


def _wrong(head: bytes, want: str, detail: str = "") -> FormatError:
    extra = f" ({detail})" if detail else ""
    return FormatError(f"expected {want}, but the file is {describe(head)}{extra}")


def _check_zip(path: Path, head: bytes, size: int, deep: bool) -> None:
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06")):
        raise _wrong(head, FORMATS["zip"])
    if not deep:
        return
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as exc:
        raise FormatError(f"the zip archive is truncated or damaged ({exc})") from exc
    if bad is not None:
        raise FormatError(f"the zip archive is damaged: member {bad!r} fails its CRC check")


def _check_tar(path: Path, head: bytes, size: int, deep: bool) -> None:
    if head[257:262] != b"ustar":
        raise _wrong(head, FORMATS["tar"], "no 'ustar' marker at byte 257")
    if deep:
        _tar_members_fit(path, "r:", size)


def _compressed_tar(kind: str) -> Callable[[Path, bytes, int, bool], None]:
    magic, opener = _STREAMS[kind]
    want = FORMATS[f"tar.{kind}"]

    def check(path: Path, head: bytes, size: int, deep: bool) -> None:
        if not head.startswith(magic):
            raise _wrong(head, want)
        inner = _unpacked_head(path, opener, 512)
        if inner[257:262] != b"ustar":
            raise FormatError(f"expected {want}, but the unpacked stream is not a tar archive")
        if deep:
            total = _unpack_all(path, opener, kind)
            _tar_members_fit(path, f"r:{kind}", total)

    return check


def _compressed(kind: str) -> Callable[[Path, bytes, int, bool], None]:
    magic, opener = _STREAMS[kind]
    want = FORMATS[kind]

    def check(path: Path, head: bytes, size: int, deep: bool) -> None:
        if not head.startswith(magic):
            raise _wrong(head, want)
        if deep:
            _unpack_all(path, opener, kind)

    return check


def _check_idx(path: Path, head: bytes, size: int, deep: bool) -> None:
    expected = _idx_header(head)
    if expected is None:
        raise _wrong(head, FORMATS["idx"], "no IDX header: 0, 0, type code, dimensions")
    if deep and size != expected:
        raise FormatError(
            f"the IDX file has {size} bytes but its header promises {expected}: it is "
            f"{'truncated' if size < expected else 'longer than its header says'}"
        )


def _check_idx_gz(path: Path, head: bytes, size: int, deep: bool) -> None:
    if not head.startswith(_GZIP):
        raise _wrong(head, FORMATS["idx.gz"])
    inner = _unpacked_head(path, gzip.open, 4 + 4 * 255)
    expected = _idx_header(inner)
    if expected is None:
        raise FormatError(f"expected {FORMATS['idx.gz']}, but the unpacked data is not IDX")
    if deep:
        total = _unpack_all(path, gzip.open, "gz")
        if total != expected:
            raise FormatError(
                f"the unpacked IDX data has {total} bytes but its header promises {expected}"
            )


def _check_mat5(path: Path, head: bytes, size: int, deep: bool) -> None:
    if not head.startswith(_MAT5):
        raise _wrong(head, FORMATS["mat5"])
    if len(head) < 128 or head[126:128] not in (b"IM", b"MI"):
        raise FormatError("the MAT-file header is incomplete (no endian indicator at byte 126)")
    endian = "<" if head[126:128] == b"IM" else ">"
    (version,) = struct.unpack(endian + "H", head[124:126])
    if version != 0x0100:
        raise FormatError(f"unknown MAT-file version 0x{version:04x} (expected 0x0100)")
    if not deep:
        return
    with open(path, "rb") as fh:
        pos = 128
        while pos + 8 <= size:
            fh.seek(pos)
            mtype, nbytes = struct.unpack(endian + "II", fh.read(8))
            if mtype >> 16:  # small data element: type, size and data in 8 bytes
                pos += 8
                continue
            end = pos + 8 + nbytes
            if end > size:
                raise FormatError(
                    f"the MAT-file is truncated: the data element at byte {pos} needs "
                    f"{end} bytes but the file has {size}"
                )
            pos = end if mtype == _MI_COMPRESSED else (end + 7) // 8 * 8


def _check_hdf5(path: Path, head: bytes, size: int, deep: bool) -> None:
    offset = _hdf5_offset(head)
    if offset is None:
        raise _wrong(head, FORMATS["hdf5"], "no HDF5 signature at byte 0, 512, 1024 or 2048")
    if deep:
        _hdf5_complete(head, offset, size)


def _check_mat73(path: Path, head: bytes, size: int, deep: bool) -> None:
    if not head.startswith(_MAT73) or head[512:520] != _HDF5:
        raise _wrong(head, FORMATS["mat73"], "no 'MATLAB 7.3' header with HDF5 at byte 512")
    if deep:
        _hdf5_complete(head, 512, size)


def _check_jpeg(path: Path, head: bytes, size: int, deep: bool) -> None:
    if not head.startswith(_JPEG):
        raise _wrong(head, FORMATS["jpeg"])
    if deep and not _tail(path, size, 1024).rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
        raise FormatError("the JPEG image is truncated (it does not end with the EOI marker)")


def _check_png(path: Path, head: bytes, size: int, deep: bool) -> None:
    if not head.startswith(_PNG):
        raise _wrong(head, FORMATS["png"])
    if deep and not _tail(path, size, len(_PNG_END)).endswith(_PNG_END):
        raise FormatError("the PNG image is truncated (it does not end with the IEND chunk)")


def _check_text(path: Path, head: bytes, size: int, deep: bool) -> None:
    if b"\0" in head:
        raise _wrong(head, FORMATS["text"], "it holds NUL bytes")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the block
            raise _wrong(head, FORMATS["text"], "not UTF-8") from exc
    if deep:
        with open(path, "rb") as fh:
            while buf := fh.read(_CHUNK):
                if b"\0" in buf:
                    raise FormatError("expected a plain text file, but it holds NUL bytes")


def _check_html(path: Path, head: bytes, size: int, deep: bool) -> None:
    # a saved page need not start with its doctype: any markup of a page will do
    lower = head.lower()
    markup = any(tag in lower for tag in (b"<html", b"<head", b"<body", b"<table"))
    if not looks_like_html(head) and (b"\0" in head or not markup):
        raise _wrong(head, FORMATS["html"])


# -- helpers ----------------------------------------------------------------------------------

_STREAMS: dict[str, tuple[bytes, Callable[..., IO[bytes]]]] = {
    "gz": (_GZIP, gzip.open),
    "bz2": (_BZIP2, bz2.open),
    "xz": (_XZ, lzma.open),
}


def _unpacked_head(path: Path, opener: Callable[..., IO[bytes]], n: int) -> bytes:
    try:
        with opener(path, "rb") as fh:
            return fh.read(n)
    except EOFError as exc:
        raise FormatError(f"the compressed stream is truncated ({exc})") from exc
    except (OSError, lzma.LZMAError, zlib.error) as exc:
        raise FormatError(f"the compressed stream cannot be read ({exc})") from exc


def _unpack_all(path: Path, opener: Callable[..., IO[bytes]], kind: str) -> int:
    """Unpack the whole stream (nothing is written); its unpacked size."""
    total = 0
    try:
        with opener(path, "rb") as fh:
            while buf := fh.read(_CHUNK):
                total += len(buf)
    except EOFError as exc:
        raise FormatError(f"the {kind} stream is truncated ({exc})") from exc
    except (OSError, lzma.LZMAError, zlib.error) as exc:
        raise FormatError(f"the {kind} stream is damaged ({exc})") from exc
    return total


def _tar_members_fit(path: Path, mode: str, total: int) -> None:
    try:
        with tarfile.open(path, mode) as tf:  # type: ignore[call-overload]
            members = tf.getmembers()
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise FormatError(f"the tar archive is truncated or damaged ({exc})") from exc
    end = 0
    for m in members:
        if m.isfile() and m.offset_data + m.size > total:
            raise FormatError(f"the tar archive is truncated inside member {m.name!r}")
        end = max(end, m.offset_data + (m.size + 511) // 512 * 512)
    if total < end + 1024:  # every tar writer ends the archive with two zero blocks
        raise FormatError("the tar archive is truncated (no end-of-archive marker)")


def _idx_header(head: bytes) -> int | None:
    """The total size an IDX header promises, or None when ``head`` is not IDX."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
        return None
    ndim = head[3]
    if not 1 <= ndim <= 8 or len(head) < 4 + 4 * ndim:
        return None
    dims = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    count = 1
    for d in dims:
        count *= d
    return 4 + 4 * ndim + count * _IDX_TYPES[head[2]]


def _hdf5_offset(head: bytes) -> int | None:
    for offset in (0, 512, 1024, 2048):
        if head[offset : offset + 8] == _HDF5:
            return offset
    return None


def _hdf5_complete(head: bytes, offset: int, size: int) -> None:
    """FormatError when the file ends before the superblock's end-of-file address."""
    sb = head[offset:]
    if len(sb) < 16:
        raise FormatError("the HDF5 file is truncated inside its superblock")
    version = sb[8]
    if version in (0, 1):
        width = sb[13]
        start = 24 + (4 if version == 1 else 0)
        index = 2  # base address, free-space address, end-of-file address
    elif version in (2, 3):
        width = sb[9]
        start = 12
        index = 2  # base address, superblock extension address, end-of-file address
    else:
        return  # a superblock version this check does not know: the magic has to do
    if width not in (2, 4, 8):
        raise FormatError(f"the HDF5 superblock is damaged (offset size {width})")
    pos = start + index * width
    if len(sb) < pos + width:
        raise FormatError("the HDF5 file is truncated inside its superblock")
    eof = int.from_bytes(sb[pos : pos + width], "little")
    # the library stores the end of file as an absolute address (user block included)
    if eof != (1 << (8 * width)) - 1 and size < eof:
        raise FormatError(
            f"the HDF5 file is truncated: it has {size} bytes, its superblock says {eof}"
        )


def _tail(path: Path, size: int, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(max(0, size - n))
        return fh.read(n)


def _html_title(head: bytes) -> str:
    m = re.search(rb"<title[^>]*>(.*?)</title>", head[:_HEAD], flags=re.I | re.S)
    if not m:
        return ""
    return " ".join(m.group(1).decode("utf-8", "replace").split())[:80]


_MAGIC: dict[str, Callable[[Path, bytes, int, bool], Any]] = {
    "zip": _check_zip,
    "tar": _check_tar,
    "tar.gz": _compressed_tar("gz"),
    "tar.bz2": _compressed_tar("bz2"),
    "tar.xz": _compressed_tar("xz"),
    "gz": _compressed("gz"),
    "bz2": _compressed("bz2"),
    "xz": _compressed("xz"),
    "idx": _check_idx,
    "idx.gz": _check_idx_gz,
    "mat5": _check_mat5,
    "hdf5": _check_hdf5,
    "mat73": _check_mat73,
    "jpeg": _check_jpeg,
    "png": _check_png,
    "text": _check_text,
    "html": _check_html,
}
