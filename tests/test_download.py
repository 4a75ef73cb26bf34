"""Checksummed, resumable downloads, trust on first use, mirrors, safe extraction and
the raw-file registry.

All traffic goes to a server on 127.0.0.1 that the tests start (tests/fixtures_http.py),
serving archives the tests build in the real formats: IDX in .gz, a COIL-style zip of
PNG images, a COCO-style tar.gz of annotation JSON, a USPS-style .bz2, MAT-files and
HDF5 files.  (The content checks of every format are in tests/test_formats.py.)
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import re
import stat
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import yaml
from PIL import Image

from mmclust.data.download import (
    MARKER,
    ChecksumError,
    DownloadError,
    LockMismatchError,
    ManualDownloadRequired,
    ensure_source,
    extract,
    fetch,
    file_digest,
    is_complete,
    main,
    mirror_url,
)
from mmclust.data.lockfile import LOCK_NAME, ChecksumLock, LockFileError
from mmclust.data.registry import (
    RegistryError,
    SourceSpec,
    get_source,
    load_registry,
    parse_source,
    registry_path,
)
from tests.fixtures_http import FileServer
from tests.helpers import REPO, snakemake

FAST = {"timeout": 5, "progress": False, "backoff": 0.0}
CHUNK = 16 * 1024


@pytest.fixture
def server(request: pytest.FixtureRequest) -> FileServer:
    srv = FileServer().start()
    request.addfinalizer(srv.stop)
    return srv


# -- fixtures in the real formats -----------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def idx_gz(n: int = 300, seed: int = 0) -> bytes:
    """An MNIST-style IDX3 image file (magic 0x803), gzip-compressed (~230 KB)."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    raw = struct.pack(">IIII", 0x00000803, n, 28, 28) + pixels.tobytes()
    return gzip.compress(raw, compresslevel=1, mtime=0)


def png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def coil_zip(n_obj: int = 2, n_pose: int = 3) -> bytes:
    """A COIL-20-style zip: coil-20-proc/obj<k>__<pose>.png."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("coil-20-proc/", b"")
        for k in range(1, n_obj + 1):
            for p in range(n_pose):
                zf.writestr(f"coil-20-proc/obj{k}__{p}.png", png(10 * k + p))
    return buf.getvalue()


def coco_tar_gz() -> bytes:
    """A COCO-style annotations archive (captions and instances JSON) as tar.gz."""
    captions = {
        "images": [{"id": 9, "file_name": "COCO_train2014_000000000009.jpg"}],
        "annotations": [{"id": 1, "image_id": 9, "caption": "A plate of food."}],
    }
    instances = {
        "images": captions["images"],
        "annotations": [{"id": 2, "image_id": 9, "category_id": 59, "bbox": [0, 0, 1, 1]}],
        "categories": [{"id": 59, "name": "pizza", "supercategory": "food"}],
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, obj in (
            ("annotations/captions_train2014.json", captions),
            ("annotations/instances_train2014.json", instances),
        ):
            data = json.dumps(obj).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def mat5(n: int = 40) -> bytes:
    """A MATLAB 5.0 MAT-file (uncompressed), as scipy writes it."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"data": np.arange(n * 16, dtype=np.uint8).reshape(16, n)})
    return buf.getvalue()


