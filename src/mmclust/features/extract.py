"""Clustering inputs made by a feature extractor (CNN, Doc2Vec, bag of words,
sentence encoder), optionally reduced by PCA.

An input spec (one entry of the config's ``inputs`` section) names one view
and an ``extractor`` with its ``options``:

=====================  ===========  ====================================================
extractor              view kind    options
=====================  ===========  ====================================================
``resnet50``           image(s)     weights, batch_size, num_workers, device
``vgg16``              image(s)     (fc7, 4096-d) as above
``efficientnet_lite0`` image(s)     (1280-d; ImageNet weights shipped offline) as above
``doc2vec``            text         vector_size, window, min_count, epochs, dm, seed, workers
``bow``                text         vocab_size, binary, tfidf, pca_dim, reducer, stop_words
``minilm``             text         batch_size, device (all-MiniLM-L6-v2, 384-d)
=====================  ===========  ====================================================

``pca_dim`` (on the spec, not in ``options``) reduces any extractor's output
with PCA; ``transform`` (on the spec; default ``none``) is applied after it
(``unit_power``, ``standardize``, ``scale`` with ``factor``: see
:mod:`mmclust.features.inputs`).  Everything fitted on data (Doc2Vec, the
BoW vocabulary, PCA, the transform's statistics) sees only the training split
when the data set has one, and all present samples otherwise.  Samples
without the view get zero rows and keep mask False.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.features.inputs import FeatureSet, check_input_spec, transform_features
from mmclust.features.names import IMAGE_EXTRACTORS, TEXT_EXTRACTORS


def build_extracted_input(
    ds: MultiViewDataset, spec: dict[str, Any], device: str = "auto"
) -> FeatureSet:
    check_input_spec(spec, "the input")
    views = spec["views"]
    if len(views) != 1:
        raise DatasetError(
            f"an extractor input takes exactly one view, got {views}; "
            "concatenate extracted inputs in the method instead"
        )
    view = views[0]
    if view not in ds.views:
        raise DatasetError(f"data set {ds.name!r} has no view {view!r}; views: {sorted(ds.views)}")
    name = spec["extractor"]
    options = dict(spec.get("options") or {})
    x, mask, kind = ds.views[view], ds.masks[view], ds.kinds[view]
    train = (ds.split == "train") & mask if ds.split is not None else None
    if name in IMAGE_EXTRACTORS:
        if kind not in ("image", "image_file"):
            raise DatasetError(f"{name} needs an image view; view {view!r} holds {kind}")
        from mmclust.features.image import extract_image_features

        options.setdefault("device", device)
        X = extract_image_features(
            x, name, image_root=ds.meta.get("image_root"), mask=mask, **options
        )
    elif name in TEXT_EXTRACTORS:
        if kind != "text":
            raise DatasetError(f"{name} needs a text view; view {view!r} holds {kind}")
        from mmclust.features import text

        if name == "doc2vec":
            X = text.doc2vec_features(x, mask, fit_mask=train, **options)
        elif name == "bow":
            X = text.bow_features(x, mask, fit_mask=train, **options)
        else:
            options.setdefault("device", device)
            X = text.sentence_features(x, mask, **options)
    else:
        raise DatasetError(
            f"unknown extractor {name!r}; use one of {IMAGE_EXTRACTORS + TEXT_EXTRACTORS}"
        )
    if spec.get("pca_dim"):
        from mmclust.features.reduce import pca_reduce

        X = pca_reduce(X, mask, int(spec["pca_dim"]), fit_rows=train, seed=0)
    fs = FeatureSet(X=np.ascontiguousarray(X, dtype=np.float32), mask=mask.copy())
    return transform_features(fs, spec, train)
