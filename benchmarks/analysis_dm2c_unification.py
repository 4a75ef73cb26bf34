"""Why DM2C's unified space clusters no better than its ablations on UCI Multiple Features.

Run on demand (it is not a test; one to three minutes per fit on one core)::

    python benchmarks/analysis_dm2c_unification.py --schedules paper authors \
        --variants fou rotated --seeds 0 1

One DM2C fit per (schedule, variant, seed) on mixed-modal UCI Multiple
Features: half of the 2000 digits (random, seeded) keep modality A, the 64-d
PCA of the standardised pixel averages; the other half keep modality B:

* ``fou``: the 64-d PCA of the Fourier coefficients (the offline tables' B);
* ``kar``: the 64-d PCA of the Karhunen-Loeve coefficients (a strong view);
* ``rotated``: modality A's own features times a random orthogonal matrix —
  a control in which a class-preserving linear map between the modalities
  exists exactly.

``--schedules`` picks DM2C's training loop: ``paper`` (Algorithm 1, the
offline configuration's NUS-WIDE-10K learning rates and λ2 = 1) and/or
``authors`` (the authors' code schedule, :data:`mmclust.methods.dm2c.SCHEDULES`).
Both use the offline configuration's architecture and pretraining.  The three codes one fit
produces (pretrained, after adversarial training, unified) are each
clustered with k-means, as the three rows of the paper's Table 5, and scored
on all samples with :func:`mmclust.metrics.evaluate` and
:func:`mmclust.metrics.mixed_modal_scores` (``acc_a``/``acc_b``: each
modality on its own; ``acc_b_via_a``: the B samples scored through the A
samples' cluster-to-class matching, high only when a class's two modalities
share clusters; ``modality_split``: how much the clusters follow the
modality, 1 = every cluster holds one modality).  The label-free convergence
record (cycle error relative to the codes' spread, the critics' Wasserstein
estimates, pretraining plateau) says whether the generators converged.  One
JSON line per fit on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from mmclust.data.builders.mfeat import mfeat
from mmclust.methods.dm2c import DM2C
from mmclust.metrics import evaluate, mixed_modal_scores

#: the offline configuration's DM2C settings (config/demo-dm2c.yaml)
ARCHITECTURE = {
    "hidden_dims_a": (512, 256, 128),
    "hidden_dims_b": (512, 256, 128),
    "generator_hidden_dims": (128, 128),
    "critic_hidden_dims": (32,),
    "pretrain_epochs": 150,
    "pretrain_lr_a": 1e-3,
}
SCHEDULE_PARAMS = {
    "paper": {"lr_ae": 5e-4, "lr_generator": 5e-5, "lr_critic": 5e-5, "lambda_rec": 1.0},
    "authors": {"schedule": "authors"},
}


def features(view: np.ndarray, dim: int) -> np.ndarray:
    return PCA(dim, random_state=0).fit_transform(StandardScaler().fit_transform(view))


def run(schedule: str, variant: str, seed: int, epochs: int, dim: int) -> dict:
    ds = mfeat()
    y = ds.labels
    n = y.shape[0]
    rng = np.random.default_rng(seed)
    first = np.zeros(n, dtype=bool)
    first[rng.permutation(n)[: n // 2]] = True
    A = features(ds.views["pix"], dim)
    if variant == "rotated":
        q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        B = A @ q
    else:
        B = features(ds.views[variant], dim)
    est = DM2C(
        n_clusters=10,
        **ARCHITECTURE,
        **SCHEDULE_PARAMS[schedule],
        epochs=epochs,
        random_state=seed,
        device="cpu",
        verbose=False,
    )
    t0 = time.perf_counter()
    est.fit(
        [np.where(first[:, None], A, 0.0), np.where(~first[:, None], B, 0.0)],
        masks=[first, ~first],
    )
    conv = est.convergence_
    keep_conv = (
        "converged",
        "cycle_rel_a",
        "cycle_rel_b",
        "cycle_over_rms_a",
        "cycle_over_rms_b",
        "wasserstein_a",
        "wasserstein_b",
        "wasserstein_first_a",
        "wasserstein_first_b",
        "pretrain_rel_change_a",
        "pretrain_rel_change_b",
    )
    out: dict = {
        "schedule": schedule,
        "variant": variant,
        "seed": seed,
        "epochs": epochs,
        "fit_seconds": round(time.perf_counter() - t0, 1),
        "convergence": {
            k: (round(conv[k], 4) if isinstance(conv[k], float) else conv[k]) for k in keep_conv
        },
    }
    codes = {
        "no_adversarial": est.codes_pretrained_,
        "no_unification": est.codes_no_unification_,
        "full": est.codes_unified_,
    }
    for name, z in codes.items():
        pred = KMeans(10, n_init=20, random_state=seed).fit_predict(z)
        scores = {**evaluate(y, pred), **mixed_modal_scores(y, pred, first)}
        keep = ("acc", "nmi", "acc_a", "acc_b", "nmi_b", "acc_b_via_a", "modality_split")
        out[name] = {k: round(scores[k], 3) for k in keep}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--schedules", nargs="+", default=["paper", "authors"])
    p.add_argument("--variants", nargs="+", default=["fou", "rotated"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=220)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(a.threads)
    for schedule in a.schedules:
        for variant in a.variants:
            for seed in a.seeds:
                result = run(schedule, variant, seed, a.epochs, a.dim)
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