def hdf5(n: int = 6) -> bytes:
    """A JULE-style HDF5 file: data (N x 1 x 4 x 4) and labels."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f["data"] = np.arange(n * 16, dtype=np.float32).reshape(n, 1, 4, 4)
        f["labels"] = np.arange(n) % 2
    return buf.getvalue()


HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Page Not Found | CAVE</title></head>"
    b"<body><p>The page you requested has moved.</p></body></html>\n"
)


def spec(name: str, **entry: object) -> SourceSpec:
    entry.setdefault("title", f"test source {name}")
    return parse_source(name, entry, where="test")


# -- fetch ----------------------------------------------------------------------------------


def test_fetch_verifies_and_renames(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz()
    url = server.add("/t10k-images-idx3-ubyte.gz", data)
    dest = tmp_path / "t10k-images-idx3-ubyte.gz"
    assert fetch(url, dest, sha(data), md5(data), chunk=CHUNK, **FAST) == dest
    assert dest.read_bytes() == data
    assert not dest.with_name(dest.name + ".part").exists()
    # present and matching: nothing is downloaded again
    fetch(url, dest, sha(data), **FAST)
    assert len(server.ranges("/t10k-images-idx3-ubyte.gz")) == 1
    # the payload is a real IDX file
    raw = gzip.decompress(dest.read_bytes())
    assert struct.unpack(">IIII", raw[:16]) == (0x803, 300, 28, 28)


def test_wrong_checksum_leaves_nothing(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz()
    url = server.add("/a.gz", data)
    dest = tmp_path / "a.gz"
    wrong = sha(b"something else")
    with pytest.raises(ChecksumError) as info:
        fetch(url, dest, wrong, **FAST)
    msg = str(info.value)
    assert wrong in msg and sha(data) in msg and url in msg
    assert "removed" in msg
    assert info.value.expected_sha256 == wrong and info.value.actual_sha256 == sha(data)
    assert not dest.exists()
    assert not dest.with_name("a.gz.part").exists()


def test_wrong_md5_only(server: FileServer, tmp_path: Path) -> None:
    data = bz2.compress(b"1 1:-1 2:0.5\n" * 50)
    url = server.add("/usps.bz2", data)
    dest = tmp_path / "usps.bz2"
    with pytest.raises(ChecksumError) as info:
        fetch(url, dest, None, md5(b"x"), **FAST)
    assert md5(b"x") in str(info.value) and md5(data) in str(info.value)
    assert sha(data) in str(info.value)
    assert not dest.exists()
    fetch(url, dest, None, md5(data), **FAST)
    assert dest.read_bytes() == data


def test_truncated_transfer_errors_then_resumes(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz()
    cut = 50_000
    url = server.add("/train.gz", data, cut_after=cut, cut_times=1)
    dest = tmp_path / "train.gz"
    part = tmp_path / "train.gz.part"
    with pytest.raises(DownloadError) as info:
        fetch(url, dest, sha(data), retries=1, chunk=CHUNK, **FAST)
    assert not isinstance(info.value, ChecksumError)
    assert "resume" in str(info.value)
    assert not dest.exists()
    assert part.stat().st_size == cut
    # a later call resumes from the partial file
    fetch(url, dest, sha(data), chunk=CHUNK, **FAST)
    assert server.ranges("/train.gz") == [None, f"bytes={cut}-"]
    assert file_digest(dest).sha256 == sha(data)
    assert not part.exists()


def test_interrupted_transfer_resumes_within_one_call(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz(seed=1)
    url = server.add("/x.gz", data, cut_after=70_000, cut_times=2)
    dest = tmp_path / "x.gz"
    fetch(url, dest, sha(data), retries=3, chunk=CHUNK, **FAST)
    assert server.ranges("/x.gz") == [None, "bytes=70000-", "bytes=140000-"]
    assert sha(dest.read_bytes()) == sha(data)


def test_server_ignoring_range_restarts(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz(seed=2)
    url = server.add("/y.gz", data, ignore_range=True)
    dest = tmp_path / "y.gz"
    (tmp_path / "y.gz.part").write_bytes(data[:12_345])
    fetch(url, dest, sha(data), chunk=CHUNK, **FAST)
    assert server.ranges("/y.gz") == ["bytes=12345-"]  # asked for a range, got 200
    assert dest.read_bytes() == data


def test_range_not_satisfiable_means_complete(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz(seed=3)
    url = server.add("/z.gz", data)
    dest = tmp_path / "z.gz"
    (tmp_path / "z.gz.part").write_bytes(data)  # fully downloaded, not yet verified
    fetch(url, dest, sha(data), **FAST)
    assert server.ranges("/z.gz") == [f"bytes={len(data)}-"]  # answered 416
    assert dest.read_bytes() == data


def test_stale_partial_file_is_redownloaded(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz(seed=4)
    url = server.add("/s.gz", data)
    dest = tmp_path / "s.gz"
    (tmp_path / "s.gz.part").write_bytes(b"\0" * 1000)  # from another version of the file
    fetch(url, dest, sha(data), **FAST)
    assert server.ranges("/s.gz") == ["bytes=1000-", None]
    assert dest.read_bytes() == data


def test_mirror_fallback(server: FileServer, tmp_path: Path) -> None:
    data = coil_zip()
    dead = server.add("/dead/coil-20-proc.zip", status=404)
    flaky = server.add("/flaky/coil-20-proc.zip", status=503)
    good = server.add("/good/coil-20-proc.zip", data)
    dest = tmp_path / "coil-20-proc.zip"
    fetch([dead, flaky, good], dest, sha(data), retries=2, **FAST)
    assert dest.read_bytes() == data
    assert len(server.ranges("/dead/coil-20-proc.zip")) == 1  # 404: not retried
    assert len(server.ranges("/flaky/coil-20-proc.zip")) == 2  # 503: retried


def test_all_mirrors_fail(server: FileServer, tmp_path: Path) -> None:
    a = server.add("/a/f.zip", status=404)
    b = server.add("/b/f.zip", status=403)
    with pytest.raises(DownloadError) as info:
        fetch([a, b], tmp_path / "f.zip", sha(b"x"), **FAST)
    msg = str(info.value)
    assert a in msg and b in msg and "404" in msg and "403" in msg
    assert not (tmp_path / "f.zip").exists()


def test_read_timeout_is_bounded(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz(seed=5)
    url = server.add("/slow.gz", data, cut_after=1000, cut_times=1, stall=1.5)
    with pytest.raises(DownloadError):
        fetch(url, tmp_path / "slow.gz", sha(data), retries=1, timeout=0.3, progress=False)
    assert (tmp_path / "slow.gz.part").stat().st_size == 1000
    assert not (tmp_path / "slow.gz").exists()


def test_strict_mode_refuses_unpublished(server: FileServer, tmp_path: Path) -> None:
    data = mat5()
    url = server.add("/umist_cropped.mat", data)
    dest = tmp_path / "umist_cropped.mat"
    lock = ChecksumLock(tmp_path / LOCK_NAME)
    with pytest.raises(DownloadError, match="no published checksum, and strict mode") as info:
        fetch(url, dest, fmt="mat5", lock=lock, source="umist", require_published_checksum=True,
              **FAST)  # fmt: skip
    assert "require_published_checksum" in str(info.value)
    assert not dest.exists() and server.requests == []
    # without strict mode it is trusted on first use and recorded
    fetch(url, dest, fmt="mat5", lock=lock, source="umist", **FAST)
    assert dest.read_bytes() == data
    assert lock.get("umist", dest.name).sha256 == sha(data)  # type: ignore[union-attr]
    # a lock entry is no published checksum: strict mode still refuses
    with pytest.raises(DownloadError, match="strict mode"):
        fetch(url, dest, fmt="mat5", lock=lock, source="umist", require_published_checksum=True,
              **FAST)  # fmt: skip


def test_existing_mismatching_file_is_replaced(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz(seed=6)
    url = server.add("/m.gz", data)
    dest = tmp_path / "m.gz"
    dest.write_bytes(b"old contents")
    fetch(url, dest, sha(data), **FAST)
    assert dest.read_bytes() == data
    assert (tmp_path / "m.gz.rejected").read_bytes() == b"old contents"


def test_size_is_checked(server: FileServer, tmp_path: Path) -> None:
    data = b"0123456789" * 10
    url = server.add("/sized.txt", data)
    with pytest.raises(DownloadError, match="should have 50"):
        fetch(url, tmp_path / "sized.txt", fmt="text", size=50, **FAST)
    assert not (tmp_path / "sized.txt").exists()
    fetch(url, tmp_path / "sized.txt", fmt="text", size=100, **FAST)


# -- extract --------------------------------------------------------------------------------


def test_extract_zip_into_new_folder(tmp_path: Path) -> None:
    archive = tmp_path / "coil-20-proc.zip"
    archive.write_bytes(coil_zip())
    out = extract(archive, tmp_path / "raw")
    assert len(out) == 6
    img = Image.open(tmp_path / "raw" / "coil-20-proc" / "obj2__1.png")
    assert np.asarray(img)[0, 0] == 21
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coil-20-proc.zip", "raw"]


def test_extract_merges_into_existing_folder(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    archive = raw / "annotations_trainval2014.tar.gz"
    archive.write_bytes(coco_tar_gz())
    (raw / "annotations").mkdir()
    (raw / "annotations" / "stale.json").write_text("{}")
    out = extract(archive, raw)
    assert sorted(p.relative_to(raw).as_posix() for p in out) == [
        "annotations/captions_train2014.json",
        "annotations/instances_train2014.json",
    ]
    inst = json.loads((raw / "annotations" / "instances_train2014.json").read_text())
    assert inst["categories"][0]["name"] == "pizza"
    assert not (raw / "annotations" / "stale.json").exists()  # replaced as a whole
    assert sorted(p.name for p in raw.iterdir()) == ["annotations", archive.name]


@pytest.mark.parametrize(
    ("name", "opener", "payload"),
    [
        ("t10k-labels-idx1-ubyte.gz", gzip.compress, struct.pack(">II", 0x801, 3) + b"\1\2\3"),
        ("usps.t.bz2", bz2.compress, b"10 1:-1 2:0.25\n"),
    ],
)
def test_extract_single_file(tmp_path: Path, name: str, opener, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / name
    archive.write_bytes(opener(payload))
    out = extract(archive, tmp_path / "out")
    assert [p.name for p in out] == [name.rsplit(".", 1)[0]]
    assert out[0].read_bytes() == payload


def test_extract_inner_symlink_is_kept(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("data/a.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"ok"))
        link = tarfile.TarInfo("data/b.txt")
        link.type = tarfile.SYMTYPE
        link.linkname = "a.txt"
        tf.addfile(link)
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(buf.getvalue())
    extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "data" / "b.txt").is_symlink()
    assert (tmp_path / "out" / "data" / "b.txt").read_text() == "ok"


def _evil_zip(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fine/ok.txt", b"fine")
        if kind == "dotdot":
            zf.writestr(zipfile.ZipInfo("fine/../../evil.txt"), b"evil")
        elif kind == "absolute":
            zf.writestr(zipfile.ZipInfo("/tmp/evil_abs.txt"), b"evil")
        elif kind == "symlink":
            info = zipfile.ZipInfo("fine/evil_link")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "../../evil_target")
    return buf.getvalue()


def _evil_tar(kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ok = tarfile.TarInfo("fine/ok.txt")
        ok.size = 4
        tf.addfile(ok, io.BytesIO(b"fine"))
        info = tarfile.TarInfo("x")
        if kind == "dotdot":
            info.name, info.size = "../evil.txt", 4
            tf.addfile(info, io.BytesIO(b"evil"))
        elif kind == "absolute":
            info.name, info.size = "/tmp/evil_abs.txt", 4
            tf.addfile(info, io.BytesIO(b"evil"))
        elif kind == "symlink":
            info.name, info.type, info.linkname = "fine/evil_link", tarfile.SYMTYPE, "../../evil"
            tf.addfile(info)
        elif kind == "hardlink":
            info.name, info.type, info.linkname = "fine/evil_hard", tarfile.LNKTYPE, "../evil"
            tf.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("suffix", "kind", "member"),
    [
        ("zip", "dotdot", "fine/../../evil.txt"),
        ("zip", "absolute", "/tmp/evil_abs.txt"),
        ("zip", "symlink", "fine/evil_link"),
        ("tar.gz", "dotdot", "../evil.txt"),
        ("tar.gz", "absolute", "/tmp/evil_abs.txt"),
        ("tar.gz", "symlink", "fine/evil_link"),
        ("tar.gz", "hardlink", "fine/evil_hard"),
    ],
)
def test_escaping_members_are_refused(tmp_path: Path, suffix: str, kind: str, member: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    archive = work / f"evil.{suffix}"
    archive.write_bytes(_evil_zip(kind) if suffix == "zip" else _evil_tar(kind))
    before = set(Path("/tmp").glob("evil*"))
    with pytest.raises(DownloadError) as info:
        extract(archive, work / "out")
    assert member in str(info.value)
    assert "refusing" in str(info.value)
    # nothing written: not the target, not a temporary folder, nothing outside
    assert [p.name for p in work.iterdir()] == [archive.name]
    assert not [p for p in tmp_path.rglob("*evil*") if p != archive]
    assert set(Path("/tmp").glob("evil*")) == before


def test_escaping_member_refused_when_target_exists(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    archive = raw / "evil.tar.gz"
    archive.write_bytes(_evil_tar("dotdot"))
    with pytest.raises(DownloadError, match=re.escape("'../evil.txt'")):
        extract(archive, raw)
    assert [p.name for p in raw.iterdir()] == [archive.name]
    assert not (tmp_path / "evil.txt").exists()


def test_damaged_archive(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    archive.write_bytes(coil_zip()[:200])
    with pytest.raises(DownloadError, match="damaged"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- ensure_source --------------------------------------------------------------------------


def test_ensure_source_downloads_extracts_and_marks(server: FileServer, tmp_path: Path) -> None:
    images, labels, coil, ann = (
        idx_gz(),
        gzip.compress(b"\0\0\x08\x01" + b"\0" * 8),
        coil_zip(),
        coco_tar_gz(),
    )
    entry = spec(
        "toy",
        files=[
            {"name": "t10k-images-idx3-ubyte.gz", "urls": [server.add("/i.gz", images)],
             "sha256": sha(images), "md5": md5(images), "size": len(images), "format": "idx.gz"},
            {"name": "t10k-labels-idx1-ubyte.gz", "urls": [server.add("/l.gz", labels)],
             "md5": md5(labels), "format": "idx.gz"},
            {"name": "coil-20-proc.zip", "urls": [server.add("/c.zip", coil)],
             "sha256": sha(coil), "extract": True, "format": "zip"},
            {"name": "annotations.tar.gz", "urls": [server.add("/a.tgz", ann)],
             "sha256": sha(ann), "extract": True, "extract_to": "coco", "format": "tar.gz"},
        ],
    )  # fmt: skip
    raw = tmp_path / "raw" / "toy"
    assert ensure_source(entry, raw, **FAST) == raw
    assert (raw / "coil-20-proc" / "obj1__0.png").is_file()
    assert (raw / "coco" / "annotations" / "captions_train2014.json").is_file()
    marker = json.loads((raw / MARKER).read_text())
    assert marker["source"] == "toy"
    by_name = {r["name"]: r for r in marker["files"]}
    assert by_name["t10k-images-idx3-ubyte.gz"]["sha256"] == sha(images)
    assert by_name["t10k-labels-idx1-ubyte.gz"]["md5"] == md5(labels)
    assert by_name["coil-20-proc.zip"]["extracted_files"] == 6
    n_requests = len(server.requests)
    # complete: a second call neither downloads nor unpacks
    (raw / "coil-20-proc" / "obj1__0.png").unlink()
    ensure_source(entry, raw, **FAST)
    assert len(server.requests) == n_requests
    # an out-of-date marker is checked again: files present are reused, not downloaded
    (raw / MARKER).write_text("{}")
    ensure_source(entry, raw, **FAST)
    assert len(server.requests) == n_requests
    assert (raw / "coil-20-proc" / "obj1__0.png").is_file()  # unpacked again (file missing)


def test_ensure_source_failure_writes_no_marker(server: FileServer, tmp_path: Path) -> None:
    good = idx_gz()
    entry = spec(
        "half",
        files=[
            {
                "name": "good.gz",
                "urls": [server.add("/good.gz", good)],
                "sha256": sha(good),
                "format": "idx.gz",
            },
            {
                "name": "bad.gz",
                "urls": [server.add("/bad.gz", b"abc")],
                "sha256": sha(b"xyz"),
                "format": "idx.gz",
            },
        ],
    )
    raw = tmp_path / "half"
    with pytest.raises(ChecksumError):
        ensure_source(entry, raw, **FAST)
    assert not (raw / MARKER).exists()
    assert sorted(p.name for p in raw.iterdir()) == ["good.gz"]


def test_ensure_source_strict_mode(server: FileServer, tmp_path: Path) -> None:
    data = coil_zip()
    entry = spec("coil", files=[{"name": "coil.zip", "urls": [server.add("/u.zip", data)],
                                 "extract": True, "format": "zip"}])  # fmt: skip
    with pytest.raises(DownloadError, match="require_published_checksum"):
        ensure_source(entry, tmp_path / "coil", require_published_checksum=True, **FAST)
    assert not (tmp_path / "coil" / MARKER).exists() and server.requests == []
    ensure_source(entry, tmp_path / "coil", **FAST)
    marker = json.loads((tmp_path / "coil" / MARKER).read_text())
    assert marker["files"][0]["verified_by"] == "checksum lock"
    # a folder completed by trust on first use is not complete in strict mode
    assert is_complete(entry, tmp_path / "coil")
    assert not is_complete(entry, tmp_path / "coil", require_published_checksum=True)
    with pytest.raises(DownloadError, match="strict mode"):
        ensure_source(entry, tmp_path / "coil", require_published_checksum=True, **FAST)


def test_ensure_source_uses_verified_local_copy(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz()
    local = tmp_path / "usr-share"
    local.mkdir()
    (local / "train-images-idx3-ubyte.gz").write_bytes(data)
    entry = spec(
        "fashion",
        local_dirs=[str(local)],
        files=[{"name": "train-images-idx3-ubyte.gz", "urls": [server.add("/gone", status=404)],
                "sha256": sha(data), "format": "idx.gz"}],
    )  # fmt: skip
    ensure_source(entry, tmp_path / "raw", **FAST)
    assert (tmp_path / "raw" / "train-images-idx3-ubyte.gz").read_bytes() == data
    assert server.requests == []


def test_manual_source(tmp_path: Path) -> None:
    entry = spec(
        "faces",
        manual={
            "instructions": "Request the data from the Example Lab at https://example.org/faces.",
            "expect": [
                {"path": "data4torch.h5", "description": "JULE HDF5"},
                {"glob": "imgs/*.png", "min_count": 3},
            ],
        },
    )
    raw = tmp_path / "faces"
    with pytest.raises(ManualDownloadRequired) as info:
        ensure_source(entry, raw, **FAST)
    msg = str(info.value)
    assert "https://example.org/faces" in msg
    assert str(raw.resolve()) in msg
    assert "data4torch.h5" in msg and "imgs/*.png" in msg and "again" in msg
    assert info.value.missing == ["data4torch.h5", "imgs/*.png (at least 3 files)"]
    assert not (raw / MARKER).exists()
    # one file placed: still asks for the rest, and says how many were found
    (raw / "data4torch.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (raw / "imgs").mkdir()
    (raw / "imgs" / "0.png").write_bytes(png(0))
    with pytest.raises(ManualDownloadRequired, match="found 1"):
        ensure_source(entry, raw, **FAST)
    for i in (1, 2):
        (raw / "imgs" / f"{i}.png").write_bytes(png(i))
    ensure_source(entry, raw, **FAST)
    marker = json.loads((raw / MARKER).read_text())
    assert marker["manual"][0]["sha256"] == sha(b"\x89HDF\r\n\x1a\n")
    assert marker["manual"][1] == {"glob": "imgs/*.png", "count": 3}


def test_mixed_source_fetches_then_asks(server: FileServer, tmp_path: Path) -> None:
    mat = b"MATLAB 7.3 MAT-file" + bytes(500)
    entry = spec(
        "nyu",
        files=[
            {
                "name": "nyu.mat",
                "urls": [server.add("/nyu.mat", mat)],
                "sha256": sha(mat),
                "format": "mat73",
            }
        ],
        manual={"instructions": "Ask the authors.", "expect": [{"glob": "descriptions/**/*"}]},
    )
    raw = tmp_path / "nyu"
    with pytest.raises(ManualDownloadRequired):
        ensure_source(entry, raw, **FAST)
    assert (raw / "nyu.mat").read_bytes() == mat
    (raw / "descriptions" / "a").mkdir(parents=True)
    (raw / "descriptions" / "a" / "0001.txt").write_text("A bed next to a lamp.")
    ensure_source(entry, raw, **FAST)
    assert (raw / MARKER).is_file()
    assert len(server.ranges("/nyu.mat")) == 1


def test_cli_with_registry_file(server: FileServer, tmp_path: Path) -> None:
    data = coco_tar_gz()
    reg = tmp_path / "registry.yaml"
    reg.write_text(
        "version: 2\nsources:\n"
        "  coco-mini:\n    title: mini\n    files:\n"
        f"      - name: ann.tar.gz\n        urls: [{server.add('/ann.tgz', data)}]\n"
        f"        sha256: {sha(data)}\n        format: tar.gz\n        extract: true\n"
        "  by-hand:\n    title: by hand\n    manual:\n"
        "      instructions: Fetch it yourself.\n      expect: [file.bin]\n"
    )
    assert get_source("coco-mini", reg).files[0].extract
    assert main(["coco-mini", str(tmp_path / "c"), "--registry", str(reg), "--no-progress"]) == 0
    assert (tmp_path / "c" / "annotations" / "instances_train2014.json").is_file()
    assert main(["by-hand", str(tmp_path / "h"), "--registry", str(reg)]) == 3
    assert main(["nope", str(tmp_path / "n"), "--registry", str(reg)]) == 2
    # the obsolete flag says what replaced it
    assert (
        main(["coco-mini", str(tmp_path / "c"), "--registry", str(reg), "--allow-unverified"]) == 2
    )


# -- trust on first use, the lock file ------------------------------------------------------

HTML_MESSAGE = "the server returned an HTML page (probably a moved or error page) instead of"


def tofu_entry(server: FileServer, data: bytes, *, route: str = "/coil.zip", **extra: object):  # type: ignore[no-untyped-def]
    return spec(
        "coil-20",
        files=[{"name": "coil-20-proc.zip", "urls": [server.add(route, data)], "format": "zip",
                "extract": True, **extra}],
    )  # fmt: skip


def test_first_use_records_the_lock_and_verifies_later_runs(
    server: FileServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = coil_zip()
    entry = tofu_entry(server, data)
    raw = tmp_path / "raw" / "coil-20"
    with caplog.at_level("WARNING", logger="mmclust.data.download"):
        ensure_source(entry, raw, **FAST)
    lock_path = tmp_path / "raw" / LOCK_NAME
    doc = yaml.safe_load(lock_path.read_text())
    rec = doc["sources"]["coil-20"]["coil-20-proc.zip"]
    assert rec["sha256"] == sha(data) and rec["md5"] == md5(data) and rec["size"] == len(data)
    assert rec["format"] == "zip" and rec["url"] == server.url("/coil.zip") and rec["recorded"]
    assert lock_path.read_text().startswith("# Checksums of raw files")
    # the log says how to pin it in the registry
    log_text = caplog.text
    assert "trusted on first use" in log_text and str(lock_path) in log_text
    assert f"sha256: {sha(data)}" in log_text and f"size: {len(data)}" in log_text
    assert "registry.yaml" in log_text
    marker = json.loads((raw / MARKER).read_text())
    assert marker["files"][0]["verified_by"] == "checksum lock"
    assert (raw / "coil-20-proc" / "obj2__2.png").is_file()
    # complete: nothing is downloaded again
    n = len(server.requests)
    ensure_source(entry, raw, **FAST)
    assert len(server.requests) == n
    # without the marker the present file is verified against the lock: still no download
    (raw / MARKER).unlink()
    ensure_source(entry, raw, **FAST)
    assert len(server.requests) == n
    # a deleted lock entry makes the folder incomplete (the file is not verified any more)
    lock_path.unlink()
    assert not is_complete(entry, raw)


def test_lock_mismatch_is_an_error_that_leaves_nothing(server: FileServer, tmp_path: Path) -> None:
    first = coil_zip(n_obj=2)
    entry = tofu_entry(server, first)
    raw = tmp_path / "raw" / "coil-20"
    ensure_source(entry, raw, **FAST)
    # upstream now serves other bytes (a valid zip, so only the lock can tell)
    second = coil_zip(n_obj=3)
    server.add("/coil.zip", second)
    (raw / "coil-20-proc.zip").unlink()
    (raw / MARKER).unlink()
    lock_path = tmp_path / "raw" / LOCK_NAME
    with pytest.raises(LockMismatchError) as info:
        ensure_source(entry, raw, **FAST)
    msg = str(info.value)
    assert sha(first) in msg and sha(second) in msg
    assert "coil-20-proc.zip" in msg and str(lock_path) in msg
    assert "delete the entry coil-20 / coil-20-proc.zip" in msg
    assert info.value.entry.sha256 == sha(first) and info.value.actual_sha256 == sha(second)
    # nothing looks finished: no file, no partial file, no marker; the lock is unchanged
    assert not (raw / "coil-20-proc.zip").exists()
    assert not (raw / "coil-20-proc.zip.part").exists()
    assert not (raw / MARKER).exists()
    assert ChecksumLock(lock_path).get("coil-20", "coil-20-proc.zip").sha256 == sha(first)  # type: ignore[union-attr]
    # the fix the message names: delete the entry, run again
    doc = yaml.safe_load(lock_path.read_text())
    del doc["sources"]["coil-20"]
    lock_path.write_text(yaml.safe_dump(doc))
    ensure_source(entry, raw, **FAST)
    assert (raw / "coil-20-proc.zip").read_bytes() == second


def test_present_file_that_differs_from_the_lock_is_replaced(
    server: FileServer, tmp_path: Path
) -> None:
    data = coil_zip()
    entry = tofu_entry(server, data)
    raw = tmp_path / "raw" / "coil-20"
    ensure_source(entry, raw, **FAST)
    (raw / MARKER).unlink()
    (raw / "coil-20-proc.zip").write_bytes(coil_zip(n_obj=1))  # damaged by hand
    ensure_source(entry, raw, **FAST)
    assert (raw / "coil-20-proc.zip").read_bytes() == data
    assert (raw / "coil-20-proc.zip.rejected").read_bytes() == coil_zip(n_obj=1)


def test_unverified_present_file_is_never_used(server: FileServer, tmp_path: Path) -> None:
    """The issue's failure: an HTML page stored as the zip must not count as present."""
    data = coil_zip()
    entry = tofu_entry(server, data)
    raw = tmp_path / "raw" / "coil-20"
    raw.mkdir(parents=True)
    (raw / "coil-20-proc.zip").write_bytes(HTML_PAGE)  # left by an earlier version
    (raw / "coil-20-proc.zip.sha256").write_text(f"{sha(HTML_PAGE)}  coil-20-proc.zip\n")
    ensure_source(entry, raw, **FAST)
    assert (raw / "coil-20-proc.zip").read_bytes() == data
    assert (raw / "coil-20-proc.zip.unverified").read_bytes() == HTML_PAGE
    assert len(server.ranges("/coil.zip")) == 1


