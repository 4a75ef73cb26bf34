"""Time and peak memory of MultiViewLRSSC at the sizes of the JECL data.

Run on demand (it is not a test)::

    python benchmarks/bench_lrssc.py --sizes 2000 7429 23189 --max-iter 20

Data
    Two synthetic views with the JECL shapes (Doc2Vec 300-d text, ResNet-50
    2048-d images) of ``--clusters`` clusters: each cluster is a random
    ``--subspace-dim``-dimensional subspace of a 64-d latent space, and each
    view is a random linear map of the latent points plus Gaussian noise
    (``--noise``), float32.  n = 7429 and 23189 are the sizes of Coco-cross
    and Coco-all.

What stores n x n matrices (exact solver, ``solver="exact"``)
    Per view the ADMM variables A, C1 (low rank), C2 (sparse), C3 (consensus)
    and the multipliers L2, L3, L4: seven n x n matrices; shared: one n x n
    work matrix, the centroid C* (centroid variant), the singular vectors of
    the thresholding step (two n x n matrices when the full SVD is used), and
    at the end the dense n x n affinity |C| + |C|' (built in place in one of
    the freed matrices) and its spectral embedding (Lanczos on the dense
    matrix).  X'X is never formed.  :func:`mmclust.methods.multiview.lrssc.exact_memory_bytes`
    gives (7 V + 4) n^2 numbers: 4.0 GB at n = 7429 and 38.7 GB at
    n = 23189 for V = 2 in float32.  The landmark approximation
    (``solver="anchor"``) stores the same variables as m x n matrices.

How it is measured
    Each (size, solver) runs in a fresh child process; the child reports its
    wall time for the whole ``fit`` (data generation excluded), the ADMM
    iterations and their median seconds, and its peak resident memory
    (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which includes the
    data, about 9.4 kB per sample for 2348 float32 columns).  The exact
    solver is skipped when its estimate exceeds ``--max-gib`` (default 16),
    and the landmark approximation is run instead.  ``--max-iter`` caps the
    ADMM iterations (the paper's setting is 300 with early stopping): the
    fit time then covers that many iterations, and the per-iteration median
    lets one extrapolate.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from typing import Any

import numpy as np

LATENT = 64
SEED = 0


def make_views(
    n: int, dims: tuple[int, int], clusters: int, subspace_dim: int, noise: float
) -> list[np.ndarray]:
    rng = np.random.default_rng(SEED)
    y = rng.integers(clusters, size=n)
    bases = rng.normal(size=(clusters, LATENT, subspace_dim))
    coef = rng.normal(size=(n, subspace_dim))
    latent = np.einsum("nij,nj->ni", bases[y], coef)
    views = []
    for d in dims:
        W = rng.normal(size=(LATENT, d)) / np.sqrt(LATENT)
        X = latent @ W + noise * rng.normal(size=(n, d))
        views.append(X.astype(np.float32))
    return views


def child(args: argparse.Namespace, n: int, solver: str, out: Any) -> None:
    import torch

    from mmclust.methods.multiview.lrssc import MultiViewLRSSC

    torch.set_num_threads(args.threads)
    views = make_views(n, tuple(args.dims), args.clusters, args.subspace_dim, args.noise)
    model = MultiViewLRSSC(
        n_clusters=args.clusters,
        solver=solver,
        n_anchors=args.n_anchors,
        max_iter=args.max_iter,
        noisy=args.noisy,
        svt_max_rank=args.svt_max_rank,
        device=args.device,
        verbose=False,
    )
    start = time.perf_counter()
    model.fit(views)
    seconds = time.perf_counter() - start
    iters = [h["seconds"] for h in model.history_]
    out.send(
        {
            "n": n,
            "solver": model.solver_,
            "seconds": seconds,
            "n_iter": model.n_iter_,
            "converged": model.converged_,
            "iter_median": statistics.median(iters),
            "rank": max(h["rank"] for h in model.history_),
            "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        }
    )
    out.close()


def run(args: argparse.Namespace, n: int, solver: str) -> dict[str, Any] | None:
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child, args=(args, n, solver, send))
    proc.start()
    send.close()
    result = recv.recv() if recv.poll(args.timeout) else None
    proc.join(5 if result is not None else 0)
    if proc.is_alive():
        proc.terminate()
        proc.join()
    if result is None:
        print(
            f"  n={n} {solver}: no result (timeout {args.timeout} s or crash, exit {proc.exitcode})"
        )
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time and peak memory of MultiViewLRSSC.")
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 7429, 23189])
    p.add_argument("--dims", type=int, nargs=2, default=[300, 2048], help="view dimensions")
    p.add_argument(
        "--solver",
        choices=("auto", "exact", "anchor", "both"),
        default="both",
        help="'both': the exact solver where it fits, and the landmarks everywhere",
    )
    p.add_argument("--n-anchors", type=int, default=2000)
    p.add_argument("--max-iter", type=int, default=300)
    p.add_argument("--clusters", type=int, default=10)
    p.add_argument("--subspace-dim", type=int, default=6)
    p.add_argument("--noise", type=float, default=0.05)
    p.add_argument("--noisy", action="store_true", help="the noisy LRSSC variant")
    p.add_argument("--svt-max-rank", type=int, default=None)
    p.add_argument("--max-gib", type=float, default=16.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from mmclust.methods.multiview.lrssc import exact_memory_bytes

    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    print(f"load average at start: {os.getloadavg()} ({os.cpu_count()} CPUs)")
    print(
        f"views {args.dims[0]}-d and {args.dims[1]}-d, {args.clusters} clusters, "
        f"max {args.max_iter} ADMM iterations, {args.threads} threads"
    )
    rows = []
    for n in args.sizes:
        est = exact_memory_bytes(n, 2) / 2**30
        solvers = [args.solver] if args.solver != "both" else ["exact", "anchor"]
        for solver in solvers:
            if solver == "exact" and est > args.max_gib:
                print(
                    f"n={n}: the exact solver needs about {est:.1f} GiB of n x n matrices "
                    f"(> {args.max_gib:g} GiB): skipped"
                )
                continue
            print(f"n={n} {solver} (exact estimate {est:.2f} GiB) ...", flush=True)
            res = run(args, n, solver)
            if res is not None:
                rows.append(res)
                print(f"  {res}", flush=True)
    print()
    head = (
        f"{'n':>6} {'solver':>7} {'fit s':>9} {'iters':>6} {'conv':>5} "
        f"{'s/iter':>8} {'rank':>6} {'peak GiB':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['n']:>6} {r['solver']:>7} {r['seconds']:>9.1f} {r['n_iter']:>6} "
            f"{r['converged']!s:>5} {r['iter_median']:>8.2f} {int(r['rank']):>6} "
            f"{r['peak_gib']:>9.2f}"
        )
    print(f"\nload average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
