"""Names of the feature extractors (importable without numpy or torch).

The workflow's plan reads them to know which inputs run a network over images
(GPU-capable, heavier jobs) and which fit a text model.
"""

from __future__ import annotations

IMAGE_EXTRACTORS: tuple[str, ...] = ("resnet50", "vgg16", "efficientnet_lite0")
TEXT_EXTRACTORS: tuple[str, ...] = ("doc2vec", "bow", "minilm")
