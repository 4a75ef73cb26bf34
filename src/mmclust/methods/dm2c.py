"""DM2C: deep mixed-modal clustering (Jiang, Xu, Yang, Cao & Huang, NeurIPS 2019).

Setting
    Mixed-modal data: every sample is *either* in modality A (image features)
    *or* in modality B (text features), never both, and no pairing between
    the two modalities is known.  The estimator takes the two views and their
    masks (the multi-view contract of :mod:`mmclust.methods.base`); a sample
    with both views or with neither is refused with a ``ValueError``.

Method (the paper's section 3.2 and Algorithm 1)
    1. Two modality-specific autoencoders are pretrained, each on its own
       modality's rows only (squared reconstruction error, Eq. 1).
    2. In the latent spaces, two generators G_AB: Z_A -> Z_B and
       G_BA: Z_B -> Z_A are trained with
       * the cycle-consistency loss (Eq. 2), an l1 penalty on
         z_a - G_BA(G_AB(z_a)) and z_b - G_AB(G_BA(z_b)), weight λ1
         (``lambda_cycle``);
       * Wasserstein adversarial losses (Eq. 3) against two critics D_A, D_B
         on latent codes: L_adv^A = E[D_A(z_a)] - E[D_A(G_BA(z_b))] and
         L_adv^B likewise.  The critics maximise L_adv (they minimise
         E[D(fake)] - E[D(real)], :func:`critic_loss`) with RMSprop and weight
         clipping to ±``clip`` after every critic step (the 1-Lipschitz
         constraint of WGAN); the generators minimise it (weight
         ``lambda_adv``, λ3 below).
       The autoencoders keep being updated inside the loop with their
       reconstruction loss, weight λ2 (``lambda_rec``).  Every step uses
       RMSprop, as the paper says.
    3. Unification: every sample is mapped once into the ``target``
       modality's latent space (``target="a"``, the paper's choice: A codes
       stay as they are, B codes go through G_BA; ``target="b"``: A codes go
       through G_AB), then k-means (k-means++, ``kmeans_n_init`` restarts,
       ``kmeans_max_iter``, ``kmeans_tol``: 20, 1000 and 5e-5 as in the
       authors' code) clusters the unified codes.

One iteration of the adversarial loop (Algorithm 1, lines 3-14)
    a. a batch from each modality: one RMSprop step of both autoencoders on
       λ2 · (L_rec^A + L_rec^B);
    b. ``n_critic`` critic steps, each on fresh batches (codes and generator
       outputs computed without gradient), each followed by clipping;
    c. fresh batches: one RMSprop step of both generators on
       λ3 · (L_adv^A + L_adv^B) + λ1 · (L_cyc^A + L_cyc^B)
       [+ ``lambda_cycle_recon`` · the authors' extra term, below].
       Algorithm 1 writes G_AB's update with L_adv^A, which does not depend
       on G_AB (an index swap): both generators minimise the sum, which is
       what Eq. 5 says.
    Codes fed to the critics and generators are computed without gradient
    into the encoders: Algorithm 1 updates the autoencoders with their
    reconstruction loss only (its line 4 cites Eq. 2, the cycle loss, but the
    comment and the text say reconstruction; Eq. 1 is used).

Critic / generator step ratio (two keys)
    ``n_critic`` critic steps are made before a generator step, on every
    ``critic_interval``-th iteration only.  The paper's Algorithm 1 (and
    WGAN) is ``n_critic`` > 1, ``critic_interval=1``; the paper gives no
    value for n_critic: 5, WGAN's, is the default.  The authors' public code
    does the reverse: it updates the critics once every 5 generator steps,
    i.e. ``n_critic=1, critic_interval=5``.

Choices the paper leaves open (each is a key)
    * Layers: each *hidden* layer of the autoencoders and generators is
      Linear → BatchNorm → LeakyReLU(0.2); the code layer, the
      reconstruction layer and the generators' output layer are linear (the
      latent codes and the reconstructed PCA features are unbounded).  The
      critics are Linear(latent → 32) → LeakyReLU(0.2) → Linear(32 → 1)
      without BatchNorm (``critic_hidden_dims``).  Both modalities must share
      one latent size, so that the codes of the ablation rows (one matrix
      holding A and B codes) are defined.
    * Loss reductions: the squared error and the l1 cycle error are averaged
      over samples *and* dimensions (PyTorch's ``MSELoss``/``L1Loss``, the
      reductions of the authors' PyTorch code); the paper writes norms summed
      over dimensions, which only rescales λ1 and λ2.
    * The adversarial weight λ3 (``lambda_adv``): the paper's Eq. 4 has none
      (1.0, the default); the authors' code uses 0.5.
    * The authors' code adds to the generator loss the reconstruction of the
      inputs from the cycled codes, MSE(x_a, Dec_A(G_BA(G_AB(z_a)))) +
      MSE(x_b, Dec_B(G_AB(G_BA(z_b)))), which the paper does not mention.
      ``lambda_cycle_recon`` weighs it; 0.0 (the default) is the paper's
      formulation, 1.0 adds it unweighted.  The decoders are not updated by
      this term (only the generators take that step).
    * Batches: each modality is read as its own stream of shuffled batches
      of ``batch_size`` rows (a new permutation when fewer than a batch are
      left; the leftover rows wait for the next pass); each "sample a batch"
      of Algorithm 1 takes the next batch of both streams.  An epoch is
      ceil(max(n_A, n_B) / batch_size) iterations of the loop (generator
      steps); pretraining epochs are ceil(n_m / batch_size) steps.
    * Pretraining: Adam (``pretrain_optimizer``) with per-modality learning
      rates; the authors' code uses 150 epochs with lr 1e-4 (image) and 1e-5
      (text) on Wikipedia (the defaults); the paper gives none of these.
    * Epochs: 220, the authors' code; the paper gives no stopping rule and
      the code evaluates every epoch: the last epoch is used.
    * BatchNorm runs in training mode (batch statistics) throughout training
      and in evaluation mode (running statistics) for every code this
      estimator returns.

Ablation (the paper's Table 5) through ``stage``
    ``"full"`` clusters the unified codes; ``"no_unification"`` clusters, after
    the adversarial training, each sample's code in its own modality's space;
    ``"no_adversarial"`` clusters the codes straight from the pretrained
    autoencoders (the adversarial loop is then skipped, since it cannot change
    those codes).  ``predict`` and ``transform`` use the codes of the chosen
    stage.  With the same ``random_state`` the three stages share the same
    pretrained autoencoders.

Presets
    ``PRESETS["wikipedia"]`` and ``PRESETS["nus-wide-10k"]`` hold the paper's
    settings of section 4 (plain parameter dicts the config can copy).

No label is ever read.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from torch import nn
from tqdm.auto import tqdm

from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.methods.deep_baselines import make_fused_optimizer
from mmclust.nn.utils import as_tensor, batched, resolve_device, seed_everything

log = logging.getLogger(__name__)

STAGES = ("full", "no_adversarial", "no_unification")

#: The paper's settings (section 4.1 and 4.2), plus the authors' code where the
#: paper is silent (epochs, pretraining).  NUS-WIDE-10K's text autoencoder is
#: 1000-512-128 in the authors' code (the paper gives one structure for both).
PRESETS: dict[str, dict[str, Any]] = {
    "wikipedia": {
        "hidden_dims_a": [1024, 256, 128],
        "hidden_dims_b": [1024, 256, 128],
        "generator_hidden_dims": [128, 256, 128],
        "critic_hidden_dims": [32],
        "lr_ae": 1e-3,
        "lr_generator": 1e-4,
        "lr_critic": 5e-5,
        "lambda_cycle": 1.0,
        "lambda_rec": 2.0,
        "lambda_adv": 1.0,
        "clip": 0.05,
        "batch_size": 128,
        "epochs": 220,
        "pretrain_epochs": 150,
        "pretrain_lr_a": 1e-4,
        "pretrain_lr_b": 1e-5,
    },
    "nus-wide-10k": {
        "hidden_dims_a": [512, 256, 128],
        "hidden_dims_b": [512, 128],
        "generator_hidden_dims": [128, 128],
        "critic_hidden_dims": [32],
        "lr_ae": 5e-4,
        "lr_generator": 5e-5,
        "lr_critic": 5e-5,
        "lambda_cycle": 1.0,
        "lambda_rec": 1.0,
        "lambda_adv": 1.0,
        "clip": 0.05,
        "batch_size": 128,
        "epochs": 220,
        "pretrain_epochs": 150,
        "pretrain_lr_a": 1e-4,
        "pretrain_lr_b": 1e-5,
    },
}


# -- building blocks ---------------------------------------------------------------------


def mlp(dims: Sequence[int], negative_slope: float = 0.2, batch_norm: bool = True) -> nn.Sequential:
    """Fully connected layers ``dims[0] -> ... -> dims[-1]``.

    Every layer but the last is followed by BatchNorm (when ``batch_norm``)
    and LeakyReLU(``negative_slope``); the last layer is linear.
    """
    layers: list[nn.Module] = []
    pairs = list(itertools.pairwise(dims))
    for i, (a, b) in enumerate(pairs):
        layers.append(nn.Linear(a, b))
        if i < len(pairs) - 1:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.LeakyReLU(negative_slope))
    return nn.Sequential(*layers)


class ModalityAutoencoder(nn.Module):
    """Encoder ``input -> hidden_dims`` (the last is the code) and its mirror."""

    def __init__(self, input_dim: int, hidden_dims: Sequence[int], negative_slope: float) -> None:
        super().__init__()
        dims = [input_dim, *hidden_dims]
        self.encoder = mlp(dims, negative_slope)
        self.decoder = mlp(dims[::-1], negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def cycle_loss(z: torch.Tensor, z_cycled: torch.Tensor) -> torch.Tensor:
    """l1 cycle-consistency error (Eq. 2), averaged over samples and dimensions."""
    return (z - z_cycled).abs().mean()


def critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """What a WGAN critic minimises: E[D(fake)] - E[D(real)].

    Minimising it maximises L_adv = E[D(real)] - E[D(fake)] (Eq. 3), the
    critic's side of the min-max problem (Eq. 5).
    """
    return critic(fake).mean() - critic(real).mean()


def adversarial_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """L_adv = E[D(real)] - E[D(fake)] (Eq. 3), which the generators minimise."""
    return critic(real).mean() - critic(fake).mean()


@torch.no_grad()
def clip_weights_(modules: Sequence[nn.Module], clip: float) -> None:
    """Clamp every parameter of ``modules`` to [-clip, clip] in place."""
    for module in modules:
        for p in module.parameters():
            p.clamp_(-clip, clip)


def critic_step(
    critics: Sequence[nn.Module],
    optimizer: torch.optim.Optimizer,
    reals: Sequence[torch.Tensor],
    fakes: Sequence[torch.Tensor],
    clip: float,
) -> torch.Tensor:
    """One optimiser step of the critics on the sum of their losses, then clipping.

    Returns the (detached) summed critic loss.
    """
    loss = sum(
        (critic_loss(d, r, f) for d, r, f in zip(critics, reals, fakes, strict=True)),
        start=torch.zeros((), device=reals[0].device),
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    clip_weights_(critics, clip)
    return loss.detach()


def _rmsprop(params: Any, lr: float) -> torch.optim.Optimizer:
    """RMSprop with PyTorch's defaults (alpha 0.99, eps 1e-8), multi-tensor kernels."""
    return torch.optim.RMSprop(list(params), lr=lr, foreach=True)


