"""The two-branch networks of the deep two-view embeddings VSE, DCCA and CCAL.

* :func:`make_mlp`: their fully connected branches (with DCCA's cube-root
  nonlinearity :class:`CubeRoot` among the activations);
* :func:`complete_pairs`, :func:`encode_present`: the samples they train on
  and the branch outputs of the present rows;
* :func:`train_minibatches`: their mini-batch Adam loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from mmclust.nn.precision import Precision

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class CubeRoot(nn.Module):
    """DCCA's nonlinearity s(x) = g^-1(x) with g(y) = y^3/3 + y (Andrew et al. 2013).

    s is odd, linear near 0 and grows like the cube root of 3x; it is the real
    root of y^3 + 3y - 3x = 0: with u = cbrt(3|x|/2 + sqrt(9x^2/4 + 1)) >= 1,
    s(|x|) = u - 1/u (Cardano, written without cancellation).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.abs()
        u = torch.pow(1.5 * a + torch.sqrt(2.25 * a * a + 1.0), 1.0 / 3.0)
        return torch.sign(x) * (u - 1.0 / u)


def make_mlp(
    in_dim: int, hidden_dims: Sequence[int], out_dim: int, activation: str = "relu"
) -> nn.Sequential:
    """Fully connected layers ``in_dim -> hidden_dims -> out_dim``, the last one linear."""
    if activation == "cuberoot":
        act: type[nn.Module] = CubeRoot
    elif activation in _ACTIVATIONS:
        act = _ACTIVATIONS[activation]
    else:
        raise ValueError(
            f"unknown activation {activation!r}; use one of {sorted([*_ACTIVATIONS, 'cuberoot'])}"
        )
    dims = [in_dim, *hidden_dims, out_dim]
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def complete_pairs(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Indices of the samples that have both views; at least two are needed to train."""
    both = np.flatnonzero(masks[0] & masks[1])
    if both.size < 2:
        raise ValueError("at least two samples with both views are needed to train")
    return both


@torch.no_grad()
def encode_present(
    branch: nn.Module, X: np.ndarray, mask: np.ndarray, device: torch.device, batch: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Branch outputs for the rows whose mask is True (the others are never read).

    Returns (indices, outputs) with outputs as float64 numpy rows.
    """
    idx = np.flatnonzero(mask)
    outs = []
    for s in range(0, idx.size, batch):
        rows = torch.from_numpy(np.ascontiguousarray(X[idx[s : s + batch]])).to(device)
        outs.append(branch(rows).double().cpu().numpy())
    dim = outs[0].shape[1] if outs else 0
    return idx, (np.concatenate(outs) if outs else np.zeros((0, dim)))


def train_minibatches(
    params: Sequence[torch.nn.Parameter],
    loss_fn: object,
    x1: torch.Tensor,
    x2: torch.Tensor,
    *,
    batch_size: int,
    max_epochs: int,
    lr: float,
    generator: torch.Generator,
    grad_clip: float | None,
    verbose: bool,
    desc: str,
    min_batch: int = 2,
    precision: Precision | None = None,
) -> list[float]:
    """Adam (:func:`~mmclust.nn.utils.make_optimizer`: fused where torch has it) over
    shuffled mini-batches of paired rows; returns the mean loss per epoch.

    ``loss_fn(x1_batch, x2_batch)`` returns a scalar.  A trailing batch smaller
    than ``min_batch`` is dropped (the ranking and CCA losses need pairs).
    ``precision`` (a :class:`mmclust.nn.precision.Precision`; None: fp32) runs the
    backward passes; ``loss_fn`` runs its own forward passes with it.
    """
    from tqdm.auto import tqdm

    from mmclust.nn.utils import make_optimizer, minibatches

    opt = make_optimizer("adam", params, lr)
    n = x1.shape[0]
    history: list[float] = []
    bar = tqdm(range(max_epochs), desc=desc, disable=not verbose, mininterval=1.0)
    for _ in bar:
        total, count = 0.0, 0
        for idx in minibatches(n, batch_size, generator):
            if idx.numel() < min_batch:
                continue
            idx = idx.to(x1.device)
            loss = loss_fn(x1[idx], x2[idx])  # type: ignore[operator]
            opt.zero_grad(set_to_none=True)
            if precision is None:
                loss.backward()
            else:
                precision.backward(loss)
            if grad_clip is not None and grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(list(params), grad_clip)
            opt.step()
            total += float(loss.detach())
            count += 1
        history.append(total / max(count, 1))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    return history
