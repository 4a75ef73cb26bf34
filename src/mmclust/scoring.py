"""Scoring runs against the classes: the one step of the workflow that reads them.

A run's ``metrics.json`` holds its identifiers (data set, input, method, seed),
every metric of :func:`mmclust.metrics.evaluate` on the scored samples (the
test split when the data set has one: fitted on train, scored on test, the
papers' protocol), the per-modality scores on mixed-modal data, the fit's
wall time and, when the estimator keeps a convergence record, whether it
converged and by which rule (the tables mark the rows where a seed did not).

The workflow scores every seed of one table cell (a method on one input of one
data set) in one job, ``python -m mmclust score``: the interpreter start-up, the
metrics' imports (scikit-learn, SciPy) and the reading of the data set's
classes are paid once per cell instead of once per run.  Only the classes,
split and view masks are read from ``data.npz``, never the views.  Scoring one
run alone (``python -m mmclust evaluate``) writes the same file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmclust.io import read_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Truth:
    """What scoring reads of a prepared data set: its classes, split and view masks."""

    name: str
    labels: np.ndarray
    split: np.ndarray | None
    masks: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])


def load_truth(folder: str | os.PathLike[str]) -> Truth:
    """The classes, split, view masks and ``meta.json`` of a prepared data set (no views)."""
    from mmclust.data.dataset import prepared_files

    data_path, meta_path = prepared_files(folder)
    meta = read_json(meta_path)
    with np.load(data_path, allow_pickle=False) as z:
        labels = z["labels"].astype(np.int64, copy=False)
        split = z["split"].astype(str) if "split" in z.files else None
        masks = {k[6:]: z[k].astype(bool) for k in z.files if k.startswith("mask__")}
    return Truth(name=meta["name"], labels=labels, split=split, masks=masks, meta=meta)


def score_run(
    truth: Truth,
    labels: str | os.PathLike[str],
    run: dict[str, Any],
    fit_info: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The ``metrics.json`` record of one run: ``run``'s identifiers, then its scores.

    ``labels`` is the run's ``labels.npy`` (one prediction per sample of the data
    set), ``fit_info`` its ``fit.json`` (wall time and convergence record).
    """
    from mmclust.metrics import evaluate, mixed_modal_scores

    pred = np.load(labels)
    if pred.shape != truth.labels.shape:
        raise SystemExit(
            f"{labels} has {pred.shape[0]} predictions for {truth.n} samples of "
            f"{truth.name}: rerun the clustering job"
        )
    if truth.split is not None:
        scored = truth.split == "test"
    else:
        scored = np.ones(truth.n, dtype=bool)
    scores = evaluate(truth.labels[scored], pred[scored])
    record = {**run, **scores}
    if truth.split is not None:
        # the papers' protocol with a split: fitted on train, scored on test
        record.update(scored_on="test", n_scored=int(scored.sum()))
    modalities = (truth.meta.get("mixed_modal") or {}).get("views")
    if modalities:
        # mixed-modal data: the same scores per modality, and across them
        first = truth.masks[modalities[0]][scored]
        record.update(mixed_modal_scores(truth.labels[scored], pred[scored], first))
    if fit_info:
        fit = read_json(fit_info)
        record["fit_seconds"] = fit.get("fit_seconds")
        convergence = fit.get("convergence")
        if isinstance(convergence, dict) and "converged" in convergence:
            # the tables mark the rows in which a seed did not converge
            record["converged"] = bool(convergence["converged"])
            record["convergence_rule"] = str(convergence.get("rule", ""))
        if fit.get("approximation"):
            # an approximation the estimator chose (named under the table)
            record["approximation"] = str(fit["approximation"])
        if fit.get("precision") not in (None, "fp32"):
            # reduced numeric precision (config key precision; named under the table); not
            # "precision", the name of a metric
            record["numeric_precision"] = str(fit["precision"])
    log.info("%s: %s", run, {k: round(v, 4) for k, v in scores.items()})
    return record
