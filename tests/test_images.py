"""JULE image builders, end to end on tiny files written in each source's real format."""

from __future__ import annotations

import bz2
import gzip
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from mmclust.data import DatasetError, MultiViewDataset
from mmclust.data.builders import _images, coil, jule_h5, mnist, umist, usps

# -- fixture writers (each source's real on-disk format) -----------------------------------


def write_idx(path: Path, array: np.ndarray, *, gz: bool, magic: bytes | None = None) -> Path:
    """An IDX file: 0x0000, type code, ndim, big-endian uint32 dims, big-endian data."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    head = magic if magic is not None else bytes([0, 0, codes[array.dtype], array.ndim])
    body = head + struct.pack(f">{array.ndim}I", *array.shape)
    body += array.astype(array.dtype.newbyteorder(">")).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(body))
    else:
        path.write_bytes(body)
    return path


def write_mnist(folder: Path, n_train: int = 12, n_test: int = 7, *, gz: bool = True) -> dict:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{split}-images-idx3-ubyte", x, gz=gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte", y, gz=gz)
        out[split] = (x, y)
    return out


def write_libsvm(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """libsvm lines 'label i:v ...', labels 1..10, values in [-1, 1], zeros omitted."""
    lines = []
    for x, y in zip(images.reshape(len(images), -1), labels, strict=True):
        items = [f"{i + 1}:{v:.6f}" for i, v in enumerate(x) if v != 0]
        lines.append(" ".join([str(int(y) + 1), *items]))
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))


def write_coil(folder: Path, objects: list[int], poses: list[int], mode: str, size=(8, 8)):
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for o in objects:
        for p in poses:
            shape = (size[0], size[1], 3) if mode == "RGB" else size
            arr = np.full(shape, (o * 10 + p) % 256, dtype=np.uint8)
            arr[0, 0] = o
            Image.fromarray(arr, mode=mode).save(folder / f"obj{o}__{p}.png")
            truth[o, p] = arr
    return truth


# -- IDX / MNIST -----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_test_and_full(tmp_path, gz):
    truth = write_mnist(tmp_path / "mnist", gz=gz)
    ds = mnist.mnist("mnist-test", tmp_path / "mnist", subset="test")
    assert ds.views["image"].shape == (7, 28, 28) and ds.views["image"].dtype == np.uint8
    assert ds.kinds == {"image": "image"}
    np.testing.assert_array_equal(ds.views["image"], truth["t10k"][0])
    np.testing.assert_array_equal(ds.labels, truth["t10k"][1])
    assert ds.meta["reference_counts"]["n"] == 10000
    assert ds.meta["obtained_counts"]["n"] == 7
    assert any("n = 7 obtained, JULE reports 10000" in s for s in ds.meta["notes"])

    full = mnist.mnist("mnist-full", tmp_path / "mnist", subset="full")
    assert full.n == 19 and full.k == 10
    np.testing.assert_array_equal(full.views["image"][:12], truth["train"][0])  # train first
    np.testing.assert_array_equal(full.views["image"][12:], truth["t10k"][0])
    assert full.meta["reference_counts"]["n"] == 70000
    assert full.meta["reference_counts"]["image_size"] == [28, 28]
    assert full.labels.min() == 0 and full.labels.max() == 9


def test_mnist_gz_named_file_that_is_already_gunzipped(tmp_path):
    """Browsers often gunzip on download but keep the .gz name: detect by content."""
    folder = tmp_path / "m"
    write_mnist(folder, gz=False)
    for p in list(folder.iterdir()):
        p.rename(p.with_name(p.name + ".gz"))
    assert mnist.mnist("m", folder).n == 7


def test_mnist_dotted_names(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder, gz=False)
    for p in list(folder.iterdir()):
        p.rename(p.with_name(p.name.replace("-idx", ".idx")))
    assert mnist.mnist("m", folder).n == 7


def test_idx_wrong_magic(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder)
    x = np.zeros((7, 28, 28), np.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte", x, gz=True, magic=bytes([0x1F, 0x00, 0x08, 3]))
    with pytest.raises(
        DatasetError, match=r"t10k-images-idx3-ubyte.gz is not an IDX file.*download"
    ):
        mnist.mnist("m", folder)


def test_idx_truncated_data_and_gzip(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder, gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetError, match=r"header promises \(7, 28, 28\).*download it again"):
        mnist.mnist("m", folder)
    path.unlink()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0" * 2000)[:30])
    with pytest.raises(DatasetError, match=r"not a complete gzip file"):
        mnist.mnist("m", folder)


def test_idx_label_count_mismatch(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(6, np.uint8), gz=True)
    with pytest.raises(DatasetError, match=r"7 images but .* 6 labels"):
        mnist.mnist("m", folder)


def test_read_idx_other_dtypes(tmp_path):
    a = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    np.testing.assert_array_equal(mnist.read_idx(write_idx(tmp_path / "a", a, gz=False)), a)
    f = np.linspace(-1, 1, 6, dtype=np.float32)
    np.testing.assert_array_equal(mnist.read_idx(write_idx(tmp_path / "f", f, gz=True)), f)


def test_mnist_missing_file_names_it_and_the_fix(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte.gz is missing.*download"):
        mnist.mnist("m", folder)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz is missing"):
        mnist.mnist("m", folder, subset="full")
    with pytest.raises(DatasetError, match=r"does not exist: download the MNIST"):
        mnist.mnist("m", tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="subset='all' is unknown"):
        mnist.mnist("m", folder, subset="all")


# -- Fashion-MNIST -------------------------------------------------------------------------------


def test_fashion_mnist_from_raw_dir_and_missing_everywhere(tmp_path):
    truth = write_mnist(tmp_path / "f", gz=True)
    ds = mnist.fashion_mnist("fm", tmp_path / "f", debian_dir=tmp_path / "no-debian")
    np.testing.assert_array_equal(ds.views["image"], truth["t10k"][0])
    assert ds.class_names == list(mnist.FASHION_MNIST_CLASSES[:7])
    assert ds.meta["source"].endswith("raw_dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"apt-get install dataset-fashion-mnist.*download"):
        mnist.fashion_mnist("fm", tmp_path / "empty", debian_dir=tmp_path / "no-debian")
    # an empty raw_dir falls back to the Debian folder
    ds2 = mnist.fashion_mnist("fm", tmp_path / "empty", debian_dir=tmp_path / "f")
    assert ds2.n == 7 and "Debian" in ds2.meta["source"]


@pytest.mark.skipif(
    not (mnist.DEBIAN_FASHION_MNIST / "t10k-images-idx3-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist is not installed "
    "(apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_debian_package():
    ds = mnist.fashion_mnist("fashion-mnist", None)
    assert ds.views["image"].shape == (10000, 28, 28)
    assert ds.views["image"].dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [1000] * 10
    assert ds.meta["obtained_counts"]["n"] == ds.meta["reference_counts"]["n"] == 10000
    assert ds.meta["notes"] == []
    assert ds.meta["read_from"] == str(mnist.DEBIAN_FASHION_MNIST)
    full = mnist.fashion_mnist("fashion-mnist-full", None, subset="full")
    assert full.views["image"].shape == (70000, 28, 28)
    assert np.bincount(full.labels).tolist() == [7000] * 10
    np.testing.assert_array_equal(full.views["image"][60000:], ds.views["image"])  # test last


# -- USPS ----------------------------------------------------------------------------------------


def test_usps_libsvm(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.choice([-1.0, -0.5, 0.0, 0.25, 1.0], size=(9, 256))
    x[0, :] = -1.0
    x[0, 17] = 1.0  # row 1, column 1 of the 16x16 raster
    y = np.arange(9) % 10
    write_libsvm(tmp_path / "usps.bz2", x[:6], y[:6])
    write_libsvm(tmp_path / "usps.t.bz2", x[6:], y[6:])
    ds = usps.usps("usps", tmp_path)
    assert ds.views["image"].shape == (9, 16, 16) and ds.views["image"].dtype == np.uint8
    img0 = ds.views["image"][0]
    assert img0[1, 1] == 255 and img0.sum() == 255  # -1 -> 0, 1 -> 255, raster row by row
    expected = np.clip(np.rint((x + 1) * 127.5), 0, 255).astype(np.uint8).reshape(-1, 16, 16)
    np.testing.assert_array_equal(ds.views["image"], expected)
    np.testing.assert_array_equal(ds.labels, y)  # libsvm 1..10 -> 0..9, train then test
    assert ds.meta["usps_source"] == "libsvm"
    assert ds.meta["reference_counts"]["n"] == 11000
    assert any("9 298" in s for s in ds.meta["notes"])


def test_usps_all_mat_preferred_and_decoded(tmp_path):
    per = 3
    data = np.zeros((256, per, 10), dtype=np.uint8)
    for c in range(10):
        for j in range(per):
            img = np.zeros((16, 16), np.uint8)
            img[c, j] = 200  # row c, column j
            data[:, j, c] = img.ravel(order="F")  # MATLAB stores columns first
    scipy.io.savemat(tmp_path / "usps_all.mat", {"data": data})
    write_libsvm(tmp_path / "usps.bz2", -np.ones((2, 256)), np.array([0, 1]))
    ds = usps.usps("usps", tmp_path)
    assert ds.meta["usps_source"] == "usps_all" and ds.n == 30
    first = ds.views["image"][0]
    assert first[0, 0] == 200 and first.sum() == 200
    assert ds.views["image"][per * 4 + 2][4, 2] == 200
    # file classes are digits 1..9 then 0
    assert ds.class_names == [str(d) for d in range(10)]
    assert ds.labels[:per].tolist() == [1] * per and ds.labels[-per:].tolist() == [0] * per


def test_usps_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"usps_all.mat is missing.*usps.bz2.*usps.t.bz2"):
        usps.usps("usps", tmp_path)
    write_libsvm(tmp_path / "usps.bz2", -np.ones((2, 256)), np.array([0, 1]))
    with pytest.raises(DatasetError, match=r"usps.t.bz2 is missing .*download"):
        usps.usps("usps", tmp_path)
    (tmp_path / "usps.t.bz2").write_bytes(bz2.compress(b"11 1:0.5\n"))
    with pytest.raises(DatasetError, match=r"usps.t.bz2:1: label 11 is not in 1..10"):
        usps.usps("usps", tmp_path)
    (tmp_path / "usps.t.bz2").write_bytes(b"BZh9 not really bzip2")
    with pytest.raises(DatasetError, match=r"usps.t.bz2 is corrupt"):
        usps.usps("usps", tmp_path)
    with pytest.raises(DatasetError, match=r"usps_all.mat is missing: download"):
        usps.usps("usps", tmp_path, source="usps_all")


# -- COIL ----------------------------------------------------------------------------------------


def test_coil20_folder(tmp_path):
    truth = write_coil(tmp_path / "coil-20-proc", [1, 2, 10], [0, 1, 11], "L")
    ds = coil.coil20("coil20", tmp_path)
    assert ds.views["image"].shape == (9, 8, 8) and ds.views["image"].dtype == np.uint8
    assert ds.class_names == ["obj1", "obj2", "obj10"]  # numeric, not lexical, order
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    np.testing.assert_array_equal(ds.views["image"][2], truth[1, 11])  # pose 11 after pose 1
    np.testing.assert_array_equal(ds.views["image"][6], truth[10, 0])
    assert ds.meta["reference_counts"] == {
        "paper": _images.JULE_PAPER, "dataset": "COIL-20", "n": 1440, "k": 20,
        "image_size": [128, 128], "channels": 1,
    }  # fmt: skip
    assert ds.meta["obtained_counts"]["image_size"] == [8, 8]
    assert any("do not have 72 poses" in s for s in ds.meta["notes"])

    resized = coil.coil20("coil20", tmp_path, resize=[4, 6], interpolation="bilinear")
    assert resized.views["image"].shape == (9, 4, 6)
    assert resized.meta["obtained_counts"]["stored_image_size"] == [8, 8]
    jule = coil.coil20("coil20", tmp_path, resize="jule")
    assert jule.views["image"].shape == (9, 128, 128)


def test_coil20_pngs_directly_in_raw_dir_and_errors(tmp_path):
    write_coil(tmp_path, [3], [0, 1], "L")
    assert coil.coil20("c", tmp_path).n == 2
    with pytest.raises(DatasetError, match=r"resize='half'.*'jule', an int or \[height, width\]"):
        coil.coil20("c", tmp_path, resize="half")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "obj3__5.png")
    with pytest.raises(DatasetError, match=r"obj3__5.png is 8x9 .* different sizes"):
        coil.coil20("c", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"coil-20-proc/obj1__0.png is missing.*coil-20-proc"):
        coil.coil20("c", tmp_path / "empty")
    with pytest.raises(DatasetError, match=r"interpolation='cubic' is unknown"):
        _images.resize_images(np.zeros((1, 8, 8), np.uint8), (4, 4), interpolation="cubic")


def test_coil100_rgb(tmp_path):
    truth = write_coil(tmp_path / "coil-100", [1, 100], [0, 5, 355], "RGB")
    ds = coil.coil100("coil100", tmp_path)
    assert ds.views["image"].shape == (6, 8, 8, 3) and ds.views["image"].dtype == np.uint8
    assert ds.k == 2 and ds.class_names == ["obj1", "obj100"]
    np.testing.assert_array_equal(ds.views["image"][5], truth[100, 355])
    assert ds.meta["reference_counts"]["channels"] == 3
    assert ds.meta["obtained_counts"]["channels"] == 3


# -- UMist ---------------------------------------------------------------------------------------


def test_umist_mat(tmp_path):
    rng = np.random.default_rng(3)
    counts = [2, 1, 3]
    facedat = np.empty((1, 3), dtype=object)
    dirnames = np.empty((1, 3), dtype=object)
    for i, k in enumerate(counts):
        facedat[0, i] = rng.integers(0, 256, size=(112, 92, k), dtype=np.uint8)
        dirnames[0, i] = f"{i + 1}a"
    scipy.io.savemat(tmp_path / "umist_cropped.mat", {"facedat": facedat, "dirnames": dirnames})
    ds = umist.umist("umist", tmp_path)
    assert ds.views["image"].shape == (6, 112, 92) and ds.views["image"].dtype == np.uint8
    assert ds.labels.tolist() == [0, 0, 1, 2, 2, 2]
    assert ds.class_names == ["1a", "2a", "3a"]
    np.testing.assert_array_equal(ds.views["image"][3], facedat[0, 2][:, :, 0])
    np.testing.assert_array_equal(ds.views["image"][1], facedat[0, 0][:, :, 1])
    assert ds.meta["reference_counts"]["image_size"] == [112, 92]
    assert ds.meta["obtained_counts"]["image_size"] == [112, 92]


def test_umist_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"umist_cropped.mat is missing: download .*umist"):
        umist.umist("umist", tmp_path)
    scipy.io.savemat(tmp_path / "umist_cropped.mat", {"faces": np.zeros((2, 2))})
    with pytest.raises(DatasetError, match=r"no variable 'facedat' \(variables: faces\)"):
        umist.umist("umist", tmp_path)


# -- JULE HDF5 -----------------------------------------------------------------------------------


def write_h5(path: Path, data: np.ndarray, labels: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data)
        f.create_dataset("labels", data=labels)


def test_jule_h5_rgb_float_unit_range(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.random((5, 3, 32, 32)).astype(np.float32)  # N x C x H x W in [0, 1]
    write_h5(tmp_path / "data4torch.h5", x, np.array([[7], [3], [7], [9], [3]], np.float64))
    ds = jule_h5.jule_h5("frgc", tmp_path)
    img = ds.views["image"]
    assert img.shape == (5, 32, 32, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[1, :, :, 2], np.rint(x[1, 2] * 255).astype(np.uint8))
    assert ds.labels.tolist() == [1, 0, 1, 2, 0] and ds.class_names == ["3", "7", "9"]
    assert ds.meta["reference_counts"]["dataset"] == "FRGC"
    assert ds.meta["reference_counts"]["n"] == 2462
    assert "FRGC licence" in ds.meta["licence"]
    assert ds.meta["pixel_mapping"] == "[0, 1] -> x 255"


def test_jule_h5_grey_byte_range_layouts_and_resize(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(4, 1, 6, 5)).astype(np.float64)
    write_h5(tmp_path / "data4torch.h5", x, np.arange(4))
    ds = jule_h5.jule_h5("cmu-pie", tmp_path)
    assert ds.views["image"].shape == (4, 6, 5)
    np.testing.assert_array_equal(ds.views["image"], x[:, 0].astype(np.uint8))
    assert ds.meta["reference_counts"]["dataset"] == "CMU-PIE"
    jule = jule_h5.jule_h5("cmu-pie", tmp_path, resize="jule")
    assert jule.views["image"].shape == (4, 32, 32)
    # a MATLAB-written file: N x C x W x H
    write_h5(tmp_path / "matlab.h5", np.transpose(x, (0, 1, 3, 2)), np.arange(4))
    swapped = jule_h5.jule_h5("mine", tmp_path, file="matlab.h5", layout="NCWH")
    np.testing.assert_array_equal(swapped.views["image"], ds.views["image"])
    assert swapped.meta["reference_counts"] is None
    # channel-last uint8 file
    write_h5(tmp_path / "nhwc.h5", x.astype(np.uint8).transpose(0, 2, 3, 1), np.arange(4))
    last = jule_h5.jule_h5("ytf", tmp_path, file="nhwc.h5", layout="NHWC")
    np.testing.assert_array_equal(last.views["image"], ds.views["image"])


def test_jule_h5_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"data4torch.h5 is missing: put the data4torch.h5"):
        jule_h5.jule_h5("ytf", tmp_path)
    with h5py.File(tmp_path / "data4torch.h5", "w") as f:
        f.create_dataset("data", data=np.zeros((2, 1, 4, 4)))
    with pytest.raises(DatasetError, match=r"no dataset 'labels' \(it has \['data'\]\)"):
        jule_h5.jule_h5("ytf", tmp_path)
    write_h5(tmp_path / "data4torch.h5", np.full((2, 1, 4, 4), 300.0), np.arange(2))
    with pytest.raises(DatasetError, match=r"span \[300, 300\].*value_range"):
        jule_h5.jule_h5("ytf", tmp_path)
    ds = jule_h5.jule_h5("ytf", tmp_path, value_range=[0, 600])
    assert int(ds.views["image"][0, 0, 0]) == 128
    write_h5(tmp_path / "data4torch.h5", np.zeros((2, 4, 4, 4)), np.arange(2))
    with pytest.raises(DatasetError, match=r"4 channels.*layout"):
        jule_h5.jule_h5("ytf", tmp_path)
    write_h5(tmp_path / "data4torch.h5", np.zeros((2, 1, 4, 4)), np.arange(3))
    with pytest.raises(DatasetError, match=r"'labels' has shape \(3,\) but 'data' has 2"):
        jule_h5.jule_h5("ytf", tmp_path)
    (tmp_path / "data4torch.h5").write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match=r"not a readable HDF5 file"):
        jule_h5.jule_h5("ytf", tmp_path)
    with pytest.raises(DatasetError, match=r"reference='YTF2' is not a JULE data set"):
        jule_h5.jule_h5("x", tmp_path, reference="YTF2")


# -- the common format ------------------------------------------------------------------------


def test_built_dataset_round_trips_through_the_common_format(tmp_path):
    write_coil(tmp_path / "coil-100", [4, 5], [0, 5], "RGB")
    ds = coil.coil100("coil100", tmp_path)
    ds.save(tmp_path / "out")
    back = MultiViewDataset.load(tmp_path / "out")
    np.testing.assert_array_equal(back.views["image"], ds.views["image"])
    assert back.kinds == {"image": "image"}
    assert back.meta["reference_counts"]["n"] == 7200
    assert back.meta["obtained_counts"]["n"] == 4
    assert back.meta["built_by"] == "mmclust.data.builders.coil.coil100"
    for key in ("source", "url", "licence"):
        assert back.meta[key]
