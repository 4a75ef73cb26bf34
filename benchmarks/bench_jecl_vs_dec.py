"""JECL's training time per epoch against DEC's, same data and batch size.

Run on demand (it is not a test)::

    python benchmarks/bench_jecl_vs_dec.py --threads 2 --epochs 6 --repeats 3

Data: ``n`` pairs of an "image" view and a "text" view of the JECL paper's
widths (ResNet-50 pool, 2048-d; Doc2Vec, 300-d) drawn from a Gaussian mixture
(``--shape mfeat`` uses UCI Multiple Features' pix (240-d) and fou (76-d)
instead).  Every method fine-tunes d-500-500-2000-10 encoders (pretraining is
not timed: an untrained autoencoder of the same shape stands in), batch 256,
SGD, the target refreshed every 140 iterations.

Seconds per epoch = (t(E2) − t(E1)) / (E2 − E1) with E1 = 1 and
E2 = 1 + ``--epochs`` whole fits (the k-means initialisation and the final
predictions are in both and cancel); the median over ``--repeats``.

Rows: DEC on the image view, on the text view, on the concatenation, and
JECL on the pair.  JECL trains two encoders, so its natural yardstick is DEC
on the concatenated input (one encoder over both views) and the sum of the
two single-view DECs (the same two encoders trained separately).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from mmclust.methods.deep.dec import DEC
from mmclust.methods.jecl import JECL
from mmclust.nn.autoencoder import DenoisingAutoencoder


def data(shape: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    if shape == "mfeat":
        from mmclust.data import build
        from mmclust.features.inputs import build_input

        ds = build("mfeat", "mfeat", {})
        return build_input(ds, ["pix"], "standardize").X, build_input(ds, ["fou"], "standardize").X
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    a = rng.normal(0, 1, (10, 2048))[y] + rng.normal(0, 1, (n, 2048))
    b = rng.normal(0, 1, (10, 300))[y] + rng.normal(0, 1, (n, 300))
    return a.astype(np.float32), b.astype(np.float32)


def untrained(x: np.ndarray) -> DenoisingAutoencoder:
    return DenoisingAutoencoder(epochs=0, verbose=False, device="cpu").fit(x[:10])


def per_epoch(make, epochs: int, repeats: int) -> float:
    samples = []
    make(1)  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        make(1)
        t1 = time.perf_counter()
        make(1 + epochs)
        t2 = time.perf_counter()
        samples.append(((t2 - t1) - (t1 - t0)) / epochs)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shape", choices=["jecl", "mfeat"], default="jecl")
    ap.add_argument("--n", type=int, default=7429, help="pairs (Coco-cross has 7429)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    img, txt = data(a.shape, a.n)
    cat = np.concatenate([img, txt], axis=1)
    aes = {"img": untrained(img), "txt": untrained(txt), "cat": untrained(cat)}
    common = dict(n_clusters=10, n_init=1, tol=0.0, verbose=False, device=a.device, random_state=0)

    def dec(x: np.ndarray, ae: DenoisingAutoencoder):
        return lambda e: DEC(autoencoder=ae, max_epochs=e, **common).fit(x)

    def jecl(e: int) -> JECL:
        return JECL(autoencoders=[aes["img"], aes["txt"]], max_epochs=e, **common).fit([img, txt])

    rows = {
        f"DEC image ({img.shape[1]}-d)": dec(img, aes["img"]),
        f"DEC text ({txt.shape[1]}-d)": dec(txt, aes["txt"]),
        f"DEC concatenation ({cat.shape[1]}-d)": dec(cat, aes["cat"]),
        "JECL (both encoders)": jecl,
    }
    times = {name: per_epoch(fn, a.epochs, a.repeats) for name, fn in rows.items()}
    print(f"n = {img.shape[0]}, batch 256, {a.threads} threads, {a.epochs} epochs x {a.repeats}")
    for name, t in times.items():
        print(f"{name:32s} {t:8.3f} s/epoch")
    j = times["JECL (both encoders)"]
    names = list(times)
    print(f"JECL / DEC concatenation        {j / times[names[2]]:8.2f}x")
    print(f"JECL / (DEC image + DEC text)   {j / (times[names[0]] + times[names[1]]):8.2f}x")
    print(f"JECL / DEC image                {j / times[names[0]]:8.2f}x")


if __name__ == "__main__":
    main()
