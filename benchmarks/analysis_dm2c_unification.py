"""Why DM2C's unified space clusters worse than its ablations on UCI Multiple Features.

Run on demand (it is not a test; a few minutes per run on one core)::

    python benchmarks/analysis_dm2c_unification.py --variants fou rotated --seeds 0 1

One DM2C fit per (variant, seed) on mixed-modal UCI Multiple Features: half
of the 2000 digits (random, seeded) keep modality A, the 64-d PCA of the
standardised pixel averages; the other half keep modality B:

* ``fou``: the 64-d PCA of the Fourier coefficients (the offline tables' B);
* ``kar``: the 64-d PCA of the Karhunen-Loeve coefficients (a strong view);
* ``rotated``: modality A's own features times a random orthogonal matrix —
  a control in which a class-preserving linear map between the modalities
  exists exactly.

The three codes one fit produces (pretrained, after adversarial training,
unified) are each clustered with k-means, as the three rows of the paper's
Table 5, and scored on all samples with :func:`mmclust.metrics.evaluate` and
:func:`mmclust.metrics.mixed_modal_scores` (``acc_b_via_a``: the B samples
scored through the A samples' cluster-to-class matching; ``modality_split``:
how much the clusters follow the modality).  The last epoch's cycle and
adversarial losses (label-free) show whether the generators converged.
Settings default to the offline configuration's (NUS-WIDE-10K's
architecture and learning rates); ``--epochs`` and ``--lr-generator``
change the schedule.  One JSON line per fit on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from mmclust.data.builders.mfeat import mfeat
from mmclust.methods.dm2c import DM2C
from mmclust.metrics import evaluate, mixed_modal_scores


def features(view: np.ndarray, dim: int) -> np.ndarray:
    return PCA(dim, random_state=0).fit_transform(StandardScaler().fit_transform(view))


def run(variant: str, seed: int, epochs: int, lr_generator: float, dim: int) -> dict:
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
        hidden_dims_a=(512, 256, 128),
        hidden_dims_b=(512, 256, 128),
        generator_hidden_dims=(128, 128),
        lr_ae=5e-4,
        lr_generator=lr_generator,
        lr_critic=5e-5,
        lambda_cycle=1.0,
        lambda_rec=1.0,
        epochs=epochs,
        pretrain_epochs=150,
        random_state=seed,
        verbose=False,
    )
    est.fit(
        [np.where(first[:, None], A, np.nan), np.where(~first[:, None], B, np.nan)],
        masks=[first, ~first],
    )
    last = est.history_[-1]
    out: dict = {
        "variant": variant,
        "seed": seed,
        "epochs": epochs,
        "lr_generator": lr_generator,
        "cycle_loss": round(last["cycle"], 4),
        "adversarial_loss": round(last["adversarial"], 4),
        "code_rms": round(float(np.sqrt(np.mean(est.codes_pretrained_**2))), 4),
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
    p.add_argument("--variants", nargs="+", default=["fou", "rotated"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=220)
    p.add_argument("--lr-generator", type=float, default=5e-5)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(a.threads)
    for variant in a.variants:
        for seed in a.seeds:
            result = run(variant, seed, a.epochs, a.lr_generator, a.dim)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
