"""Composite inputs, derived data sets and sweep summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.data.derive import derive_dataset, derive_rows
from mmclust.features.combine import combine_inputs, derive_input
from mmclust.features.inputs import FeatureSet, build_input
from mmclust.report.sweeps import sweep_summary


def _paired(n: int = 60) -> MultiViewDataset:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    return MultiViewDataset(
        name="toy",
        views={"image": rng.normal(size=(n, 4)), "text": np.array([f"c{i}" for i in range(n)])},
        labels=labels,
    )


def test_derived_rows_are_reproducible_and_count_exactly() -> None:
    ds = _paired()
    rows, masks = derive_rows(ds, per_class=7, missing={"view": "text", "rate": 0.3}, seed=4)
    again = derive_rows(ds, per_class=7, missing={"view": "text", "rate": 0.3}, seed=4)
    assert np.array_equal(rows, again[0]) and np.array_equal(masks["text"], again[1]["text"])
    assert np.bincount(ds.labels[rows]).tolist() == [7, 7, 7]
    assert np.all(np.diff(rows) > 0)
    assert (~masks["text"]).sum() == 6  # floor(0.3 * 21 + 0.5)
    assert masks["image"].all()
    other = derive_rows(ds, per_class=7, missing={"view": "text", "rate": 0.3}, seed=5)
    assert not np.array_equal(rows, other[0])


def test_derived_dataset_blanks_removed_captions_and_records_it() -> None:
    out = derive_dataset(_paired(), {"missing": {"view": "text", "rate": 0.5}, "seed": 0}, "d")
    gone = ~out.masks["text"]
    assert gone.sum() == 30 and (out.views["text"][gone] == "").all()
    assert out.meta["derived"]["present"]["text"] == 30
    with pytest.raises(DatasetError, match="no view 'audio'"):
        derive_rows(_paired(), missing={"view": "audio", "rate": 0.1})


def test_a_sample_never_loses_its_only_view() -> None:
    ds = _paired(10)
    ds.masks["image"][:4] = False
    _, masks = derive_rows(ds, missing={"view": "text", "rate": 1.0})
    assert masks["text"][:4].all() and not masks["text"][4:].any()


def test_derived_input_restricts_the_base_features() -> None:
    ds = _paired()
    base = build_input(ds, ["image"], "none")
    spec = {"per_class": 5, "missing": {"view": "text", "rate": 0.4}, "seed": 1}
    rows, masks = derive_rows(ds, 5, spec["missing"], 1)
    img = derive_input(base, ds, spec, ["image"])
    assert np.array_equal(img.X, base.X[rows]) and img.mask.all()
    txt_base = FeatureSet(X=np.ones((60, 2), np.float32), mask=np.ones(60, bool))
    txt = derive_input(txt_base, ds, spec, ["text"])
    assert np.array_equal(txt.mask, masks["text"])
    assert (txt.X[~txt.mask] == 0).all()


def test_combine_concat_and_pool() -> None:
    a = FeatureSet(X=np.arange(6, dtype=np.float32).reshape(3, 2), mask=np.array([1, 1, 0], bool))
    b = FeatureSet(X=np.ones((3, 2), np.float32), mask=np.array([0, 1, 1], bool))
    cat = combine_inputs([a, b], ["a", "b"])
    assert cat.X.shape == (3, 4) and cat.mask.tolist() == [False, True, False]
    assert list(cat.parts) == ["a", "b"] and np.array_equal(cat.part_masks["b"], b.mask)
    with pytest.raises(DatasetError, match="at most one of the parts"):
        combine_inputs([a, b], ["a", "b"], mode="pool")
    b.mask = np.array([0, 0, 1], bool)
    pooled = combine_inputs([a, b], ["a", "b"], mode="pool")
    assert pooled.X.tolist() == [[0, 1], [2, 3], [1, 1]] and pooled.mask.all()
    with pytest.raises(DatasetError, match="equal width"):
        combine_inputs([a, FeatureSet(np.ones((3, 5), np.float32), b.mask)], ["a", "c"], "pool")


def test_composite_feature_file_round_trip(tmp_path) -> None:
    a = FeatureSet(X=np.ones((3, 2), np.float32), mask=np.ones(3, bool))
    b = FeatureSet(X=np.zeros((3, 1), np.float32), mask=np.array([1, 0, 1], bool))
    combine_inputs([a, b], ["img", "txt"]).save(tmp_path / "c.npz")
    back = FeatureSet.load(tmp_path / "c.npz")
    assert list(back.parts) == ["img", "txt"] and back.parts["txt"].shape == (3, 1)
    assert back.part_masks["txt"].tolist() == [True, False, True]


def test_sweep_summary_means_and_stds() -> None:
    runs = pd.DataFrame(
        {
            "dataset": ["d.a", "d.a", "d.b", "d.b"],
            "input": ["p"] * 4,
            "method": ["m"] * 4,
            "seed": [0, 1, 0, 1],
            "acc": [0.5, 0.7, 0.9, 0.9],
        }
    )
    points = [
        {"dataset": "d.a", "input": "p", "method": "m", "series": "M", "x": 0.1},
        {"dataset": "d.b", "input": "p", "method": "m", "series": "M", "x": 0.2},
    ]
    s = sweep_summary(runs, points, ["acc"])
    assert s["x"].tolist() == [0.1, 0.2]
    assert s["mean"].tolist() == pytest.approx([0.6, 0.9])
    assert s["std"].tolist() == pytest.approx([np.std([0.5, 0.7], ddof=1), 0.0])
