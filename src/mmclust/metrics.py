"""External clustering metrics.

Every function takes the true classes and the predicted cluster ids as 1-d
integer-like arrays of the same length.  Cluster ids and class ids are
arbitrary labels: every metric here is invariant to relabelling them.

``accuracy`` handles a number of predicted clusters different from the number
of classes: the Hungarian algorithm matches clusters to classes one-to-one on
the (possibly rectangular) contingency table; points of unmatched clusters
count as errors.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.special import comb
from sklearn.metrics import adjusted_rand_score, homogeneity_score, normalized_mutual_info_score

__all__ = [
    "accuracy",
    "adjusted_rand",
    "contingency",
    "evaluate",
    "mixed_modal_scores",
    "nmi",
    "pairwise_scores",
    "purity",
]


def _check(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(
            f"y_true has {t.size} entries but y_pred has {p.size}; pass one prediction per sample"
        )
    if t.size == 0:
        raise ValueError("cannot score an empty labelling")
    return t, p


def contingency(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """Counts ``C[c, k]`` of samples of class ``c`` put in cluster ``k``."""
    t, p = _check(y_true, y_pred)
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    c = np.zeros((ti.max() + 1, pi.max() + 1), dtype=np.int64)
    np.add.at(c, (ti, pi), 1)
    return c


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Unsupervised clustering accuracy (best one-to-one cluster-to-class map)."""
    c = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].sum() / c.sum())


def nmi(y_true: ArrayLike, y_pred: ArrayLike, average: str = "arithmetic") -> float:
    """Normalised mutual information.

    ``average="arithmetic"`` divides by (H(Y)+H(C))/2 (scikit-learn's default,
    used by DEC, JECL and DM2C); ``"geometric"`` divides by sqrt(H(Y) H(C)),
    the normalisation JULE reports.
    """
    t, p = _check(y_true, y_pred)
    return float(normalized_mutual_info_score(t, p, average_method=average))


def adjusted_rand(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Adjusted Rand index."""
    t, p = _check(y_true, y_pred)
    return float(adjusted_rand_score(t, p))


def pairwise_scores(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Pair-counting precision, recall and F-score.

    A pair of samples is a true positive when both share a class and a cluster;
    precision = TP / pairs in the same cluster, recall = TP / pairs in the same
    class.  A labelling with no same-cluster (or same-class) pair has precision
    (recall) defined as 0.
    """
    c = contingency(y_true, y_pred)
    tp = comb(c, 2).sum()
    same_cluster = comb(c.sum(axis=0), 2).sum()
    same_class = comb(c.sum(axis=1), 2).sum()
    precision = tp / same_cluster if same_cluster else 0.0
    recall = tp / same_class if same_class else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "fscore": float(f)}


def purity(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples in the majority class of their cluster."""
    c = contingency(y_true, y_pred)
    return float(c.max(axis=0).sum() / c.sum())


def evaluate(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Every metric of this module, keyed by its table column name."""
    scores = {
        "acc": accuracy(y_true, y_pred),
        "nmi": nmi(y_true, y_pred, "arithmetic"),
        "nmi_geometric": nmi(y_true, y_pred, "geometric"),
        "ari": adjusted_rand(y_true, y_pred),
        "purity": purity(y_true, y_pred),
    }
    scores.update(pairwise_scores(y_true, y_pred))
    scores["n_clusters_found"] = float(len(np.unique(np.asarray(y_pred))))
    return scores


def mixed_modal_scores(y_true: ArrayLike, y_pred: ArrayLike, first: ArrayLike) -> dict[str, float]:
    """Scores of a clustering of mixed-modal data, split by modality.

    ``first`` marks the samples of the first modality ("a"); the others are
    the second ("b").  Returns

    * ``acc_a``, ``nmi_a``, ``acc_b``, ``nmi_b``: each modality's samples
      scored on their own (the Hungarian matching computed within the
      modality);
    * ``acc_b_via_a``: the b samples scored with the cluster-to-class
      matching of the a samples — high only when samples of one class land
      in the same clusters whatever their modality (the point of a unified
      space); clusters that the matching leaves out count as errors;
    * ``modality_split``: I(cluster; modality) / H(modality), the share of
      the modality's entropy the clusters explain (scikit-learn's
      homogeneity with the modality as the classes) — 1 when every cluster
      holds one modality only, 0 when every cluster holds the two modalities
      in the overall proportion.  It does not use the classes.
    """
    y, p = _check(y_true, y_pred)
    a = np.asarray(first, dtype=bool)
    if a.shape != y.shape:
        raise ValueError(f"modality mask has shape {a.shape}, the labels {y.shape}")
    if a.all() or not a.any():
        raise ValueError("mixed_modal_scores needs samples of both modalities")
    b = ~a
    c = contingency(y[a], p[a])
    rows, cols = linear_sum_assignment(-c)
    class_ids = np.unique(y[a])
    cluster_ids = np.unique(p[a])
    to_class = {cluster_ids[j]: class_ids[i] for i, j in zip(rows, cols, strict=True)}
    mapped = np.array([to_class.get(q, -1) for q in p[b]])
    return {
        "acc_a": accuracy(y[a], p[a]),
        "nmi_a": nmi(y[a], p[a]),
        "acc_b": accuracy(y[b], p[b]),
        "nmi_b": nmi(y[b], p[b]),
        "acc_b_via_a": float(np.mean(mapped == y[b])),
        "modality_split": float(homogeneity_score(a.astype(np.int64), p)),
    }
