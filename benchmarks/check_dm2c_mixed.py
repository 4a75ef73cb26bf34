"""DM2C's runs of an experiment, fitted and scored as the workflow does, with their convergence.

Run on demand from the repository root after building the experiment's inputs
(it is not a test; two to eight minutes per fit on one core)::

    snakemake --cores 1 resources/features/mfeat-mixed/pair.npz \
        --configfile config/demo-dm2c.yaml
    python benchmarks/check_dm2c_mixed.py --configfile config/demo-dm2c.yaml \
        --experiment dm2c-demo-mfeat --methods dm2c dm2c-authors

For every run of ``--experiment`` whose method is one of ``--methods`` (all
its seeds unless ``--seeds``), the script does what the workflow's
``cluster`` and scoring jobs do — the same feature file, the same
method settings from the configuration (:class:`mmclust.plan.Plan`), fitted
on the training split with :func:`mmclust.fitting.fit_run`, scored on the
test split with :func:`mmclust.metrics.evaluate` and
:func:`mmclust.metrics.mixed_modal_scores` — and adds what the run folders do
not hold yet: the estimator's label-free convergence record
(``convergence_``: cycle error relative to the codes' spread, critics'
Wasserstein estimates, pretraining plateau) and the fit's wall time.  Nothing
is written into ``results/``.  One JSON line per run on stdout, then one
summary line per method (mean ± std over seeds).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict

import numpy as np
import torch

from mmclust.data import MultiViewDataset
from mmclust.features import FeatureSet
from mmclust.fitting import fit_run
from mmclust.io import read_json
from mmclust.metrics import evaluate, mixed_modal_scores
from mmclust.plan import Plan, load_files, paths

SCORES = ("acc", "nmi", "ari", "acc_a", "acc_b", "acc_b_via_a", "modality_split")


def rounded(value: object) -> object:
    return round(value, 4) if isinstance(value, float) else value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--configfile", nargs="+", default=["config/demo-dm2c.yaml"])
    p.add_argument("--experiment", default="dm2c-demo-mfeat")
    p.add_argument("--methods", nargs="+", default=["dm2c", "dm2c-authors"])
    p.add_argument("--seeds", nargs="+", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(a.threads)
    plan = Plan(load_files(a.configfile))
    runs = [
        r
        for r in plan.experiment_runs(a.experiment)
        if r.method in a.methods and (a.seeds is None or r.seed in a.seeds)
    ]
    results: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        ds = MultiViewDataset.load(paths.dataset_dir(run.dataset))
        fs = FeatureSet.load(paths.features_path(run.dataset, run.input))
        settings = plan.method_settings(run.method, run.dataset)
        settings["verbose"] = False
        train = ds.split == "train"
        t0 = time.perf_counter()
        meta = read_json(paths.dataset_files(run.dataset)["meta"])
        result = fit_run(fs, settings, meta, run.seed, train=train, device="cpu")
        wall = time.perf_counter() - t0
        test = ds.split == "test"
        first = ds.masks[ds.meta["mixed_modal"]["views"][0]][test]
        scores = {
            **evaluate(ds.labels[test], result.labels[test]),
            **mixed_modal_scores(ds.labels[test], result.labels[test], first),
        }
        record = {
            "dataset": run.dataset,
            "input": run.input,
            "method": run.method,
            "seed": run.seed,
            **{k: rounded(float(scores[k])) for k in SCORES},
            "wall_seconds": round(wall, 1),
            "convergence": {
                k: rounded(v) for k, v in result.model.convergence_.items() if k != "rule"
            },
        }
        results[run.method].append(record)
        print(json.dumps(record), flush=True)
    for method, records in results.items():
        summary: dict = {"method": method, "seeds": [r["seed"] for r in records]}
        for key in (*SCORES, "wall_seconds"):
            values = np.array([r[key] for r in records], dtype=float)
            std = values.std(ddof=1) if len(values) > 1 else 0.0
            summary[key] = f"{values.mean():.3f} ± {std:.3f}"
        summary["converged"] = sum(bool(r["convergence"]["converged"]) for r in records)
        print(json.dumps({"summary": summary}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