def test_html_page_instead_of_zip_tries_the_next_mirror(
    server: FileServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = coil_zip()
    moved = server.add("/www/coil-20-proc.zip", HTML_PAGE, content_type="text/html")
    good = server.add("/old/coil-20-proc.zip", data)
    entry = spec("coil-20", files=[{"name": "coil-20-proc.zip", "urls": [moved, good],
                                    "format": "zip"}])  # fmt: skip
    raw = tmp_path / "raw" / "coil-20"
    with caplog.at_level("WARNING", logger="mmclust.data.download"):
        ensure_source(entry, raw, **FAST)
    assert (raw / "coil-20-proc.zip").read_bytes() == data
    assert f"{HTML_MESSAGE} a zip archive" in caplog.text
    assert "Page Not Found | CAVE" in caplog.text  # the page's title is named
    lock = ChecksumLock(tmp_path / "raw" / LOCK_NAME)
    assert lock.get("coil-20", "coil-20-proc.zip").url == good  # type: ignore[union-attr]
    assert len(server.ranges("/www/coil-20-proc.zip")) == 1  # not retried


def test_only_html_pages_is_a_clear_error(server: FileServer, tmp_path: Path) -> None:
    a = server.add("/a/coil-20-proc.zip", HTML_PAGE)
    b = server.add("/b/coil-20-proc.zip", b"  <html><body>Error</body></html>")
    entry = spec("coil-20", files=[{"name": "coil-20-proc.zip", "urls": [a, b],
                                    "format": "zip"}])  # fmt: skip
    raw = tmp_path / "raw" / "coil-20"
    with pytest.raises(DownloadError) as info:
        ensure_source(entry, raw, **FAST)
    msg = str(info.value)
    assert msg.count(f"{HTML_MESSAGE} a zip archive") == 2 and a in msg and b in msg
    assert not (raw / "coil-20-proc.zip").exists() and not (raw / MARKER).exists()
    assert not (raw / "coil-20-proc.zip.part").exists()
    assert not (tmp_path / "raw" / LOCK_NAME).exists()  # nothing was trusted


def test_html_page_instead_of_a_published_file(server: FileServer, tmp_path: Path) -> None:
    """A file with a published size and checksum: the page is named, the next mirror used."""
    data = idx_gz()
    page = server.add("/lecun/t10k-images-idx3-ubyte.gz", HTML_PAGE)
    good = server.add("/ossci/t10k-images-idx3-ubyte.gz", data)
    dest = tmp_path / "t10k-images-idx3-ubyte.gz"
    with pytest.raises(DownloadError, match=re.escape(f"{HTML_MESSAGE} a gzip-compressed IDX")):
        fetch(page, dest, sha(data), size=len(data), fmt="idx.gz", **FAST)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()
    fetch([page, good], dest, sha(data), size=len(data), fmt="idx.gz", **FAST)
    assert dest.read_bytes() == data
    # without a size: the checksum mismatch says it was an HTML page
    with pytest.raises(ChecksumError, match=re.escape(f"{HTML_MESSAGE} a gzip-compressed IDX")):
        fetch(page, tmp_path / "other.gz", sha(data), fmt="idx.gz", **FAST)


@pytest.mark.parametrize(
    ("fmt", "name", "make", "cut"),
    [
        ("zip", "coil-20-proc.zip", coil_zip, 0.6),
        ("mat5", "umist_cropped.mat", mat5, 0.5),
        ("idx.gz", "t10k-images-idx3-ubyte.gz", idx_gz, 0.9),
        ("hdf5", "data4torch.h5", hdf5, 0.7),
    ],
)  # fmt: skip
def test_truncated_file_is_rejected(  # type: ignore[no-untyped-def]
    server: FileServer, tmp_path: Path, fmt: str, name: str, make, cut: float
) -> None:
    """A mirror that serves a truncated copy (with a matching Content-Length)."""
    data = make()
    short = data[: int(len(data) * cut)]
    bad = server.add(f"/bad/{name}", short)
    good = server.add(f"/good/{name}", data)
    dest = tmp_path / name
    lock = ChecksumLock(tmp_path / LOCK_NAME)
    with pytest.raises(DownloadError, match="truncated"):
        fetch(bad, dest, fmt=fmt, lock=lock, source="s", **FAST)
    assert not dest.exists() and lock.get("s", name) is None
    assert not dest.with_name(name + ".part").exists()
    fetch([bad, good], dest, fmt=fmt, lock=lock, source="s", **FAST)
    assert dest.read_bytes() == data and lock.get("s", name).sha256 == sha(data)  # type: ignore[union-attr]


def test_interrupted_unverified_download_resumes(server: FileServer, tmp_path: Path) -> None:
    data = mat5(4000)
    url = server.add("/usps_all.mat", data, cut_after=20_000, cut_times=1)
    dest = tmp_path / "usps_all.mat"
    lock = ChecksumLock(tmp_path / LOCK_NAME)
    with pytest.raises(DownloadError, match="resume"):
        fetch(url, dest, fmt="mat5", lock=lock, source="usps-11k", retries=1, **FAST)
    assert not dest.exists() and (tmp_path / "usps_all.mat.part").stat().st_size == 20_000
    fetch(url, dest, fmt="mat5", lock=lock, source="usps-11k", **FAST)
    assert server.ranges("/usps_all.mat") == [None, "bytes=20000-"]
    assert dest.read_bytes() == data


def test_lock_records_from_many_threads(tmp_path: Path) -> None:
    """Concurrent download jobs must not lose each other's entries."""
    lock = ChecksumLock(tmp_path / LOCK_NAME)

    def record(i: int) -> None:
        ChecksumLock(lock.path).record(
            f"src{i % 3}", f"f{i}.zip", sha256=f"{i:064x}", md5=f"{i:032x}", size=i + 1,
            fmt="zip", url=f"http://127.0.0.1/f{i}.zip",
        )  # fmt: skip

    threads = [threading.Thread(target=record, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(24):
        entry = lock.get(f"src{i % 3}", f"f{i}.zip")
        assert entry is not None and entry.sha256 == f"{i:064x}" and entry.size == i + 1


def test_damaged_lock_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    path.write_text("version: 1\nsources: [not, a, mapping]\n")
    with pytest.raises(LockFileError, match=re.escape(str(path))):
        ChecksumLock(path).get("coil-20", "coil-20-proc.zip")


# -- git blob ids ---------------------------------------------------------------------------


def test_git_blob_id(tmp_path: Path) -> None:
    """The ids `git hash-object` gives: empty file, "hello\\n"."""
    empty, hello = tmp_path / "empty", tmp_path / "hello"
    empty.write_bytes(b"")
    hello.write_bytes(b"hello\n")
    assert file_digest(empty, git_blob=True).git_blob_sha1 == (
        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    )
    assert file_digest(hello, git_blob=True).git_blob_sha1 == (
        "ce013625030ba8dba906f756967f9e9ca394464a"
    )
    assert file_digest(hello).git_blob_sha1 is None  # only computed when asked


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_git_blob_checksum_of_a_download(server: FileServer, tmp_path: Path) -> None:
    data = hdf5()
    url = server.add("/datasets/FRGC/data4torch.h5", data)
    fetch(url, tmp_path / "a.h5", git_blob_sha1=git_blob(data), fmt="hdf5", **FAST)
    with pytest.raises(ChecksumError, match="expected git blob id"):
        fetch(url, tmp_path / "b.h5", git_blob_sha1=git_blob(b"x"), fmt="hdf5", **FAST)


def test_hand_placed_file_is_checked(tmp_path: Path) -> None:
    data = hdf5()
    entry = spec(
        "frgc",
        manual={"instructions": "Request FRGC at https://example.org/frgc.",
                "expect": [{"path": "data4torch.h5", "format": "hdf5",
                            "git_blob_sha1": git_blob(data)}]},
    )  # fmt: skip
    raw = tmp_path / "frgc"
    raw.mkdir()
    (raw / "data4torch.h5").write_bytes(HTML_PAGE)  # a browser saved the confirmation page
    with pytest.raises(ChecksumError, match=re.escape(f"{HTML_MESSAGE} an HDF5 file")):
        ensure_source(entry, raw, **FAST)
    (raw / "data4torch.h5").write_bytes(data)
    ensure_source(entry, raw, **FAST)
    marker = json.loads((raw / MARKER).read_text())
    assert marker["manual"][0]["git_blob_sha1"] == git_blob(data)
    assert marker["manual"][0]["verified_by"] == "published checksum"
    # without a checksum, the format alone: a truncated file is refused
    expect = [{"path": "data4torch.h5", "format": "hdf5"}]
    entry2 = spec(
        "ytf", manual={"instructions": "Ask at https://example.org/ytf.", "expect": expect}
    )
    raw2 = tmp_path / "ytf"
    raw2.mkdir()
    (raw2 / "data4torch.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DownloadError, match="truncated"):
        ensure_source(entry2, raw2, **FAST)


# -- the mirror key -------------------------------------------------------------------------


def mirror_registry(server: FileServer, zip_data: bytes, mat_data: bytes) -> dict[str, SourceSpec]:
    """Two sources whose own URLs are dead: only the mirror can serve them."""
    return {
        "coil-20": spec("coil-20", files=[
            {"name": "coil-20-proc.zip", "urls": [server.add("/dead/coil.zip", status=404)],
             "format": "zip", "extract": True}]),
        "usps-11k": spec("usps-11k", files=[
            {"name": "usps_all.mat", "urls": [server.add("/dead/usps_all.mat", status=404)],
             "sha256": sha(mat_data), "format": "mat5"}]),
    }  # fmt: skip


def test_mirror_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert mirror_url("http://127.0.0.1:8123", "coil-20", "coil-20-proc.zip") == (
        "http://127.0.0.1:8123/coil-20/coil-20-proc.zip"
    )
    assert (
        mirror_url("https://h/base/", "coco2014", "a b.zip") == "https://h/base/coco2014/a%20b.zip"
    )
    assert mirror_url("file:///data/mirror/", "umist", "umist_cropped.mat") == (
        "file:///data/mirror/umist/umist_cropped.mat"
    )
    monkeypatch.chdir(tmp_path)
    assert mirror_url("staged", "nus-wide", "ImageList/Imagelist.txt") == (
        (tmp_path / "staged" / "nus-wide" / "ImageList" / "Imagelist.txt").as_uri()
    )
    with pytest.raises(DownloadError, match="neither"):
        mirror_url("ftp://h/", "a", "b")


def test_mirror_served_by_a_local_server(tmp_path: Path) -> None:
    zip_data, mat_data = coil_zip(), mat5()
    folder = tmp_path / "mirror"
    (folder / "coil-20").mkdir(parents=True)
    (folder / "usps-11k").mkdir()
    (folder / "coil-20" / "coil-20-proc.zip").write_bytes(zip_data)
    (folder / "usps-11k" / "usps_all.mat").write_bytes(mat_data)
    with FileServer() as srv:
        base = srv.add_folder(folder, prefix="/m")
        sources = mirror_registry(srv, zip_data, mat_data)
        raw = tmp_path / "raw"
        for name, entry in sources.items():
            ensure_source(entry, raw / name, mirror=base, mirror_only=True, **FAST)
        # only the mirror was asked, never the registry's (dead) URLs
        assert sorted(p for p, _ in srv.requests) == [
            "/m/coil-20/coil-20-proc.zip", "/m/usps-11k/usps_all.mat",
        ]  # fmt: skip
    assert (raw / "coil-20" / "coil-20-proc" / "obj1__0.png").is_file()
    assert (raw / "usps-11k" / "usps_all.mat").read_bytes() == mat_data
    # trusted on first use like any download, with the mirror's URL recorded
    entry = ChecksumLock(raw / LOCK_NAME).get("coil-20", "coil-20-proc.zip")
    assert entry is not None and entry.url == base + "coil-20/coil-20-proc.zip"


def test_mirror_then_registry_urls(server: FileServer, tmp_path: Path) -> None:
    data = mat5()
    own = server.add("/roweis/usps_all.mat", data)
    entry = spec("usps-11k", files=[{"name": "usps_all.mat", "urls": [own], "sha256": sha(data),
                                     "format": "mat5"}])  # fmt: skip
    mirror = server.url("/mirror/")  # has nothing: 404, then the registry's URL
    ensure_source(entry, tmp_path / "raw" / "usps-11k", mirror=mirror, **FAST)
    assert [p for p, _ in server.requests] == [
        "/mirror/usps-11k/usps_all.mat",
        "/roweis/usps_all.mat",
    ]
    with pytest.raises(DownloadError, match="mirror_only needs a mirror"):
        ensure_source(entry, tmp_path / "raw" / "usps-11k", mirror_only=True, **FAST)


@pytest.mark.parametrize("form", ["path", "file-url"])
def test_mirror_from_a_local_folder(server: FileServer, tmp_path: Path, form: str) -> None:
    zip_data, mat_data = coil_zip(), mat5()
    folder = tmp_path / "staged"
    (folder / "coil-20").mkdir(parents=True)
    (folder / "coil-20" / "coil-20-proc.zip").write_bytes(zip_data)
    sources = mirror_registry(server, zip_data, mat_data)
    mirror = str(folder) if form == "path" else folder.as_uri() + "/"
    raw = tmp_path / "raw"
    ensure_source(sources["coil-20"], raw / "coil-20", mirror=mirror, mirror_only=True, **FAST)
    assert (raw / "coil-20" / "coil-20-proc.zip").read_bytes() == zip_data
    assert server.requests == []
    # a file the folder lacks is a clear error naming where it was looked for
    with pytest.raises(DownloadError) as info:
        ensure_source(sources["usps-11k"], raw / "usps-11k", mirror=mirror, mirror_only=True,
                      **FAST)  # fmt: skip
    assert "usps-11k/usps_all.mat" in str(info.value) and "cannot read the local file" in str(
        info.value
    )
    # a bad copy in the mirror is caught like any other
    (folder / "usps-11k").mkdir()
    (folder / "usps-11k" / "usps_all.mat").write_bytes(mat_data[:-10])
    with pytest.raises(ChecksumError):
        ensure_source(sources["usps-11k"], raw / "usps-11k", mirror=mirror, mirror_only=True,
                      **FAST)  # fmt: skip


def test_mirror_serves_hand_placed_files(tmp_path: Path) -> None:
    data = hdf5()
    folder = tmp_path / "staged"
    (folder / "frgc").mkdir(parents=True)
    (folder / "frgc" / "data4torch.h5").write_bytes(data)
    entry = spec(
        "frgc",
        manual={"instructions": "Request FRGC at https://example.org/frgc.",
                "expect": [{"path": "data4torch.h5", "format": "hdf5",
                            "git_blob_sha1": git_blob(data)}]},
    )  # fmt: skip
    raw = tmp_path / "raw" / "frgc"
    ensure_source(entry, raw, mirror=folder, **FAST)
    assert (raw / "data4torch.h5").read_bytes() == data
    # a mirror without the file: the usual instructions, naming the mirror too
    with pytest.raises(ManualDownloadRequired, match="mirror was asked"):
        ensure_source(entry, tmp_path / "raw2" / "frgc", mirror=tmp_path / "empty", **FAST)


def test_cli_mirror_options(tmp_path: Path) -> None:
    zip_data = coil_zip()
    folder = tmp_path / "staged"
    (folder / "toy").mkdir(parents=True)
    (folder / "toy" / "toy.zip").write_bytes(zip_data)
    reg = tmp_path / "registry.yaml"
    reg.write_text(
        "version: 2\nsources:\n  toy:\n    title: toy\n    files:\n"
        "      - name: toy.zip\n        urls: [http://127.0.0.1:9/toy.zip]\n"
        "        format: zip\n        extract: true\n"
    )
    out = tmp_path / "raw" / "toy"
    args = [str(out), "--registry", str(reg), "--no-progress", "--retries", "1"]
    assert main(["toy", *args, "--require-published-checksum"]) == 2
    assert main(["toy", *args, "--mirror", str(folder), "--mirror-only"]) == 0
    assert (out / "coil-20-proc" / "obj1__0.png").is_file()
    lock = tmp_path / "custom.lock"
    args2 = [str(tmp_path / "raw2" / "toy"), "--registry", str(reg), "--mirror", folder.as_uri()]
    assert main(["toy", *args2, "--mirror-only", "--lock-file", str(lock)]) == 0
    assert ChecksumLock(lock).get("toy", "toy.zip").sha256 == sha(zip_data)  # type: ignore[union-attr]


@pytest.mark.slow
def test_workflow_downloads_through_the_mirror(tmp_path: Path) -> None:
    """config downloads: {mirror, mirror_only} -> rule params -> CLI -> ensure_source."""
    folder = tmp_path / "mirror"
    (folder / "coil-20").mkdir(parents=True)
    (folder / "coil-20" / "coil-20-proc.zip").write_bytes(coil_zip())
    work = tmp_path / "work"
    work.mkdir()
    with FileServer() as srv:
        base = srv.add_folder(folder)
        override = tmp_path / "mirror.yaml"
        override.write_text(f"downloads:\n  mirror: {base}\n  mirror_only: true\n")
        res = snakemake(
            work, "--cores", "1", "--configfile", str(REPO / "config/config.yaml"),
            str(override), "--", "resources/raw/coil-20/.complete",
        )  # fmt: skip
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
        assert [p for p, _ in srv.requests] == ["/coil-20/coil-20-proc.zip"]
    raw = work / "resources" / "raw"
    assert (raw / "coil-20" / "coil-20-proc" / "obj2__1.png").is_file()
    entry = ChecksumLock(raw / LOCK_NAME).get("coil-20", "coil-20-proc.zip")
    assert entry is not None and entry.url == base + "coil-20/coil-20-proc.zip"
    log_text = (work / "logs" / "download_raw" / "coil-20.log").read_text()
    assert "trusted on first use" in log_text


# -- registry -------------------------------------------------------------------------------

PAPER_SOURCES = {
    "coco2014", "pascal-sentences", "nyu-depth-v2", "wikipedia", "nus-wide", "mnist",
    "fashion-mnist", "usps", "usps-11k", "coil-20", "coil-100", "umist", "frgc", "cmu-pie",
    "youtube-faces",
}  # fmt: skip


def test_packaged_registry_is_valid() -> None:
    registry = load_registry()
    assert PAPER_SOURCES <= set(registry)
    for name, entry in registry.items():
        assert entry.name == name and entry.title
        assert entry.files or entry.manual, name
        for f in entry.files:
            assert f.urls and all(u.startswith(("http://", "https://")) for u in f.urls), name
            assert f.format, name
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), name
            assert f.md5 is None or re.fullmatch(r"[0-9a-f]{32}", f.md5), name
        if entry.manual is not None:
            assert len(entry.manual.instructions) > 40 and entry.manual.expect, name
            assert "http" in entry.manual.instructions, name
    # sources whose checksums are published carry them
    for name in ("mnist", "fashion-mnist", "usps", "coco2014", "coil-100", "nyu-depth-v2"):
        assert all(f.verified for f in registry[name].files), name
    nyu = registry["nyu-depth-v2"].files[0]
    assert (nyu.md5, nyu.size) == ("520609c519fba3ba5ac58c8fefcc3530", 2972037809)
    # the others are trusted on first use: their format says what the content check expects
    formats = {f.name: f.format for s in registry.values() for f in s.files if not f.verified}
    assert formats == {
        "wikipedia_dataset.zip": "zip", "usps_all.mat": "mat5", "coil-20-proc.zip": "zip",
        "umist_cropped.mat": "mat5",
    }  # fmt: skip
    # COIL's current location first (Columbia moved the archives in March 2025)
    for name in ("coil-20", "coil-100"):
        urls = registry[name].files[0].urls
        assert urls[0].startswith("https://cave.cs.columbia.edu/old/databases/"), name
    # the JULE authors' HDF5 files in their repository: git blob ids
    for name, blob in (("frgc", "91e200768b454a6c238c5cb4abf16e756e6e9649"),
                       ("cmu-pie", "a0beb23100aa30180fb677f9a4d643983442d6c9")):  # fmt: skip
        (h5,) = registry[name].manual.expect  # type: ignore[union-attr]
        assert (h5.path, h5.format, h5.git_blob_sha1) == ("data4torch.h5", "hdf5", blob)
    pascal = registry["pascal-sentences"].manual.instructions  # type: ignore[union-attr]
    assert "wget -r -e robots=off" in pascal
    assert "mfeat" not in registry  # nothing read it
    for name in ("frgc", "cmu-pie", "youtube-faces", "nus-wide", "pascal-sentences"):
        assert registry[name].is_manual, name
    for name in ("frgc", "cmu-pie", "youtube-faces"):
        assert "JULE" in registry[name].manual.instructions  # type: ignore[union-attr]
    coco = {f.name for f in registry["coco2014"].files}
    assert coco == {"train2014.zip", "val2014.zip", "annotations_trainval2014.zip"}
    assert {f.name for f in registry["mnist"].files} == {
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    }  # fmt: skip
    assert len(registry["mnist"].files[0].urls) == 2  # mirrors


def test_unpublished_checksums_are_marked() -> None:
    """Every file without a checksum carries the 'trusted on first use' comment."""
    text = registry_path().read_text()
    unverified = sum(not f.verified for s in load_registry().values() for f in s.files)
    assert unverified > 0
    assert text.count("# checksum not published: trusted on first use") == unverified


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"title": "t"}, "files"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x/a"], "format": "zip",
                                   "sha256": "abc"}]}, "sha256"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x/a"], "format": "zip",
                                   "md5": "A" * 32}]}, "md5"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x/a"], "format": "zip",
                                   "git_blob_sha1": "1" * 39}]}, "git_blob_sha1"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x/a"]}]}, "format"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x/a"], "format": "rar"}]},
         "'rar' is not a known format"),
        ({"title": "t", "files": [{"name": "../a.zip", "urls": ["http://x/a"]}]}, "name"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": []}]}, "urls"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["ftp://x/a"]}]}, "URL"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x"], "extract_to": "/abs"}]},
         "extract_to"),
        ({"title": "t", "manual": {"instructions": "x", "expect": [{"glob": "*.h5",
                                                                  "format": "hdf5"}]}},
         "single 'path'"),
        ({"title": "t", "manual": {"instructions": "x", "expect": []}}, "expect"),
        ({"title": "t", "manual": {"expect": ["a"]}}, "instructions"),
        ({"title": "t", "files": [], "manual": {"instructions": "x", "expect": ["a"]},
          "colour": "red"}, "unknown"),
    ],
)  # fmt: skip
def test_invalid_registry_entries(entry: dict[str, object], problem: str) -> None:
    with pytest.raises(RegistryError, match=problem):
        parse_source("bad", entry)


def test_unknown_source_names_known_ones() -> None:
    with pytest.raises(RegistryError, match="mnist"):
        get_source("no-such-source")
