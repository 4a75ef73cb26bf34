"""Checksummed, resumable downloads, safe extraction and the raw-file registry.

All traffic goes to a server on 127.0.0.1 that the tests start (tests/fixtures_http.py),
serving archives the tests build in the real formats: IDX in .gz, a COIL-style zip of
PNG images, a COCO-style tar.gz of annotation JSON, and a USPS-style .bz2.
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
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmclust.data.download import (
    MARKER,
    ChecksumError,
    DownloadError,
    ManualDownloadRequired,
    ensure_source,
    extract,
    fetch,
    file_digest,
    main,
)
from mmclust.data.registry import (
    RegistryError,
    SourceSpec,
    get_source,
    load_registry,
    parse_source,
    registry_path,
)
from tests.fixtures_http import FileServer

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


def test_unverified_refused_unless_allowed(server: FileServer, tmp_path: Path) -> None:
    data = b"mat file bytes" * 100
    url = server.add("/umist_cropped.mat", data)
    dest = tmp_path / "umist_cropped.mat"
    with pytest.raises(DownloadError, match="no published checksum"):
        fetch(url, dest, None, None, **FAST)
    assert not dest.exists() and server.requests == []
    fetch(url, dest, None, None, allow_unverified=True, **FAST)
    assert dest.read_bytes() == data
    assert (tmp_path / "umist_cropped.mat.sha256").read_text() == f"{sha(data)}  {dest.name}\n"


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
    url = server.add("/sized.bin", data)
    with pytest.raises(DownloadError, match="should have 50"):
        fetch(url, tmp_path / "sized.bin", None, allow_unverified=True, size=50, **FAST)
    assert not (tmp_path / "sized.bin").exists()
    fetch(url, tmp_path / "sized.bin", None, allow_unverified=True, size=100, **FAST)


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
             "sha256": sha(images), "md5": md5(images), "size": len(images)},
            {"name": "t10k-labels-idx1-ubyte.gz", "urls": [server.add("/l.gz", labels)],
             "md5": md5(labels)},
            {"name": "coil-20-proc.zip", "urls": [server.add("/c.zip", coil)],
             "sha256": sha(coil), "extract": True},
            {"name": "annotations.tar.gz", "urls": [server.add("/a.tgz", ann)],
             "sha256": sha(ann), "extract": True, "extract_to": "coco"},
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
            {"name": "good.gz", "urls": [server.add("/good.gz", good)], "sha256": sha(good)},
            {"name": "bad.gz", "urls": [server.add("/bad.gz", b"abc")], "sha256": sha(b"xyz")},
        ],
    )
    raw = tmp_path / "half"
    with pytest.raises(ChecksumError):
        ensure_source(entry, raw, **FAST)
    assert not (raw / MARKER).exists()
    assert sorted(p.name for p in raw.iterdir()) == ["good.gz"]


def test_ensure_source_unverified_needs_permission(server: FileServer, tmp_path: Path) -> None:
    data = coil_zip()
    entry = spec("coil", files=[{"name": "coil.zip", "urls": [server.add("/u.zip", data)],
                                 "extract": True}])  # fmt: skip
    with pytest.raises(DownloadError, match="allow_unverified"):
        ensure_source(entry, tmp_path / "coil", **FAST)
    assert not (tmp_path / "coil" / MARKER).exists()
    ensure_source(entry, tmp_path / "coil", allow_unverified=True, **FAST)
    marker = json.loads((tmp_path / "coil" / MARKER).read_text())
    assert marker["files"][0]["checksum_published"] is False
    assert (tmp_path / "coil" / "coil.zip.sha256").read_text().startswith(sha(data))


def test_ensure_source_uses_verified_local_copy(server: FileServer, tmp_path: Path) -> None:
    data = idx_gz()
    local = tmp_path / "usr-share"
    local.mkdir()
    (local / "train-images-idx3-ubyte.gz").write_bytes(data)
    entry = spec(
        "fashion",
        local_dirs=[str(local)],
        files=[{"name": "train-images-idx3-ubyte.gz", "urls": [server.add("/gone", status=404)],
                "sha256": sha(data)}],
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
        files=[{"name": "nyu.mat", "urls": [server.add("/nyu.mat", mat)], "sha256": sha(mat)}],
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
        "version: 1\nsources:\n"
        "  coco-mini:\n    title: mini\n    files:\n"
        f"      - name: ann.tar.gz\n        urls: [{server.add('/ann.tgz', data)}]\n"
        f"        sha256: {sha(data)}\n        extract: true\n"
        "  by-hand:\n    title: by hand\n    manual:\n"
        "      instructions: Fetch it yourself.\n      expect: [file.bin]\n"
    )
    assert get_source("coco-mini", reg).files[0].extract
    assert main(["coco-mini", str(tmp_path / "c"), "--registry", str(reg), "--no-progress"]) == 0
    assert (tmp_path / "c" / "annotations" / "instances_train2014.json").is_file()
    assert main(["by-hand", str(tmp_path / "h"), "--registry", str(reg)]) == 3
    assert main(["nope", str(tmp_path / "n"), "--registry", str(reg)]) == 2


# -- registry -------------------------------------------------------------------------------

PAPER_SOURCES = {
    "coco2014", "pascal-sentences", "nyu-depth-v2", "wikipedia", "nus-wide", "mnist",
    "fashion-mnist", "usps", "coil-20", "coil-100", "umist", "frgc", "cmu-pie",
    "youtube-faces", "mfeat",
}  # fmt: skip


def test_packaged_registry_is_valid() -> None:
    registry = load_registry()
    assert PAPER_SOURCES <= set(registry)
    for name, entry in registry.items():
        assert entry.name == name and entry.title
        assert entry.files or entry.manual, name
        for f in entry.files:
            assert f.urls and all(u.startswith(("http://", "https://")) for u in f.urls), name
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), name
            assert f.md5 is None or re.fullmatch(r"[0-9a-f]{32}", f.md5), name
        if entry.manual is not None:
            assert len(entry.manual.instructions) > 40 and entry.manual.expect, name
            assert "http" in entry.manual.instructions, name
    # sources whose checksums are published carry them
    for name in ("mnist", "fashion-mnist", "usps", "coco2014", "coil-100"):
        assert all(f.verified for f in registry[name].files), name
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
    """Every file without a checksum carries the 'pin after first download' comment."""
    text = registry_path().read_text()
    unverified = sum(not f.verified for s in load_registry().values() for f in s.files)
    assert unverified > 0
    assert text.count("# checksum not published; pin after first download") == unverified


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"title": "t"}, "files"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x/a"], "sha256": "abc"}]},
         "sha256"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x/a"], "md5": "A" * 32}]},
         "md5"),
        ({"title": "t", "files": [{"name": "../a.zip", "urls": ["http://x/a"]}]}, "name"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": []}]}, "urls"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["ftp://x/a"]}]}, "URL"),
        ({"title": "t", "files": [{"name": "a.zip", "urls": ["http://x"], "extract_to": "/abs"}]},
         "extract_to"),
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
