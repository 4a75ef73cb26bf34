"""Stacked denoising autoencoder: the shared pretraining of the deep methods.

The default architecture is DEC's ``d-500-500-2000-10``: fully connected
layers with ReLU everywhere except the embedding layer and the reconstruction
layer, which are linear.  Training corrupts the input (masking noise: each
input entry is zeroed with probability ``noise``; or additive Gaussian noise)
and minimises the squared reconstruction error of the clean input.

Optional greedy layer-wise pretraining (DEC, Xie et al. 2016, section 3.2)
trains each encoder/decoder pair as a one-layer denoising autoencoder on the
codes of the previous layers before the end-to-end fine-tuning.
:func:`pretrain_layer` trains one given layer that way (ReLU or another
nonlinearity, tied or separate decoder weights); DCCA pretrains its networks
with it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from torch import nn
from tqdm.auto import tqdm

from mmclust.nn.precision import Precision
from mmclust.nn.utils import (
    as_tensor,
    batched,
    make_optimizer,
    minibatches,
    resolve_device,
    seed_everything,
)
from mmclust.validation import check_finite, check_loss

log = logging.getLogger(__name__)


def _mlp(dims: list[int], last_linear: bool, weight_init: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(dims)):
        linear = nn.Linear(a, b)
        if weight_init == "glorot":
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
        elif weight_init != "default":
            raise ValueError(f"unknown weight_init {weight_init!r}; use 'glorot' or 'default'")
        layers.append(linear)
        if not (last_linear and i == len(dims) - 2):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class StackedAutoencoder(nn.Module):
    """Encoder ``dims`` and its mirror as decoder.

    ``weight_init="glorot"`` draws weights from Glorot's uniform distribution
    with zero biases; ``"default"`` keeps PyTorch's initialisation.
    """

    def __init__(self, dims: list[int], weight_init: str = "glorot") -> None:
        super().__init__()
        if len(dims) < 2:
            raise ValueError("an autoencoder needs an input and at least one code size")
        self.dims = list(dims)
        self.encoder = _mlp(self.dims, True, weight_init)
        self.decoder = _mlp(self.dims[::-1], True, weight_init)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)

    def linear_pairs(self) -> list[tuple[nn.Linear, nn.Linear]]:
        """(encoder layer i, the decoder layer that inverts it), outermost first."""
        enc = [m for m in self.encoder if isinstance(m, nn.Linear)]
        dec = [m for m in self.decoder if isinstance(m, nn.Linear)][::-1]
        return list(zip(enc, dec, strict=True))


def corrupt(
    x: torch.Tensor, noise: float, noise_type: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    if noise <= 0:
        return x
    if noise_type == "masking":
        keep = torch.rand(x.shape, generator=generator, device="cpu").to(x.device) >= noise
        return x * keep
    if noise_type == "gaussian":
        return x + noise * torch.randn(x.shape, generator=generator, device="cpu").to(x.device)
    raise ValueError(f"unknown noise_type {noise_type!r}; use 'masking' or 'gaussian'")


class DenoisingAutoencoder(TransformerMixin, BaseEstimator):
    """Stacked denoising autoencoder as a scikit-learn transformer.

    Parameters
    ----------
    hidden_dims : list of int, default [500, 500, 2000, 10]
        Encoder layer sizes after the input; the last one is the embedding size.
    noise : float, default 0.2
        Corruption level: masking probability or Gaussian standard deviation.
    noise_type : {"masking", "gaussian"}, default "masking"
    epochs : int, default 100
        End-to-end training epochs.
    layerwise_epochs : int, default 0
        Epochs of greedy layer-wise pretraining per layer before the
        end-to-end training (0 skips it).
    batch_size : int, default 256
    optimizer : {"adam", "sgd"}, default "adam"
    lr : float, default 1e-3
    weight_decay : float, default 0.0
    weight_init : {"glorot", "default"}, default "glorot"
        Glorot-uniform weights and zero biases (as the Keras implementations
        of DEC and IDEC), or PyTorch's default initialisation.
    random_state : int, default 0
    device : str, default "auto"
        "auto" uses CUDA when available.
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the forward and backward passes
        (:mod:`mmclust.nn.precision`); set by the workflow's top-level
        ``precision`` key.
    verbose : bool, default True
        Show a progress bar.

    Attributes
    ----------
    module_ : StackedAutoencoder
    loss_history_ : list of float, mean training loss per end-to-end epoch.
    """

    def __init__(
        self,
        hidden_dims: tuple[int, ...] | list[int] = (500, 500, 2000, 10),
        noise: float = 0.2,
        noise_type: str = "masking",
        epochs: int = 100,
        layerwise_epochs: int = 0,
        batch_size: int = 256,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        weight_init: str = "glorot",
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        self.weight_init = weight_init
        self.hidden_dims = hidden_dims
        self.noise = noise
        self.noise_type = noise_type
        self.epochs = epochs
        self.layerwise_epochs = layerwise_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose

    def _precision(self, device: torch.device) -> Precision:
        return Precision(self.precision, device)

    def fit(self, X: np.ndarray, y: Any = None) -> DenoisingAutoencoder:
        check_finite(X, "the input of the autoencoder's fit")
        device = resolve_device(self.device)
        self._precision(device).log("autoencoder")
        gen = seed_everything(self.random_state)
        Xt = as_tensor(X, device)
        module = StackedAutoencoder([Xt.shape[1], *self.hidden_dims], self.weight_init)
        module = module.to(device)
        if self.layerwise_epochs > 0:
            self._layerwise(module, Xt, gen)
        self.loss_history_ = self._train(
            module, Xt, gen, self.epochs, params=module.parameters(), desc="autoencoder"
        )
        self.module_ = module.eval()
        return self

    def _train(
        self,
        module: nn.Module,
        X: torch.Tensor,
        gen: torch.Generator,
        epochs: int,
        params: Any,
        desc: str,
    ) -> list[float]:
        opt = make_optimizer(self.optimizer, params, self.lr, weight_decay=self.weight_decay)
        prec = self._precision(X.device)
        module.train()
        history: list[float] = []
        bar = tqdm(range(epochs), desc=desc, disable=not self.verbose, mininterval=1.0)
        for epoch in bar:
            total = 0.0
            for idx in minibatches(X.shape[0], self.batch_size, gen):
                x = X[idx]
                _, recon = prec.run(module, corrupt(x, self.noise, self.noise_type, gen))
                loss = nn.functional.mse_loss(recon, x)
                opt.zero_grad(set_to_none=True)
                prec.backward(loss)
                opt.step()
                total += loss.item() * len(idx)
            history.append(check_loss(total / X.shape[0], desc, f"epoch {epoch + 1}/{epochs}"))
            bar.set_postfix(loss=f"{history[-1]:.4f}")
        return history

    def _layerwise(self, module: StackedAutoencoder, X: torch.Tensor, gen: torch.Generator) -> None:
        pairs = module.linear_pairs()
        codes = X
        for depth, (enc, dec) in enumerate(pairs):
            inner_act = depth < len(pairs) - 1  # the embedding layer is linear
            outer_act = depth > 0  # the reconstruction layer is linear
            layer = _OneLayerAE(enc, dec, inner_act, outer_act)
            self._train(
                layer, codes, gen, self.layerwise_epochs, layer.parameters(),
                desc=f"layer {depth + 1}/{len(pairs)}",
            )  # fmt: skip
            codes = batched(self._precision(X.device).wrap(layer.encode), codes)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The codes of ``X`` (float32)."""
        device = next(self.module_.parameters()).device
        encode = self._precision(device).wrap(self.module_.encoder)
        return batched(encode, as_tensor(X, device)).cpu().numpy()

    def reconstruction_error(self, X: np.ndarray) -> float:
        device = next(self.module_.parameters()).device
        Xt = as_tensor(X, device)
        forward = self._precision(device).wrap(self.module_)
        recon = batched(lambda x: forward(x)[1], Xt)
        return float(nn.functional.mse_loss(recon, Xt).item())

    def save(self, path: str) -> None:
        from mmclust.io import atomic_path

        state = {
            "dims": self.module_.dims,
            "state_dict": {k: v.cpu() for k, v in self.module_.state_dict().items()},
            "params": self.get_params(),
            "loss_history": self.loss_history_,
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    @classmethod
    def load(cls, path: str, device: str = "auto") -> DenoisingAutoencoder:
        state = torch.load(path, map_location="cpu", weights_only=True)
        est = cls(**state["params"])
        module = StackedAutoencoder(state["dims"])
        module.load_state_dict(state["state_dict"])
        est.module_ = module.to(resolve_device(device)).eval()
        est.loss_history_ = list(state["loss_history"])
        return est


def pretrain_autoencoder(
    X: np.ndarray,
    pretrain_params: dict[str, Any] | None,
    random_state: int,
    device: str,
    verbose: bool,
    precision: str = "fp32",
) -> DenoisingAutoencoder:
    """Pretrain the autoencoder a deep method starts from when it is given none.

    ``pretrain_params`` are :class:`DenoisingAutoencoder` parameters; the
    method's seed, device, precision and verbosity apply unless they set their own.
    """
    params = dict(pretrain_params or {})
    params.setdefault("random_state", random_state)
    params.setdefault("device", device)
    params.setdefault("precision", precision)
    params.setdefault("verbose", verbose)
    return DenoisingAutoencoder(**params).fit(X)


class _OneLayerAE(nn.Module):
    """One encoder layer and its decoder, trained as a one-layer denoising autoencoder.

    ``dec=None`` ties the weights: the reconstruction is W' h with the
    encoder's own W and no bias.  ``activation`` is the nonlinearity applied
    where ``inner_act`` (the code) and ``outer_act`` (the reconstruction) ask
    for one; ReLU by default.
    """

    def __init__(
        self,
        enc: nn.Linear,
        dec: nn.Linear | None,
        inner_act: bool,
        outer_act: bool,
        activation: Callable[[torch.Tensor], torch.Tensor] = torch.relu,
    ) -> None:
        super().__init__()
        self.enc, self.dec = enc, dec
        self.inner_act, self.outer_act = inner_act, outer_act
        self.activation = activation

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = self.enc(x)
        return self.activation(h) if self.inner_act else h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encode(x)
        out = self.dec(h) if self.dec is not None else h @ self.enc.weight
        return h, self.activation(out) if self.outer_act else out


def pretrain_layer(
    enc: nn.Linear,
    X: torch.Tensor,
    generator: torch.Generator,
    *,
    activation: Callable[[torch.Tensor], torch.Tensor] | None = torch.relu,
    dec: nn.Linear | None = None,
    epochs: int = 10,
    noise: float = 0.2,
    noise_type: str = "masking",
    batch_size: int = 256,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    verbose: bool = False,
    desc: str = "layer",
) -> list[float]:
    """Train ``enc`` in place as a one-layer denoising autoencoder of the rows of ``X``.

    The code is ``activation(enc(x))`` (linear when ``activation`` is None),
    the reconstruction ``dec`` of the code, or W' code (tied weights, no bias)
    when ``dec`` is None; the loss is the squared error between the
    reconstruction of the corrupted input and the clean input, minimised by
    the training loop of :class:`DenoisingAutoencoder`.  ``weight_decay``
    applies to the weight matrices only.  Returns the mean loss per epoch.
    """
    act = activation if activation is not None else torch.relu
    layer = _OneLayerAE(enc, dec, activation is not None, False, act)
    weights = [enc.weight] + ([dec.weight] if dec is not None else [])
    others = [p for p in layer.parameters() if all(p is not w for w in weights)]
    groups = [{"params": weights, "weight_decay": weight_decay}]
    if others:
        groups.append({"params": others, "weight_decay": 0.0})
    trainer = DenoisingAutoencoder(
        noise=noise,
        noise_type=noise_type,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        verbose=verbose,
    )
    return trainer._train(layer, X, generator, epochs, groups, desc)
