"""Content checks of raw files (mmclust.data.formats) on tiny files built in the real formats."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from mmclust.data.formats import FORMATS, FormatError, check_format, describe, looks_like_html

# -- builders ----------------------------------------------------------------------------------

TEXT = ("1 1:-0.5 2:0.25 3:1\n" * 200).encode()


def make_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("coil-20-proc/obj1__0.png", make_png())
        zf.writestr("coil-20-proc/obj1__1.png", make_png(7))
    return buf.getvalue()


def make_tar(mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in (("annotations/a.json", b'{"images": []}' * 100), ("b.txt", TEXT)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_idx(n: int = 30) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return struct.pack(">IIII", 0x803, n, 28, 28) + pixels.tobytes()


def make_mat5(compress: bool = False) -> bytes:
    buf = io.BytesIO()
    data = {"data": np.arange(256 * 20, dtype=np.uint8).reshape(256, 20), "name": "usps"}
    scipy.io.savemat(buf, data, do_compression=compress)
    return buf.getvalue()


def make_hdf5(userblock: int = 0, libver: str = "earliest") -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w", userblock_size=userblock, libver=libver) as f:
        f["data"] = np.arange(4 * 3 * 8 * 8, dtype=np.float32).reshape(4, 3, 8, 8)
        f["labels"] = np.array([0, 1, 0, 1])
    return buf.getvalue()


def make_mat73() -> bytes:
    """An HDF5 file behind MATLAB's 512-byte header, as MATLAB writes -v7.3 files."""
    raw = bytearray(make_hdf5(userblock=512))
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5"
    raw[: len(header)] = header
    return bytes(raw)


def make_png(value: int = 3) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def make_jpeg() -> bytes:
    buf = io.BytesIO()
    rgb = np.random.default_rng(1).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(buf, format="JPEG")
    return buf.getvalue()


HTML = (
    b"\n  <!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    b"<body><h1>Not Found</h1></body></html>\n"
)

BUILDERS: dict[str, Callable[[], bytes]] = {
    "zip": make_zip,
    "tar": make_tar,
    "tar.gz": lambda: make_tar("w:gz"),
    "tar.bz2": lambda: make_tar("w:bz2"),
    "tar.xz": lambda: make_tar("w:xz"),
    "gz": lambda: gzip.compress(TEXT, mtime=0),
    "bz2": lambda: bz2.compress(TEXT),
    "xz": lambda: lzma.compress(TEXT),
    "idx": make_idx,
    "idx.gz": lambda: gzip.compress(make_idx(), mtime=0),
    "mat5": make_mat5,
    "hdf5": make_hdf5,
    "mat73": make_mat73,
    "jpeg": make_jpeg,
    "png": make_png,
    "text": lambda: TEXT,
    "html": lambda: HTML,
}
# formats whose deep check notices a missing end
TRUNCATION_DETECTED = sorted(set(FORMATS) - {"text", "html"})


def write(tmp_path: Path, data: bytes, name: str = "file") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- tests -------------------------------------------------------------------------------------


def test_every_format_has_a_builder() -> None:
    assert set(BUILDERS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_real_file_passes(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path, BUILDERS[fmt]())
    check_format(path, fmt, deep=True)
    check_format(path, fmt, deep=False)


@pytest.mark.parametrize(
    ("maker", "fmt"),
    [
        (lambda: make_mat5(compress=True), "mat5"),
        (lambda: make_hdf5(libver="latest"), "hdf5"),  # superblock version 3
        (lambda: make_hdf5(userblock=512), "hdf5"),  # signature at 512
        (make_mat73, "hdf5"),  # a MATLAB v7.3 file is an HDF5 file
        (lambda: struct.pack(">II", 0x801, 3) + b"\x01\x02\x03", "idx"),  # MNIST labels
    ],
)
def test_variants_pass(tmp_path: Path, maker: Callable[[], bytes], fmt: str) -> None:
    check_format(write(tmp_path, maker()), fmt, deep=True)


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"html"}))
def test_html_page_is_never_taken_for_a_file(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path, HTML)
    with pytest.raises(FormatError) as info:
        check_format(path, fmt)
    msg = str(info.value)
    assert msg.startswith(
        "the server returned an HTML page (probably a moved or error page) instead of "
        + FORMATS[fmt]
    )
    assert "'404 Not Found'" in msg


