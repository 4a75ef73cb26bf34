"""Extractor-based inputs on real offline data (synthetic captions over digits)."""

from __future__ import annotations

import numpy as np
import pytest

from mmclust.data import DatasetError, build
from mmclust.data.mixed import make_mixed_modal
from mmclust.features.extract import build_extracted_input


@pytest.fixture(scope="module")
def captioned():
    ds = build("synthetic_captions", "cap", {"source": "digits", "seed": 0, "missing_rate": 0.2})
    return ds.subset(np.arange(300))


def test_image_extractor_keeps_rows_and_mask(captioned) -> None:
    spec = {
        "views": ["image"],
        "extractor": "efficientnet_lite0",
        "options": {"image_size": 32, "batch_size": 50},
    }
    fs = build_extracted_input(captioned, spec, device="cpu")
    assert fs.X.shape == (300, 1280) and fs.X.dtype == np.float32
    assert fs.mask.all()
    again = build_extracted_input(captioned.subset(np.arange(10)), spec, device="cpu")
    np.testing.assert_allclose(again.X, fs.X[:10], rtol=1e-4, atol=1e-5)


def test_text_extractor_leaves_missing_captions_masked(captioned) -> None:
    spec = {"views": ["text"], "extractor": "bow", "options": {"vocab_size": 50}, "pca_dim": 5}
    fs = build_extracted_input(captioned, spec)
    missing = ~captioned.masks["text"]
    assert missing.any()
    assert fs.X.shape == (300, 5)
    np.testing.assert_array_equal(fs.mask, captioned.masks["text"])
    assert not fs.X[missing].any()


def test_fitting_uses_the_training_split_only(captioned) -> None:
    mixed = make_mixed_modal(captioned, seed=1, test_fraction=0.25)
    spec = {"views": ["text"], "extractor": "bow", "options": {"vocab_size": 40}, "pca_dim": 3}
    fs = build_extracted_input(mixed, spec)
    # changing a test caption leaves every training row unchanged
    test_rows = np.flatnonzero((mixed.split == "test") & mixed.masks["text"])
    changed = make_mixed_modal(captioned, seed=1, test_fraction=0.25)
    changed.views["text"] = changed.views["text"].copy()
    changed.views["text"][test_rows[0]] = "zebra zebra zebra giraffe"
    fs2 = build_extracted_input(changed, spec)
    train = mixed.split == "train"
    np.testing.assert_allclose(fs.X[train], fs2.X[train], atol=1e-6)


def test_wrong_view_kind_is_a_clear_error(captioned) -> None:
    with pytest.raises(DatasetError, match="needs a text view"):
        build_extracted_input(captioned, {"views": ["image"], "extractor": "doc2vec"})
    with pytest.raises(DatasetError, match="exactly one view"):
        build_extracted_input(captioned, {"views": ["image", "text"], "extractor": "bow"})
