"""Mixed-modal conversion: one view per sample, seeded, stratified split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmclust.data import DatasetError, MultiViewDataset
from mmclust.data.mixed import make_mixed_modal


def _paired(n=20000, k=7, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, size=n)
    labels[:k] = np.arange(k)
    return MultiViewDataset(
        name="pairs",
        views={
            "image": rng.normal(size=(n, 4)).astype(np.float32) + 1.0,
            "text": np.array([f"caption {i}" for i in range(n)]),
        },
        labels=labels,
        kinds={"image": "vector", "text": "text"},
        class_names=[f"c{i}" for i in range(k)],
        split=np.where(np.arange(n) % 2 == 0, "train", "test"),
        meta={"source": "test"},
    )


def test_every_sample_keeps_exactly_one_view():
    ds = _paired()
    mixed = make_mixed_modal(ds, p_first=0.5, test_fraction=1 / 3, seed=0)
    img, txt = mixed.masks["image"], mixed.masks["text"]
    assert mixed.n == ds.n
    assert np.all(img ^ txt)
    assert abs(img.mean() - 0.5) < 0.015
    # the dropped view is blanked, the kept one unchanged
    assert (mixed.views["text"][img] == "").all()
    assert np.array_equal(mixed.views["text"][txt], ds.views["text"][txt])
    assert (mixed.views["image"][txt] == 0).all()
    assert np.array_equal(mixed.views["image"][img], ds.views["image"][img])
    # stratified: every class within ±1 of its exact test share
    for c in range(7):
        members = mixed.labels == c
        n_test = int((mixed.split[members] == "test").sum())
        assert abs(n_test - members.sum() / 3) <= 1
    counts = mixed.meta["mixed_modal"]["counts"]
    assert counts["image_only"]["train"] + counts["image_only"]["test"] == int(img.sum())
    assert counts["text_only"]["test"] == int((txt & (mixed.split == "test")).sum())
    assert mixed.meta["mixed_modal"]["replaced_split_counts"] == {"train": 10000, "test": 10000}
    assert mixed.meta["source"] == "test"


def test_p_first_is_respected():
    ds = _paired(n=10000)
    mixed = make_mixed_modal(ds, p_first=0.8, seed=1)
    assert abs(mixed.masks["image"].mean() - 0.8) < 0.02
    all_text = make_mixed_modal(ds, p_first=0.0, seed=1)
    assert not all_text.masks["image"].any() and all_text.masks["text"].all()


def test_same_seed_identical_other_seed_different():
    ds = _paired(n=3000)
    a = make_mixed_modal(ds, seed=4)
    b = make_mixed_modal(ds, seed=4)
    for v in ("image", "text"):
        assert np.array_equal(a.views[v], b.views[v])
        assert np.array_equal(a.masks[v], b.masks[v])
    assert np.array_equal(a.split, b.split)
    c = make_mixed_modal(ds, seed=5)
    assert not np.array_equal(a.masks["image"], c.masks["image"])
    assert not np.array_equal(a.split, c.split)


def test_partially_paired_and_unpaired_samples():
    ds = _paired(n=12, k=3)
    masks = {
        "image": np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0], dtype=bool),
        "text": np.array([1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1], dtype=bool),
    }
    ds = MultiViewDataset(name="p", views=ds.views, labels=ds.labels, masks=masks,
                          kinds=ds.kinds, class_names=ds.class_names)  # fmt: skip
    mixed = make_mixed_modal(ds, test_fraction=0.25, seed=0, name="p_mixed")
    assert mixed.name == "p_mixed"
    assert mixed.n == 11  # sample 4 had neither view
    assert mixed.meta["mixed_modal"]["dropped_without_either_view"] == 1
    kept = np.delete(np.arange(12), 4)
    img, txt = mixed.masks["image"], mixed.masks["text"]
    assert np.all(img ^ txt)
    assert img[list(kept).index(2)] and txt[list(kept).index(3)] and txt[list(kept).index(11)]
    for c in np.unique(mixed.labels):
        m = mixed.labels == c
        assert (mixed.split[m] == "test").sum() == math.floor(0.25 * m.sum() + 0.5)


def test_save_load_and_bad_arguments(tmp_path):
    mixed = make_mixed_modal(_paired(n=200), seed=0)
    mixed.save(tmp_path / "m")
    back = MultiViewDataset.load(tmp_path / "m")
    assert np.array_equal(back.masks["image"], mixed.masks["image"])
    assert back.meta["mixed_modal"]["seed"] == 0
    with pytest.raises(DatasetError, match="no view"):
        make_mixed_modal(_paired(n=20), views=("image", "caption"))
    with pytest.raises(DatasetError, match="p_first"):
        make_mixed_modal(_paired(n=20), p_first=1.5)
    with pytest.raises(DatasetError, match="two different views"):
        make_mixed_modal(_paired(n=20), views=("image", "image"))
