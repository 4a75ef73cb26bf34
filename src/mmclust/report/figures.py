"""t-SNE figures of learned embeddings."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mmclust.data import MultiViewDataset
from mmclust.io import atomic_path


def tsne_points(
    embedding: np.ndarray, max_points: int, perplexity: float, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """2-d t-SNE coordinates of at most ``max_points`` rows, and their indices.

    Rows are subsampled uniformly with a seeded generator; inputs wider than 50
    dimensions go through PCA to 50 first (the usual t-SNE practice; to the
    number of points when there are fewer than 50).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(random_state)
    n = embedding.shape[0]
    idx = np.sort(rng.choice(n, max_points, replace=False)) if n > max_points else np.arange(n)
    x = embedding[idx].astype(np.float32)
    dims = min(50, x.shape[0])
    if x.shape[1] > dims:
        x = PCA(dims, random_state=random_state).fit_transform(x)
    perplexity = min(perplexity, (len(idx) - 1) / 3)
    xy = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(x)
    return xy, idx


def tsne_figure(
    embedding: str | os.PathLike[str],
    labels: str | os.PathLike[str],
    dataset: str | os.PathLike[str],
    out: str | os.PathLike[str],
    title: str,
    params: dict[str, Any],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = MultiViewDataset.load(dataset)
    emb = np.load(embedding)
    pred = np.load(labels)
    xy, idx = tsne_points(
        emb, int(params.get("max_points", 2000)), float(params.get("perplexity", 30)),
        int(params.get("random_state", 0)),
    )  # fmt: skip
    names = ds.class_names or [str(c) for c in range(ds.k)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5), dpi=int(params.get("dpi", 120)))
    cmap = plt.get_cmap("tab20" if max(ds.k, pred.max() + 1) > 10 else "tab10")
    panels = [
        (axes[0], pred[idx], "predicted cluster", lambda c: f"cluster {c}"),
        (axes[1], ds.labels[idx], "true class", lambda c: names[c] if c < len(names) else str(c)),
    ]
    # mixed-modal data: mark each point by the modality it came from
    mixed = ds.meta.get("mixed_modal")
    modality = None
    if mixed:
        first = mixed["views"][0]
        modality = np.where(ds.masks[first][idx], 0, 1)
    markers = ("o", "^")
    for ax, lab, what, name in panels:
        for c in np.unique(lab):
            sel = lab == c
            colour = cmap(int(c) % cmap.N)
            if modality is None:
                ax.scatter(xy[sel, 0], xy[sel, 1], s=4, color=colour, label=name(int(c)))
                continue
            for mod in (0, 1):
                part = sel & (modality == mod)
                ax.scatter(
                    xy[part, 0], xy[part, 1], s=6, marker=markers[mod], color=colour,
                    label=name(int(c)) if mod == 0 else None,
                )  # fmt: skip
        if modality is not None:
            for mod in (0, 1):
                ax.scatter(
                    [], [], s=6, marker=markers[mod], color="grey", label=mixed["views"][mod]
                )
        ax.set_title(f"coloured by {what}" + (", marked by modality" if mixed else ""))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(
            markerscale=3, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
        )
    fig.suptitle(f"{title} (t-SNE of {len(idx)} of {emb.shape[0]} points)")
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
