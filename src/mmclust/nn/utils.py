"""Device choice, seeding and batched inference."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means CUDA when it is available, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {device!r} was requested but CUDA is not available; "
            "set device: auto or cpu in the config"
        )
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def minibatches(
    n: int, batch_size: int, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Index batches over ``n`` samples, shuffled when a generator is given."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def batched(
    fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, batch_size: int = 4096
) -> torch.Tensor:
    """Apply ``fn`` to ``X`` in batches without building a graph."""
    return torch.cat([fn(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])


def as_tensor(X: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=torch.float32)
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)


#: the optimisers :func:`make_optimizer` builds, by name
OPTIMIZERS = ("adam", "sgd")


def _tensors(params: list[Any]) -> Iterator[torch.Tensor]:
    """The tensors of a parameter list or of a list of parameter groups."""
    for p in params:
        if isinstance(p, dict):
            yield from _tensors(list(p["params"]))
        else:
            yield p


def fused_supported(params: list[Any]) -> bool:
    """Whether torch has fused Adam/SGD kernels for all of ``params``.

    They need dense floating-point tensors on a device type with fused
    optimiser kernels (the CPU and CUDA among them).  Torch itself checks only
    at the first step, so this is checked here, before choosing.
    """
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        devices = set(_get_fused_kernels_supported_devices())
    except ImportError:  # pragma: no cover - a torch without the helper
        devices = {"cpu", "cuda"}
    tensors = list(_tensors(params))
    return bool(tensors) and all(
        t.device.type in devices and torch.is_floating_point(t) and not t.is_sparse for t in tensors
    )


def make_optimizer(
    name: str,
    params: Any,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    *,
    fused: bool | None = None,
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """Adam or SGD with momentum, with fused kernels wherever torch has them.

    Every training loop of the package builds its Adam or SGD here: the
    autoencoder pretraining, DEC, IDEC, JECL, DKM, DCN, IMSAT, DM2C's Adam,
    JULE's SGD and the two-view embeddings (VSE, CCAL).  ``params`` are
    tensors or parameter groups; ``momentum`` applies to SGD only;
    ``**kwargs`` go to the torch class unchanged (``betas`` for Adam,
    ``dampening`` for SGD, ...).

    ``fused=None`` (the default) takes torch's fused implementation (every
    parameter updated in one kernel per device and dtype; on the CPU Adam's
    step is 5-7x faster than the per-tensor loop for a d-500-500-2000-10
    autoencoder, ``benchmarks/bench_optimizer_step.py``) when
    :func:`fused_supported` says the parameters allow it, else torch's default
    implementation (on the CPU the per-tensor loop).  The fused kernels
    compute the same update with the same hyperparameters (SGD's dampening
    and weight decay included); results agree with the per-tensor loop to the
    last bits of float32.  ``fused=False`` forces torch's default
    implementation, ``fused=True`` requires the fused one.

    Fused SGD with momentum needs every parameter that is ever stepped to
    have a gradient from the first step on (torch raises a ``TypeError``
    otherwise); every loop here trains all its parameters from its first step.
    """
    params = list(params)
    if name == "adam":
        cls: type[torch.optim.Optimizer] = torch.optim.Adam
        kwargs = {"lr": lr, "weight_decay": weight_decay, **kwargs}
    elif name == "sgd":
        cls = torch.optim.SGD
        kwargs = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, **kwargs}
    else:
        raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    if fused is None:
        fused = fused_supported(params)
    elif fused and not fused_supported(params):
        raise ValueError(
            "fused=True: torch has no fused optimiser kernels for these parameters "
            "(they must be floating point, dense, on the CPU or a supported accelerator)"
        )
    if fused:
        return cls(params, fused=True, **kwargs)
    return cls(params, **kwargs)