class _BatchStream:
    """Endless shuffled batches of ``batch_size`` indices out of ``n`` (see module doc)."""

    def __init__(
        self, n: int, batch_size: int, generator: torch.Generator, device: torch.device
    ) -> None:
        self.n = n
        self.batch_size = min(batch_size, n)
        self.generator = generator
        self.device = device
        self._order = torch.randperm(n, generator=generator)
        self._pos = 0

    def next(self) -> torch.Tensor:
        if self._pos + self.batch_size > self.n:
            self._order = torch.randperm(self.n, generator=self.generator)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx.to(self.device, non_blocking=True)


# -- the estimator -----------------------------------------------------------------------


class DM2C(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Deep mixed-modal clustering with cycle-consistent adversarial mappings.

    ``fit(views, masks=masks)`` takes ``views = [X_A, X_B]`` (image features,
    text features) and their masks; every sample must have exactly one view.

    Parameters
    ----------
    n_clusters : int, default 10
    hidden_dims_a, hidden_dims_b : sequence of int, default (1024, 256, 128)
        Encoder layer sizes after the input of each modality's autoencoder;
        the last is the latent size (the same for both).
    generator_hidden_dims : sequence of int, default (128, 256, 128)
        Hidden layers of G_AB and G_BA (latent -> hidden... -> latent).
    critic_hidden_dims : sequence of int, default (32,)
        Hidden layers of D_A and D_B (latent -> hidden... -> 1).
    negative_slope : float, default 0.2
        LeakyReLU slope everywhere.
    lr_ae, lr_generator, lr_critic : float, default 1e-3, 1e-4, 5e-5
        RMSprop learning rates in the adversarial loop (Wikipedia's values).
    lambda_cycle : float, default 1.0
        λ1, weight of the cycle-consistency loss.
    lambda_rec : float, default 2.0
        λ2, weight of the reconstruction loss in the loop.
    lambda_adv : float, default 1.0
        λ3, weight of the adversarial loss in the generator step (paper: 1;
        authors' code: 0.5).
    lambda_cycle_recon : float, default 0.0
        Weight of the authors' extra term, the inputs reconstructed from the
        cycled codes (0: the paper's formulation).
    clip : float, default 0.05
        Critic weights are clipped to [-clip, clip] after every critic step.
    n_critic : int, default 5
        Critic steps per round (Algorithm 1's n_critics).
    critic_interval : int, default 1
        A round of critic steps every this many generator steps (the authors'
        code: ``n_critic=1, critic_interval=5``).
    epochs : int, default 220
        Epochs of the adversarial loop (see the module doc for an epoch).
    batch_size : int, default 128
    pretrain_epochs : int, default 150
    pretrain_lr_a, pretrain_lr_b : float, default 1e-4, 1e-5
    pretrain_optimizer : {"adam", "rmsprop"}, default "adam"
    target : {"a", "b"}, default "a"
        The modality whose latent space receives every sample.
    stage : {"full", "no_adversarial", "no_unification"}, default "full"
        Which codes k-means clusters (the rows of the paper's Table 5).
    kmeans_n_init : int, default 20
    kmeans_max_iter : int, default 1000
    kmeans_tol : float, default 5e-5
    random_state : int, default 0
    device : str, default "auto"
    verbose : bool, default True
        Progress bars.

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, latent) the codes k-means was fitted on (the
        unified codes for ``stage="full"``)
    codes_pretrained_ : ndarray (n, latent) own-modality codes of the
        pretrained autoencoders
    codes_no_unification_ : ndarray (n, latent) or None, own-modality codes
        after the adversarial training (None for ``stage="no_adversarial"``)
    codes_unified_ : ndarray (n, latent) or None, unified codes after the
        adversarial training (None for ``stage="no_adversarial"``)
    cluster_centers_ : ndarray (k, latent)
    kmeans_ : the fitted ``sklearn.cluster.KMeans``
    autoencoder_a_, autoencoder_b_, generator_ab_, generator_ba_, critic_a_,
    critic_b_ : the trained modules
    history_ : list of dict, one per adversarial epoch: mean generator loss,
        critic loss, adversarial loss (L_adv^A + L_adv^B), cycle loss,
        reconstruction loss (and cycle_reconstruction when used)
    pretrain_history_ : dict {"a": [...], "b": [...]}, mean loss per pretraining epoch
    n_iter_ : int, iterations (generator steps) of the adversarial loop
    """

    def __init__(
        self,
        n_clusters: int = 10,
        hidden_dims_a: Sequence[int] = (1024, 256, 128),
        hidden_dims_b: Sequence[int] = (1024, 256, 128),
        generator_hidden_dims: Sequence[int] = (128, 256, 128),
        critic_hidden_dims: Sequence[int] = (32,),
        negative_slope: float = 0.2,
        lr_ae: float = 1e-3,
        lr_generator: float = 1e-4,
        lr_critic: float = 5e-5,
        lambda_cycle: float = 1.0,
        lambda_rec: float = 2.0,
        lambda_adv: float = 1.0,
        lambda_cycle_recon: float = 0.0,
        clip: float = 0.05,
        n_critic: int = 5,
        critic_interval: int = 1,
        epochs: int = 220,
        batch_size: int = 128,
        pretrain_epochs: int = 150,
        pretrain_lr_a: float = 1e-4,
        pretrain_lr_b: float = 1e-5,
        pretrain_optimizer: str = "adam",
        target: str = "a",
        stage: str = "full",
        kmeans_n_init: int = 20,
        kmeans_max_iter: int = 1000,
        kmeans_tol: float = 5e-5,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.hidden_dims_a = hidden_dims_a
        self.hidden_dims_b = hidden_dims_b
        self.generator_hidden_dims = generator_hidden_dims
        self.critic_hidden_dims = critic_hidden_dims
        self.negative_slope = negative_slope
        self.lr_ae = lr_ae
        self.lr_generator = lr_generator
        self.lr_critic = lr_critic
        self.lambda_cycle = lambda_cycle
        self.lambda_rec = lambda_rec
        self.lambda_adv = lambda_adv
        self.lambda_cycle_recon = lambda_cycle_recon
        self.clip = clip
        self.n_critic = n_critic
        self.critic_interval = critic_interval
        self.epochs = epochs
        self.batch_size = batch_size
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr_a = pretrain_lr_a
        self.pretrain_lr_b = pretrain_lr_b
        self.pretrain_optimizer = pretrain_optimizer
        self.target = target
        self.stage = stage
        self.kmeans_n_init = kmeans_n_init
        self.kmeans_max_iter = kmeans_max_iter
        self.kmeans_tol = kmeans_tol
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # -- validation ----------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; use one of {list(STAGES)}")
        if self.target not in ("a", "b"):
            raise ValueError(f"target must be 'a' or 'b', got {self.target!r}")
        if not self.hidden_dims_a or not self.hidden_dims_b:
            raise ValueError("hidden_dims_a and hidden_dims_b need at least the latent size")
        if self.hidden_dims_a[-1] != self.hidden_dims_b[-1]:
            raise ValueError(
                "both modalities need the same latent size (the last of hidden_dims_a and "
                f"hidden_dims_b), got {self.hidden_dims_a[-1]} and {self.hidden_dims_b[-1]}"
            )
        for name in ("n_critic", "critic_interval", "batch_size", "n_clusters"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.pretrain_optimizer not in ("adam", "rmsprop"):
            raise ValueError(
                f"unknown pretrain_optimizer {self.pretrain_optimizer!r}; use 'adam' or 'rmsprop'"
            )

    @staticmethod
    def _check_mixed(
        views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if masks is None:
            raise ValueError(
                "DM2C needs masks: mixed-modal data has exactly one view per sample "
                "(masks=[has_image, has_text])"
            )
        try:
            views, masks = check_views(views, masks, n_views=2)
        except ValueError as exc:
            raise ValueError(f"DM2C: {exc}") from exc
        both = masks[0] & masks[1]
        if both.any():
            raise ValueError(
                f"DM2C takes mixed-modal data (exactly one view per sample), but "
                f"{int(both.sum())} samples have both views (first: row "
                f"{int(np.flatnonzero(both)[0])}); keep one view of each"
            )
        return views, masks

    # -- fitting -------------------------------------------------------------------------
    def fit(
        self,
        views: Sequence[np.ndarray],
        y: Any = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> DM2C:
        self._check_params()
        views, masks = self._check_mixed(views, masks)
        for name, m in zip("AB", masks, strict=True):
            if m.sum() < 2:
                raise ValueError(f"DM2C needs at least 2 samples of modality {name}, got {m.sum()}")
        device = resolve_device(self.device)
        gen = seed_everything(self.random_state)
        Xa = as_tensor(views[0][masks[0]], device)
        Xb = as_tensor(views[1][masks[1]], device)
        latent = self.hidden_dims_a[-1]
        slope = self.negative_slope
        self.autoencoder_a_ = ModalityAutoencoder(Xa.shape[1], self.hidden_dims_a, slope).to(device)
        self.autoencoder_b_ = ModalityAutoencoder(Xb.shape[1], self.hidden_dims_b, slope).to(device)
        g_dims = [latent, *self.generator_hidden_dims, latent]
        self.generator_ab_ = mlp(g_dims, slope).to(device)
        self.generator_ba_ = mlp(g_dims, slope).to(device)
        d_dims = [latent, *self.critic_hidden_dims, 1]
        self.critic_a_ = mlp(d_dims, slope, batch_norm=False).to(device)
        self.critic_b_ = mlp(d_dims, slope, batch_norm=False).to(device)

        self.pretrain_history_ = {
            "a": self._pretrain(self.autoencoder_a_, Xa, self.pretrain_lr_a, gen, "A"),
            "b": self._pretrain(self.autoencoder_b_, Xb, self.pretrain_lr_b, gen, "B"),
        }
        self.codes_pretrained_ = self._codes(Xa, Xb, masks, unify=False)
        self.history_: list[dict[str, float]] = []
        if self.stage == "no_adversarial":
            self.codes_no_unification_ = None
            self.codes_unified_ = None
            self.n_iter_ = 0
            codes = self.codes_pretrained_
        else:
            self._adversarial(Xa, Xb, gen)
            self.codes_no_unification_ = self._codes(Xa, Xb, masks, unify=False)
            self.codes_unified_ = self._codes(Xa, Xb, masks, unify=True)
            codes = self.codes_unified_ if self.stage == "full" else self.codes_no_unification_
        self.embedding_ = codes
        self.kmeans_ = KMeans(
            n_clusters=self.n_clusters,
            init="k-means++",
            n_init=self.kmeans_n_init,
            max_iter=self.kmeans_max_iter,
            tol=self.kmeans_tol,
            random_state=self.random_state,
        ).fit(codes)
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return self

    def _pretrain(
        self,
        ae: ModalityAutoencoder,
        X: torch.Tensor,
        lr: float,
        gen: torch.Generator,
        name: str,
    ) -> list[float]:
        if self.pretrain_optimizer == "adam":
            opt = make_fused_optimizer("adam", ae.parameters(), lr)
        else:
            opt = _rmsprop(ae.parameters(), lr)
        stream = _BatchStream(X.shape[0], self.batch_size, gen, X.device)
        steps = math.ceil(X.shape[0] / self.batch_size)
        ae.train()
        history: list[float] = []
        bar = tqdm(
            range(self.pretrain_epochs),
            desc=f"DM2C pretrain {name}",
            disable=not self.verbose,
            mininterval=1.0,
        )
        for _ in bar:
            total = torch.zeros((), device=X.device)
            for _ in range(steps):
                x = X[stream.next()]
                loss = nn.functional.mse_loss(ae(x), x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach()
            history.append(float(total) / steps)
            bar.set_postfix(loss=f"{history[-1]:.4f}")
        log.info(
            "DM2C: autoencoder %s pretrained, final loss %.4g",
            name,
            history[-1] if history else float("nan"),
        )
        return history

    def _adversarial(self, Xa: torch.Tensor, Xb: torch.Tensor, gen: torch.Generator) -> None:
        ae_a, ae_b = self.autoencoder_a_, self.autoencoder_b_
        g_ab, g_ba = self.generator_ab_, self.generator_ba_
        d_a, d_b = self.critic_a_, self.critic_b_
        modules = (ae_a, ae_b, g_ab, g_ba, d_a, d_b)
        for m in modules:
            m.train()
        opt_ae = _rmsprop([*ae_a.parameters(), *ae_b.parameters()], self.lr_ae)
        opt_g = _rmsprop([*g_ab.parameters(), *g_ba.parameters()], self.lr_generator)
        opt_d = _rmsprop([*d_a.parameters(), *d_b.parameters()], self.lr_critic)
        device = Xa.device
        stream_a = _BatchStream(Xa.shape[0], self.batch_size, gen, device)
        stream_b = _BatchStream(Xb.shape[0], self.batch_size, gen, device)
        steps = math.ceil(max(Xa.shape[0], Xb.shape[0]) / self.batch_size)
        use_cr = self.lambda_cycle_recon != 0
        mse = nn.functional.mse_loss

        def batches() -> tuple[torch.Tensor, torch.Tensor]:
            return Xa[stream_a.next()], Xb[stream_b.next()]

        it = 0
        bar = tqdm(range(self.epochs), desc="DM2C", disable=not self.verbose, mininterval=1.0)
        for epoch in bar:
            # running sums: generator, critic, adversarial, cycle, reconstruction, cycle-recon
            sums = torch.zeros(6, device=device)
            n_critic_steps = 0
            for _ in range(steps):
                # (a) autoencoders
                xa, xb = batches()
                rec = mse(ae_a(xa), xa) + mse(ae_b(xb), xb)
                opt_ae.zero_grad(set_to_none=True)
                (self.lambda_rec * rec).backward()
                opt_ae.step()
                sums[4] += rec.detach()
                # (b) critics
                if it % self.critic_interval == 0:
                    for _ in range(self.n_critic):
                        xa, xb = batches()
                        with torch.no_grad():
                            za, zb = ae_a.encoder(xa), ae_b.encoder(xb)
                            fake_a, fake_b = g_ba(zb), g_ab(za)
                        sums[1] += critic_step(
                            (d_a, d_b), opt_d, (za, zb), (fake_a, fake_b), self.clip
                        )
                        n_critic_steps += 1
                # (c) generators
                xa, xb = batches()
                with torch.no_grad():
                    za, zb = ae_a.encoder(xa), ae_b.encoder(xb)
                fake_b, fake_a = g_ab(za), g_ba(zb)
                cyc_a, cyc_b = g_ba(fake_b), g_ab(fake_a)
                adv = adversarial_loss(d_a, za, fake_a) + adversarial_loss(d_b, zb, fake_b)
                cyc = cycle_loss(za, cyc_a) + cycle_loss(zb, cyc_b)
                loss = self.lambda_adv * adv + self.lambda_cycle * cyc
                if use_cr:
                    cr = mse(ae_a.decoder(cyc_a), xa) + mse(ae_b.decoder(cyc_b), xb)
                    loss = loss + self.lambda_cycle_recon * cr
                    sums[5] += cr.detach()
                opt_g.zero_grad(set_to_none=True)
                loss.backward()
                opt_g.step()
                sums[0] += loss.detach()
                sums[2] += adv.detach()
                sums[3] += cyc.detach()
                it += 1
            means = (sums / steps).tolist()
            entry = {
                "epoch": epoch,
                "generator": means[0],
                "critic": means[1] * steps / max(n_critic_steps, 1),
                "adversarial": means[2],
                "cycle": means[3],
                "reconstruction": means[4],
            }
            if use_cr:
                entry["cycle_reconstruction"] = means[5]
            self.history_.append(entry)
            bar.set_postfix(cyc=f"{entry['cycle']:.4f}", adv=f"{entry['adversarial']:.4f}")
        for m in modules:
            m.eval()
        self.n_iter_ = it
        if self.history_:
            log.info("DM2C: adversarial training done, last epoch %s", self.history_[-1])

    # -- codes ---------------------------------------------------------------------------
    def _codes(
        self, Xa: torch.Tensor, Xb: torch.Tensor, masks: Sequence[np.ndarray], unify: bool
    ) -> np.ndarray:
        """Codes of all samples in their original order (``Xa``/``Xb``: present rows only).

        ``unify``: map the non-target modality once through its generator.
        """
        for m in (self.autoencoder_a_, self.autoencoder_b_, self.generator_ab_, self.generator_ba_):
            m.eval()
        za = batched(self.autoencoder_a_.encoder, Xa) if Xa.shape[0] else None
        zb = batched(self.autoencoder_b_.encoder, Xb) if Xb.shape[0] else None
        if unify and self.target == "a" and zb is not None:
            zb = batched(self.generator_ba_, zb)
        elif unify and self.target == "b" and za is not None:
            za = batched(self.generator_ab_, za)
        n = masks[0].shape[0]
        out = np.zeros((n, self.hidden_dims_a[-1]), dtype=np.float32)
        if za is not None:
            out[masks[0]] = za.cpu().numpy()
        if zb is not None:
            out[masks[1]] = zb.cpu().numpy()
        return out

    def _device(self) -> torch.device:
        return next(self.autoencoder_a_.parameters()).device

    def transform(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """Codes of the fitted ``stage`` for new mixed-modal rows (unified for "full")."""
        views, masks = self._check_mixed(views, masks)
        device = self._device()
        Xa = as_tensor(views[0][masks[0]], device)
        Xb = as_tensor(views[1][masks[1]], device)
        return self._codes(Xa, Xb, masks, unify=self.stage == "full")

    def predict(
        self, views: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """Assign new mixed-modal rows to the fitted k-means centroids."""
        return self.kmeans_.predict(self.transform(views, masks))
