"""Seconds per optimiser step of the DEC autoencoder: torch's per-tensor loop against fused.

Run on demand (it is not a test)::

    PYTHONPATH=src python benchmarks/bench_optimizer_step.py --threads 2
    PYTHONPATH=src python benchmarks/bench_optimizer_step.py --device cuda

The network is the stacked autoencoder every deep method here pretrains
(:class:`mmclust.nn.StackedAutoencoder`, d-500-500-2000-10, d = 784: 3.3 M
parameters in 16 tensors).  Its parameters get fixed random gradients, and
each optimiser's ``step()`` alone is timed (``--steps`` steps after two
warm-up steps, the fastest of ``--repeats`` timings kept), for Adam and for
SGD with momentum 0.9 (once with DEC's dampening 0 and once with JULE's
Torch7 dampening 0.9, weight decay 5e-5):

``loop``
    torch's per-tensor implementation (``foreach=False``): what
    ``torch.optim.Adam(params)`` runs on the CPU by default.
``foreach``
    the multi-tensor implementation (``foreach=True``): torch's default on CUDA.
``fused``
    one fused kernel per device and dtype (``fused=True``): what
    :func:`mmclust.nn.utils.make_optimizer` builds wherever torch has it.

A last column times one whole training step of the pretraining loop at
batch 256 (forward, backward, step) with the loop and with the fused
optimiser, to show what the optimiser's share is.  The machine's other work
shows up in the timings: compare ratios from one run, not absolute times
across runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from mmclust.nn import StackedAutoencoder
from mmclust.nn.utils import make_optimizer

#: (label, factory name, hyperparameters)
OPTIMISERS: list[tuple[str, str, dict[str, float]]] = [
    ("Adam lr 1e-3", "adam", {"lr": 1e-3}),
    ("SGD momentum 0.9", "sgd", {"lr": 0.01, "momentum": 0.9}),
    (
        "SGD momentum 0.9, dampening 0.9, wd 5e-5",
        "sgd",
        {"lr": 0.01, "momentum": 0.9, "dampening": 0.9, "weight_decay": 5e-5},
    ),
]
IMPLEMENTATIONS = ("loop", "foreach", "fused")
#: the encoder's widths after the input (DEC's)
WIDTHS = [500, 500, 2000, 10]


def build(name: str, params: list[torch.nn.Parameter], impl: str, **hp: float):
    """Adam / SGD over ``params`` in one implementation, with the factory's hyperparameters."""
    if impl == "fused":
        return make_optimizer(name, params, fused=True, **hp)
    cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
    return cls(params, foreach=impl == "foreach", **hp)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], None], steps: int, repeats: int, device: torch.device) -> float:
    """Seconds per call of ``fn``: the fastest of ``repeats`` timings of ``steps`` calls."""
    for _ in range(2):
        fn()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync(device)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def step_times(
    device: torch.device, dim: int, steps: int, repeats: int
) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for label, name, hp in OPTIMISERS:
        times = {}
        for impl in IMPLEMENTATIONS:
            torch.manual_seed(0)
            net = StackedAutoencoder([dim, *WIDTHS]).to(device)
            params = list(net.parameters())
            for p in params:
                p.grad = torch.randn_like(p) * 1e-3
            opt = build(name, params, impl, **hp)
            times[impl] = best_time(opt.step, steps, repeats, device)
        rows.append((label, times))
    return rows


def train_step_times(
    device: torch.device, dim: int, batch: int, steps: int, repeats: int
) -> dict[str, float]:
    """One pretraining step (forward, MSE, backward, Adam step) with the loop and fused Adam."""
    x = torch.rand(batch, dim, device=device)
    out = {}
    for impl in ("loop", "fused"):
        torch.manual_seed(0)
        net = StackedAutoencoder([dim, *WIDTHS]).to(device)
        opt = build("adam", list(net.parameters()), impl, lr=1e-3)

        def step(net: StackedAutoencoder = net, opt: torch.optim.Optimizer = opt) -> None:
            _, recon = net(x)
            loss = torch.nn.functional.mse_loss(recon, x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        out[impl] = best_time(step, steps, repeats, device)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--dim", type=int, default=784, help="input width d (default 784)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timings, fastest kept")
    parser.add_argument("--batch", type=int, default=256, help="batch of the training step")
    parser.add_argument(
        "--no-train-step", action="store_true", help="skip the whole-training-step column"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_params = sum(p.numel() for p in StackedAutoencoder([args.dim, *WIDTHS]).parameters())
    print(
        f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} CPU threads; "
        f"d-500-500-2000-10 autoencoder, d = {args.dim}: {n_params / 1e6:.2f} M parameters"
    )
    head = ["loop ms", "foreach ms", "fused ms", "loop/fused"]
    print(f"{'optimiser':42s}" + "".join(f" {h:>10s}" for h in head))
    for label, t in step_times(device, args.dim, args.steps, args.repeats):
        print(
            f"{label:42s} {t['loop'] * 1e3:10.2f} {t['foreach'] * 1e3:10.2f} "
            f"{t['fused'] * 1e3:10.2f} {t['loop'] / t['fused']:9.1f}x"
        )
    if not args.no_train_step:
        t = train_step_times(device, args.dim, args.batch, args.steps, args.repeats)
        print(
            f"pretraining step, batch {args.batch} (Adam): loop {t['loop'] * 1e3:.1f} ms, "
            f"fused {t['fused'] * 1e3:.1f} ms ({t['loop'] / t['fused']:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
