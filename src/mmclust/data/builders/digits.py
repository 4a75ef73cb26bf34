"""scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), offline."""

from __future__ import annotations

import numpy as np

from mmclust.data.dataset import MultiViewDataset

VIEWS = ("image",)


def digits(name: str = "digits") -> MultiViewDataset:
    """``sklearn.datasets.load_digits``, pixel values 0..16 scaled to uint8 0..255."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(np.rint(d.images * 255.0 / 16.0), 0, 255).astype(np.uint8)
    return MultiViewDataset(
        name=name,
        views={"image": images},
        labels=d.target,
        kinds={"image": "image"},
        class_names=[str(i) for i in range(10)],
        meta={
            "source": "scikit-learn load_digits (UCI optical recognition of digits)",
            "licence": "CC BY 4.0",
            "built_by": "mmclust.data.builders.digits.digits",
            "reference_counts": {"n": 1797, "k": 10},
        },
    )