@pytest.mark.parametrize("fmt", TRUNCATION_DETECTED)
def test_truncated_file_fails_the_deep_check(tmp_path: Path, fmt: str) -> None:
    data = BUILDERS[fmt]()
    keep = max(len(data) * 2 // 3, 600 if fmt not in ("png", "jpeg", "idx") else 16)
    keep = min(keep, len(data) - 13)  # at least past PNG's IEND chunk
    path = write(tmp_path, data[:keep])
    with pytest.raises(FormatError, match=r"truncated|damaged|promises|unpacked|does not end"):
        check_format(path, fmt, deep=True)


@pytest.mark.parametrize("fmt", ["zip", "mat5", "hdf5", "idx", "png", "gz"])
def test_shallow_check_reads_only_the_start(tmp_path: Path, fmt: str) -> None:
    data = BUILDERS[fmt]()
    path = write(tmp_path, data[: len(data) * 2 // 3])
    check_format(path, fmt, deep=False)  # the magic is right; completeness is not looked at


@pytest.mark.parametrize(
    ("given", "expected", "named"),
    [
        ("zip", "tar.gz", "a zip archive"),
        ("tar.gz", "zip", "a gzip stream"),
        ("gz", "tar.gz", "not a tar archive"),
        ("idx", "idx.gz", "an IDX file"),
        ("gz", "idx.gz", "not IDX"),
        ("hdf5", "mat5", "an HDF5 file"),
        ("hdf5", "mat73", "an HDF5 file"),
        ("mat5", "hdf5", "a MATLAB 5.0 MAT-file"),
        ("png", "jpeg", "a PNG image"),
        ("jpeg", "png", "a JPEG image"),
        ("text", "zip", "text starting '1 1:-0.5"),
        ("zip", "text", "NUL bytes"),
        ("bz2", "xz", "a bzip2 stream"),
        ("xz", "bz2", "an xz stream"),
        ("tar", "html", "a tar archive"),
    ],
)
def test_wrong_format_names_what_it_is(
    tmp_path: Path, given: str, expected: str, named: str
) -> None:
    path = write(tmp_path, BUILDERS[given]())
    with pytest.raises(FormatError, match=named):
        check_format(path, expected)


def test_damaged_zip_member_fails_its_crc(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.txt", b"A" * 1000)
    data = bytearray(buf.getvalue())
    data[data.index(b"A" * 10) + 5] = ord("B")  # one byte of the stored member
    with pytest.raises(FormatError, match=r"'a\.txt' fails its CRC"):
        check_format(write(tmp_path, bytes(data)), "zip")


def test_idx_longer_than_its_header(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="longer than its header says"):
        check_format(write(tmp_path, make_idx() + b"\0"), "idx")


def test_empty_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="empty"):
        check_format(write(tmp_path, b""), "zip")
    with pytest.raises(FormatError, match="unknown format"):
        check_format(write(tmp_path, b"x"), "rar")
    assert describe(b"\x01\x02\x03\x00\xff") == "unrecognised binary data (first bytes 01020300ff)"


def test_saved_page_without_doctype_is_html(tmp_path: Path) -> None:
    page = b"<head><title>Pascal Sentences</title></head>\n<table><tr><td><img src=a/1.jpg>"
    check_format(write(tmp_path, page), "html")
    assert not looks_like_html(page)  # but it is no error page standing in for a file


def test_html_detection() -> None:
    assert looks_like_html(b"\xef\xbb\xbf<!doctype HTML><p>")
    assert looks_like_html(b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">')
    assert looks_like_html(b"<!-- moved -->\n<HTML><BODY>")
    assert not looks_like_html(b"<?xml version='1.0'?><doc/>")  # an XML text is no page
    assert not looks_like_html(TEXT)
    assert not looks_like_html(make_zip())
