"""The common data-set format, the offline sources, clustering inputs and atomic output."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mmclust.data import BUILDERS, DatasetError, MultiViewDataset, build
from mmclust.features import FeatureSet, build_input
from mmclust.features.inputs import transform_view
from mmclust.io import atomic_open, atomic_path, read_json, write_json

# -- helpers --------------------------------------------------------------------------


def _toy(n: int = 6, with_split: bool = True) -> MultiViewDataset:
    rng = np.random.default_rng(0)
    vec = np.arange(n * 3, dtype=np.float32).reshape(n, 3)  # row i holds 3i, 3i+1, 3i+2
    img = rng.integers(0, 256, size=(n, 4, 5), dtype=np.uint8)
    text = np.array(["grüße", "日本語のキャプション", "", "naïve café", "x", "emoji 🐈"][:n])
    text_mask = np.array([True, True, False, True, True, True][:n])
    img_mask = np.array([True, False, True, True, False, True][:n])
    return MultiViewDataset(
        name="toy",
        views={"vec": vec, "img": img, "caption": text},
        labels=np.arange(n) % 3,
        masks={"img": img_mask, "caption": text_mask},
        class_names=["a", "b", "c"],
        split=np.array(["train", "test"] * (n // 2)) if with_split else None,
        meta={"source": "unit test", "licence": "CC0", "reference_counts": {"n": n}},
    )


# -- MultiViewDataset ---------------------------------------------------------------------


@pytest.mark.parametrize("with_split", [True, False])
def test_save_load_round_trip(tmp_path, with_split):
    ds = _toy(with_split=with_split)
    folder = tmp_path / "toy"
    ds.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["data.npz", "meta.json"]

    back = MultiViewDataset.load(folder)
    assert back.name == "toy"
    assert back.n == 6 and back.k == 3
    assert set(back.views) == {"vec", "img", "caption"}
    for v, x in ds.views.items():
        assert back.views[v].dtype == x.dtype, v
        np.testing.assert_array_equal(back.views[v], x)
        np.testing.assert_array_equal(back.masks[v], ds.masks[v])
        assert back.masks[v].dtype == bool
    assert back.views["img"].dtype == np.uint8
    assert back.views["caption"][1] == "日本語のキャプション"
    assert back.views["caption"][5] == "emoji 🐈"
    assert back.kinds == {"vec": "vector", "img": "image", "caption": "text"}
    np.testing.assert_array_equal(back.labels, ds.labels)
    assert back.labels.dtype == np.int64
    assert back.class_names == ["a", "b", "c"]
    assert back.meta == {"source": "unit test", "licence": "CC0", "reference_counts": {"n": 6}}
    if with_split:
        assert back.split.tolist() == ["train", "test"] * 3
    else:
        assert back.split is None


def test_meta_json_describes_the_views(tmp_path):
    ds = _toy()
    ds.save(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["n"] == 6 and meta["k"] == 3
    assert meta["class_counts"] == [2, 2, 2]
    assert meta["split_counts"] == {"train": 3, "test": 3}
    assert meta["views"]["img"] == {
        "kind": "image",
        "shape": [4, 5],
        "dim": 20,
        "dtype": "uint8",
        "present": 4,
    }
    assert meta["views"]["caption"]["kind"] == "text"
    assert meta["views"]["caption"]["dim"] is None
    assert meta["views"]["caption"]["present"] == 5
    assert meta["views"]["vec"]["present"] == 6
    assert meta["source"] == "unit test"


def test_missing_masks_default_to_all_present():
    ds = MultiViewDataset("d", views={"x": np.zeros((3, 2))}, labels=[0, 1, 1])
    assert ds.masks["x"].tolist() == [True, True, True]
    assert ds.kinds["x"] == "vector"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(views={"x": np.zeros((3, 2))}), r"view 'x' has 3 rows but there are 4 labels"),
        (
            dict(views={"x": np.zeros((4, 2))}, masks={"x": np.ones(3, bool)}),
            r"mask of view 'x' must have shape \(4,\)",
        ),
        (
            dict(views={"x": np.zeros((4, 2))}, masks={"x": np.ones((4, 1), bool)}),
            r"mask of view 'x' must have shape \(4,\)",
        ),
        (
            dict(views={"x": np.zeros((4, 2))}, split=["train", "test", "val", "train"]),
            r"split must be one of 'train'/'test'",
        ),
        (
            dict(views={"x": np.zeros((4, 2))}, split=["train", "test", "train"]),
            r"split must be one of 'train'/'test'",
        ),
        (dict(views={"a__b": np.zeros((4, 2))}), r"invalid view name 'a__b'"),
        (dict(views={"": np.zeros((4, 2))}), r"invalid view name ''"),
        (dict(views={}), r"at least one view"),
        (
            dict(views={"x": np.zeros((4, 2))}, masks={"y": np.ones(4, bool)}),
            r"masks for unknown views \['y'\]",
        ),
    ],
)
def test_validation_errors_name_the_problem(kwargs, message):
    with pytest.raises(DatasetError, match=message) as info:
        MultiViewDataset(name="bad", labels=[0, 1, 0, 1], **kwargs)
    assert str(info.value).startswith("bad: ")


def test_two_dimensional_labels_are_rejected():
    with pytest.raises(DatasetError, match="labels must be 1-d"):
        MultiViewDataset("bad", views={"x": np.zeros((2, 2))}, labels=[[0], [1]])


def test_scalar_labels_raise_dataset_error():
    with pytest.raises(DatasetError, match="labels must be 1-d"):
        MultiViewDataset("bad", views={"x": np.zeros((2, 2))}, labels=0)


def test_constructor_does_not_mutate_the_callers_dicts():
    masks: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    MultiViewDataset("a", views={"x": np.zeros((3, 2))}, labels=[0, 1, 0], masks=masks)
    MultiViewDataset("b", views={"x": np.zeros((4, 2))}, labels=[0, 1, 0, 1], masks=masks)
    MultiViewDataset("c", views={"x": np.zeros((4, 2))}, labels=[0, 1, 0, 1], kinds=kinds)
    assert masks == {} and kinds == {}


def test_object_string_view_round_trips_as_text(tmp_path):
    captions = np.array(["a cat", "a dog", "two birds"], dtype=object)
    ds = MultiViewDataset("caps", views={"caption": captions}, labels=[0, 1, 0])
    ds.save(tmp_path)
    back = MultiViewDataset.load(tmp_path)
    assert back.kinds["caption"] == "text"
    assert back.views["caption"].tolist() == ["a cat", "a dog", "two birds"]


def test_load_missing_folder_says_how_to_prepare(tmp_path):
    folder = tmp_path / "never_built"
    with pytest.raises(DatasetError, match="prepare the data set first") as info:
        MultiViewDataset.load(folder)
    assert "data.npz" in str(info.value)


def test_load_without_meta_raises(tmp_path):
    _toy().save(tmp_path)
    (tmp_path / "meta.json").unlink()
    with pytest.raises(DatasetError, match=r"meta\.json does not exist"):
        MultiViewDataset.load(tmp_path)


@pytest.mark.parametrize("index", [np.array([5, 0, 3]), np.array([1, 0, 0, 1, 0, 1], bool)])
def test_subset_keeps_views_and_masks_aligned(index):
    ds = _toy()
    sub = ds.subset(index)
    rows = np.arange(ds.n)[index]
    assert sub.n == len(rows)
    np.testing.assert_array_equal(sub.labels, ds.labels[rows])
    for v in ds.views:
        np.testing.assert_array_equal(sub.views[v], ds.views[v][rows])
        np.testing.assert_array_equal(sub.masks[v], ds.masks[v][rows])
    # the vector view encodes its row number: row r holds 3r, 3r+1, 3r+2
    np.testing.assert_array_equal(sub.views["vec"][:, 0] // 3, rows)
    np.testing.assert_array_equal(sub.split, ds.split[rows])
    assert sub.kinds == ds.kinds and sub.kinds is not ds.kinds
    assert sub.class_names == ds.class_names
    assert sub.meta == ds.meta


# -- offline sources ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mfeat() -> MultiViewDataset:
    return build("mfeat", "mfeat")


def test_mfeat(mfeat):
    assert mfeat.name == "mfeat"
    assert mfeat.n == 2000 and mfeat.k == 10
    dims = {v: x.shape[1] for v, x in mfeat.views.items()}
    assert dims == {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
    assert list(mfeat.views) == ["fou", "fac", "kar", "pix", "zer", "mor"]
    assert np.bincount(mfeat.labels).tolist() == [200] * 10
    for v, x in mfeat.views.items():
        assert x.shape[0] == 2000 and x.dtype == np.float32, v
        assert mfeat.masks[v].all()
        assert mfeat.kinds[v] == "vector"
    assert mfeat.class_names == [str(i) for i in range(10)]
    assert mfeat.meta["reference_counts"] == {"n": 2000, "k": 10}


def test_mfeat_view_selection():
    ds = build("mfeat", "m2", {"views": ["kar", "fou"]})
    assert ds.name == "m2"
    assert list(ds.views) == ["kar", "fou"]
    with pytest.raises(DatasetError, match="mfeat has no views"):
        build("mfeat", "m3", {"views": ["fou", "colour"]})


def test_mnist5k():
    ds = build("mnist5k", "mnist5k")
    img = ds.views["image"]
    assert img.shape == (5000, 28, 28)
    assert img.dtype == np.uint8
    assert img.max() == 255 and img.min() == 0
    assert np.bincount(ds.labels).tolist() == [500] * 10
    assert ds.kinds == {"image": "image"}
    assert ds.n == 5000 and ds.k == 10


def test_digits():
    ds = build("digits", "digits")
    img = ds.views["image"]
    assert img.shape == (1797, 8, 8) and img.dtype == np.uint8
    assert img.max() == 255
    assert ds.n == 1797 and ds.k == 10
    assert ds.kinds == {"image": "image"}


def test_unknown_source():
    assert {"mfeat", "mnist5k", "digits"} <= set(BUILDERS)
    with pytest.raises(DatasetError, match=r"unknown data source 'nope'; known sources: \["):
        build("nope", "nope")


def test_build_rejects_unknown_options_naming_them():
    with pytest.raises(DatasetError, match=r"no option\(s\) \['no_such_option'\].*\['views'\]"):
        build("mfeat", "mfeat", {"no_such_option": 1})


# -- clustering inputs ------------------------------------------------------------------------


def test_scale_divides_uint8_by_255():
    img = np.array([[[0, 51], [102, 255]], [[255, 0], [0, 0]]], dtype=np.uint8)
    ds = MultiViewDataset("s", views={"image": img}, labels=[0, 1])
    fs = build_input(ds, ["image"], "scale")
    assert fs.X.dtype == np.float32
    np.testing.assert_allclose(fs.X, [[0.0, 0.2, 0.4, 1.0], [1.0, 0.0, 0.0, 0.0]])
    assert fs.mask.tolist() == [True, True]


def test_scale_leaves_float_views_unchanged_and_none_keeps_values():
    x = np.array([[1.5, -2.0], [300.0, 0.25]])
    np.testing.assert_array_equal(transform_view(x, np.ones(2, bool), "scale"), x)
    img = np.array([[7, 200]], dtype=np.uint8)
    out = transform_view(img, np.ones(1, bool), "none")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[7.0, 200.0]])


def test_standardize_over_present_samples():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(40, 4)).astype(np.float32)
    x[:, 2] = 7.5  # a constant feature
    x[5, :] = 1e6  # a sample without the view: its values must not count
    mask = np.ones(40, bool)
    mask[[5, 9]] = False
    ds = MultiViewDataset("z", views={"v": x}, labels=np.zeros(40, int), masks={"v": mask})
    fs = build_input(ds, ["v"], "standardize")
    present = fs.X[mask]
    np.testing.assert_allclose(present[:, [0, 1, 3]].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(present[:, [0, 1, 3]].std(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fs.X[:, 2], 0.0)  # constant feature stays 0
    np.testing.assert_array_equal(fs.X[~mask], 0.0)  # absent samples are 0
    assert fs.mask.tolist() == mask.tolist()
    assert fs.X.dtype == np.float32
    # by hand on the first feature: (x - mean) / std with the population std
    col = x[mask, 0].astype(np.float64)
    np.testing.assert_allclose(present[:, 0], (col - col.mean()) / col.std(), rtol=1e-5)


def test_standardize_keeps_float64_constant_features_at_zero():
    x = np.full((3, 1), 0.1)  # float64
    out = transform_view(x, np.ones(3, bool), "standardize")
    np.testing.assert_array_equal(out, 0.0)


def test_concatenated_views_and_masks():
    a = np.arange(8, dtype=np.float32).reshape(4, 2)
    b = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(4, 2, 3)
    mask_a = np.array([True, True, False, True])
    mask_b = np.array([True, False, True, True])
    ds = MultiViewDataset(
        "c", views={"a": a, "b": b}, labels=[0, 1, 0, 1], masks={"a": mask_a, "b": mask_b}
    )
    fs = build_input(ds, ["a", "b"], "none")
    assert fs.X.shape == (4, 2 + 6)
    assert fs.mask.tolist() == [True, False, False, True]  # AND of the masks
    np.testing.assert_array_equal(fs.X[:, :2], a)
    np.testing.assert_array_equal(fs.X[:, 2:], b.reshape(4, 6))
    # order of views follows the request
    fs2 = build_input(ds, ["b", "a"], "none")
    np.testing.assert_array_equal(fs2.X[:, :6], b.reshape(4, 6))
    # each view is standardised on its own samples, absent entries are 0
    fs3 = build_input(ds, ["a", "b"], "standardize")
    np.testing.assert_array_equal(fs3.X[2, :2], 0.0)
    np.testing.assert_array_equal(fs3.X[1, 2:], 0.0)


def test_text_view_cannot_be_used_as_numbers():
    ds = _toy()
    with pytest.raises(DatasetError, match="text view"):
        build_input(ds, ["vec", "caption"], "scale")


def test_build_input_errors():
    ds = _toy()
    with pytest.raises(DatasetError, match=r"has no view\(s\) \['audio'\]"):
        build_input(ds, ["vec", "audio"])
    with pytest.raises(DatasetError, match="unknown transform 'log'"):
        build_input(ds, ["vec"], "log")


def test_feature_set_round_trip(tmp_path):
    fs = build_input(_toy(), ["vec", "img"], "scale")
    path = tmp_path / "sub" / "input.npz"
    fs.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["input.npz"]
    back = FeatureSet.load(path)
    np.testing.assert_array_equal(back.X, fs.X)
    np.testing.assert_array_equal(back.mask, fs.mask)
    with pytest.raises(DatasetError, match="build the features first"):
        FeatureSet.load(tmp_path / "missing.npz")


# -- atomic output ------------------------------------------------------------------------


class _Boom(RuntimeError):
    pass


def test_atomic_path_failure_leaves_nothing_and_target_untouched(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(_Boom), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new, half written")
        raise _Boom
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_path_failure_creates_no_file(tmp_path):
    target = tmp_path / "deep" / "out.npy"
    with pytest.raises(_Boom), atomic_path(target, suffix=".npy") as tmp:
        assert tmp.name.endswith(".npy")
        np.save(tmp, np.arange(3))
        raise _Boom
    assert not target.exists()
    assert list((tmp_path / "deep").iterdir()) == []


def test_atomic_path_success_replaces_target(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # not visible until the body ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_open_and_json(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": np.int64(3), "b": np.arange(2), "c": tmp_path, "d": np.float32(0.5)})
    assert read_json(path) == {"a": 3, "b": [0, 1], "c": str(tmp_path), "d": 0.5}
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        write_json(path, {"bad": object()})
    # the failed write left the earlier file in place and no temporary behind
    assert read_json(path)["a"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
    with pytest.raises(_Boom), atomic_open(tmp_path / "y.txt") as fh:
        fh.write("partial")
        raise _Boom
    assert not (tmp_path / "y.txt").exists()


def test_atomic_output_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "shared.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "shared.json").stat().st_mode & 0o777 == 0o644
