"""Input transforms on every kind of input, their fitted statistics, and the input keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmclust import cli
from mmclust.data import DatasetError, build
from mmclust.data.dataset import MultiViewDataset
from mmclust.data.mixed import make_mixed_modal
from mmclust.features.combine import combine_inputs, part_of_composite
from mmclust.features.extract import build_extracted_input
from mmclust.features.inputs import (
    FeatureSet,
    build_input,
    check_input_spec,
    transform_view,
    unit_power_scale,
)
from mmclust.features.specs import input_transform


def _power(x: np.ndarray, rows: np.ndarray | None = None) -> float:
    """Mean over the rows of (1/d) ||x_i||^2."""
    x = np.asarray(x, dtype=np.float64)
    if rows is not None:
        x = x[rows]
    return float(np.mean(np.sum(x * x, axis=1)) / x.shape[1])


# -- unit_power on hand-checked cases ----------------------------------------------------


def test_unit_power_by_hand() -> None:
    x = np.array([[3.0, 4.0], [7.0, 7.0], [1.0, 1.0]])
    mask = np.array([True, False, True])
    # present rows: (9 + 16) / 2 = 12.5 and (1 + 1) / 2 = 1; mean 6.75
    s = 1.0 / np.sqrt(6.75)
    assert unit_power_scale(x, mask) == pytest.approx(s)
    out = transform_view(x, mask, "unit_power")
    np.testing.assert_allclose(out, [[3 * s, 4 * s], [0.0, 0.0], [s, s]], rtol=1e-6)
    assert _power(out, mask) == pytest.approx(1.0)
    # fitted on the training rows only (row 0: power 12.5), applied to every present row
    train = np.array([True, True, False])
    out = transform_view(x, mask, "unit_power", fit_rows=train)
    t = 1.0 / np.sqrt(12.5)
    np.testing.assert_allclose(out, [[3 * t, 4 * t], [0.0, 0.0], [t, t]], rtol=1e-6)


def test_unit_power_changes_the_scale_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.05, (40, 6)) + np.array([1, -2, 0, 0, 3, 0.5]) * 0.1
    mask = np.ones(40, bool)
    out = transform_view(x, mask, "unit_power").astype(np.float64)
    ratio = out / x
    assert np.allclose(ratio, ratio[0, 0], rtol=1e-5)  # one scalar for the whole view
    assert _power(out) == pytest.approx(1.0, rel=1e-5)
    # a view of zeros has nothing to scale: it stays zero
    zeros = np.zeros((3, 4))
    np.testing.assert_array_equal(transform_view(zeros, np.ones(3, bool), "unit_power"), zeros)


def test_standardize_uses_the_training_rows() -> None:
    x = np.array([[0.0], [2.0], [10.0], [100.0]])
    mask = np.array([True, True, True, False])
    train = np.array([True, True, False, True])
    out = transform_view(x, mask, "standardize", fit_rows=train)
    # mean 1, std 1 over rows 0 and 1 (row 3 is absent, row 2 is test)
    np.testing.assert_allclose(out.ravel(), [-1.0, 1.0, 9.0, 0.0])


def test_raw_input_statistics_come_from_the_training_split() -> None:
    x = np.array([[1.0, 0.0], [3.0, 0.0], [50.0, 0.0], [-50.0, 0.0]])
    ds = MultiViewDataset(
        name="toy",
        views={"a": x},
        labels=[0, 1, 0, 1],
        split=np.array(["train", "train", "test", "test"]),
    )
    fs = build_input(ds, ["a"], "standardize")
    np.testing.assert_allclose(fs.X[:, 0], [-1.0, 1.0, 48.0, -52.0])
    fs = build_input(ds, ["a"], "unit_power")
    # (1/2) mean(1, 9) = 2.5 over the training rows
    np.testing.assert_allclose(fs.X[:, 0], x[:, 0] / np.sqrt(2.5), rtol=1e-6)


# -- every kind of input applies its transform ---------------------------------------------


@pytest.fixture(scope="module")
def captioned() -> MultiViewDataset:
    ds = build("synthetic_captions", "cap", {"source": "digits", "seed": 0, "missing_rate": 0.2})
    return ds.subset(np.arange(300))


def test_transform_on_an_extractor_input_changes_its_features(captioned) -> None:
    spec = {"views": ["text"], "extractor": "bow", "options": {"vocab_size": 50}, "pca_dim": 5}
    plain = build_extracted_input(captioned, spec)
    scaled = build_extracted_input(captioned, {**spec, "transform": "unit_power"})
    has = captioned.masks["text"]
    assert _power(plain.X, has) != pytest.approx(1.0, rel=1e-2)
    assert _power(scaled.X, has) == pytest.approx(1.0, rel=1e-5)
    # applied after PCA, as one scalar
    s = scaled.X[has] / plain.X[has]
    assert np.allclose(s[np.isfinite(s)], np.nanmedian(s), rtol=1e-4)
    assert not scaled.X[~has].any()
    standardized = build_extracted_input(captioned, {**spec, "transform": "standardize"})
    np.testing.assert_allclose(standardized.X[has].std(0), 1.0, rtol=1e-4)


def test_extractor_transform_is_fitted_on_the_training_split(captioned) -> None:
    mixed = make_mixed_modal(captioned, seed=1, test_fraction=0.25)
    spec = {
        "views": ["text"],
        "extractor": "bow",
        "options": {"vocab_size": 40},
        "pca_dim": 4,
        "transform": "unit_power",
    }
    fs = build_extracted_input(mixed, spec)
    train = (mixed.split == "train") & mixed.masks["text"]
    assert _power(fs.X, train) == pytest.approx(1.0, rel=1e-5)
    test = (mixed.split == "test") & mixed.masks["text"]
    assert _power(fs.X, test) != pytest.approx(1.0, rel=1e-6)


def test_composite_transform_applies_to_each_part_and_its_matrix() -> None:
    rng = np.random.default_rng(0)
    a = FeatureSet(X=(rng.normal(size=(50, 3)) * 100).astype(np.float32), mask=np.ones(50, bool))
    mask_b = rng.random(50) > 0.3
    xb = (rng.normal(size=(50, 4)) * 0.01).astype(np.float32)
    xb[~mask_b] = 0
    b = FeatureSet(X=xb, mask=mask_b)
    plain = combine_inputs([a, b], ["img", "txt"])
    np.testing.assert_array_equal(plain.parts["img"], a.X)  # none: the parts as built
    fs = combine_inputs([a, b], ["img", "txt"], transform="unit_power")
    assert _power(fs.parts["img"]) == pytest.approx(1.0, rel=1e-5)
    assert _power(fs.parts["txt"], mask_b) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_array_equal(fs.X, np.concatenate([fs.parts["img"], fs.parts["txt"]], 1))
    np.testing.assert_array_equal(fs.part_masks["txt"], mask_b)
    st = combine_inputs([a, b], ["img", "txt"], transform="standardize")
    np.testing.assert_allclose(st.parts["txt"][mask_b].std(0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(st.parts["img"].mean(0), 0.0, atol=1e-5)
    # with a split: fitted on the training rows of each part
    train = np.arange(50) < 20
    sp = combine_inputs([a, b], ["img", "txt"], transform="unit_power", train=train)
    assert _power(sp.parts["img"], train) == pytest.approx(1.0, rel=1e-5)
    assert _power(sp.parts["txt"], train & mask_b) == pytest.approx(1.0, rel=1e-5)
    part = part_of_composite(fs, "txt")
    np.testing.assert_array_equal(part.X, fs.parts["txt"])
    np.testing.assert_array_equal(part.mask, mask_b)
    with pytest.raises(DatasetError, match="no part 'audio'"):
        part_of_composite(fs, "audio")


def _features_cli(tmp_path: Path, kind: str, spec: dict, *args: str) -> FeatureSet:
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.npz"
    settings = json.dumps({"kind": kind, "spec": spec})
    code = cli.main(["features", "--settings", settings, *args, "--out", str(out)])
    assert code == 0
    return FeatureSet.load(out)


def test_features_command_applies_every_transform(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 30
    ds = MultiViewDataset(
        name="toy",
        views={"a": rng.normal(size=(n, 3)) * 10, "b": rng.normal(size=(n, 2)) * 0.1},
        labels=np.arange(n) % 2,
        split=np.where(np.arange(n) < 20, "train", "test"),
    )
    ds.save(tmp_path / "ds")
    data = str(tmp_path / "ds" / "data.npz")
    train = np.arange(n) < 20
    a = _features_cli(
        tmp_path, "plain", {"views": ["a"], "transform": "unit_power"}, "--data", data
    )
    assert _power(a.X, train) == pytest.approx(1.0, rel=1e-5)
    b = _features_cli(tmp_path, "plain", {"views": ["b"], "transform": "none"}, "--data", data)
    a.save(tmp_path / "a.npz")
    b.save(tmp_path / "b.npz")
    parts = ["--parts", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]
    comp = _features_cli(
        tmp_path,
        "combine",
        {"combine": ["a", "b"], "transform": "unit_power"},
        *parts,
        "--data",
        data,
    )
    assert _power(comp.parts["b"], train) == pytest.approx(1.0, rel=1e-5)
    assert _power(comp.parts["b"]) != pytest.approx(1.0, rel=1e-6)
    comp_path = tmp_path / "comp.npz"
    comp.save(comp_path)
    part = _features_cli(
        tmp_path, "part", {"part_of": "pair", "part": "b"}, "--composite", str(comp_path)
    )
    np.testing.assert_array_equal(part.X, comp.parts["b"])
    # a run's representation (from_run)
    emb = tmp_path / "emb.npy"
    np.save(emb, rng.normal(size=(n, 4)) * 7)
    run = _features_cli(
        tmp_path,
        "from_run",
        {"from_run": {"input": "a", "method": "m", "seed": 0}, "transform": "unit_power"},
        "--embedding",
        str(emb),
        "--data",
        data,
    )
    assert _power(run.X, train) == pytest.approx(1.0, rel=1e-5)


# -- keys each kind of input takes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"combine": ["a", "b"], "options": {"x": 1}},
            r"inputs\.d\.i\.options: an input made with combine does not use 'options' "
            r"\(it takes: combine, mode, transform, factor\)",
        ),
        (
            {"views": ["image"], "mode": "concat"},
            r"inputs\.d\.i\.mode: an input made with raw views does not use 'mode' "
            r"\(it takes: views, transform, factor, pca_dim, image_size, image_mode\)",
        ),
        (
            {"views": ["text"], "extractor": "bow", "combine_with": "x"},
            r"inputs\.d\.i\.combine_with: an input made with extractor does not use",
        ),
        ({"from_model": {"layer": "top"}, "transform": "unit_power"}, r"inputs\.d\.i\.transform"),
        (
            {"from_run": {"input": "a"}, "pca_dim": 3},
            r"inputs\.d\.i\.pca_dim: an input made with from_run does not use 'pca_dim'",
        ),
        (
            {"views": ["image"], "transform": "standardize", "factor": 0.02},
            r"inputs\.d\.i\.factor: 'factor' applies to transform: scale only",
        ),
        ({"views": ["image"], "transform": "whiten"}, r"unknown transform 'whiten'"),
    ],
)
def test_unused_input_keys_are_errors_naming_them(spec: dict, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        check_input_spec(spec, "inputs.d.i")


def test_input_transform_defaults() -> None:
    assert input_transform({"views": ["image"]}) == "standardize"
    assert input_transform({"views": ["text"], "extractor": "doc2vec"}) == "none"
    assert input_transform({"combine": ["a", "b"]}) == "none"
    assert input_transform({"from_run": {}}) == "none"
    assert input_transform({"views": ["image"], "transform": "unit_power"}) == "unit_power"
    check_input_spec({"views": ["image"], "transform": "scale", "factor": 0.02})
    check_input_spec({"views": ["text"], "extractor": "doc2vec", "transform": "unit_power"})


def test_features_command_rejects_an_unused_key(tmp_path: Path, caplog) -> None:
    settings = {"kind": "extractor", "spec": {"views": ["a"], "extractor": "bow", "mode": "pool"}}
    code = cli.main(
        ["features", "--settings", json.dumps(settings), "--out", str(tmp_path / "x.npz")]
    )
    assert code == 2
    assert "does not use 'mode'" in caplog.text


def test_transform_on_an_extractor_input_reaches_its_file_through_the_plan(
    captioned, tmp_path: Path
) -> None:
    """The plan hands an extractor input's transform to the features job, which applies it."""
    import yaml

    from mmclust.features.build import build_feature_set
    from mmclust.plan import Plan
    from tests.helpers import TINY

    mixed = make_mixed_modal(captioned, seed=1, test_fraction=0.25)
    mixed.save(tmp_path / "ds")
    files = {"data": str(tmp_path / "ds" / "data.npz")}
    cfg = yaml.safe_load(TINY.read_text())
    built = {}
    for transform in (None, "unit_power"):
        if transform:
            cfg["inputs"]["captioned-mixed"]["bow"]["transform"] = transform
        settings = Plan(cfg).feature_settings("captioned-mixed", "bow")
        built[transform] = build_feature_set(json.loads(json.dumps(settings)), files)
    plain, scaled = built[None], built["unit_power"]
    train = (mixed.split == "train") & mixed.masks["text"]
    assert not np.allclose(plain.X, scaled.X)
    assert _power(plain.X, train) != pytest.approx(1.0, rel=1e-2)
    assert _power(scaled.X, train) == pytest.approx(1.0, rel=1e-5)
