"""DM2C: deep mixed-modal clustering (Jiang, Xu, Yang, Cao & Huang, NeurIPS 2019).

Setting
    Mixed-modal data: every sample is *either* in modality A (image features)
    *or* in modality B (text features), never both, and no pairing between
    the two modalities is known.  The estimator takes the two views and their
    masks (the multi-view contract of :mod:`mmclust.methods.base`); a sample
    with both views or with neither is refused with a ``ValueError``.

Method (the paper's section 3.2, Eq. 1-5 and Algorithm 1)
    1. Two modality-specific autoencoders are pretrained, each on its own
       modality's rows only (squared reconstruction error, Eq. 1).
    2. In the latent spaces, two generators G_AB: Z_A -> Z_B and
       G_BA: Z_B -> Z_A and two critics D_A, D_B play the min-max game of
       Eq. 5 on the objective of Eq. 4,
       L = L_adv^A + L_adv^B + λ1 (L_cyc^A + L_cyc^B) + λ2 (L_rec^A + L_rec^B):
       * L_cyc (Eq. 2): l1 error of z_a - G_BA(G_AB(z_a)) and
         z_b - G_AB(G_BA(z_b)), weight λ1 (``lambda_cycle``);
       * L_adv (Eq. 3, Wasserstein): L_adv^A = E[D_A(z_a)] - E[D_A(G_BA(z_b))],
         L_adv^B likewise; the critics maximise it (they minimise
         E[D(fake)] - E[D(real)], :func:`critic_loss`) with RMSprop and weight
         clipping to ±``clip`` after every critic step (WGAN's 1-Lipschitz
         constraint); ``lambda_adv`` (λ3) weighs it for both players;
       * L_rec (Eq. 1), weight λ2 (``lambda_rec``).
       Eq. 5 minimises L over the generators *and the autoencoders*: the
       encoders receive the reconstruction, cycle and adversarial gradients.
       Only the critic step works on detached codes (WGAN's critic update
       does not move what it judges).
    3. Unification: every sample is mapped once into the ``target``
       modality's latent space (``target="a"``, the paper's choice: A codes
       stay as they are, B codes go through G_BA; ``target="b"``: A codes go
       through G_AB), then k-means (k-means++, ``kmeans_n_init`` restarts,
       ``kmeans_max_iter``, ``kmeans_tol``: 20, 1000 and 5e-5 as in the
       authors' code) clusters the unified codes.

Two schedules of the adversarial loop (``schedule``)
    ``schedule`` picks the defaults of every setting in which the paper and
    the authors' public PyTorch code (``code/model.py``, ``code/train.py``
    and the command in ``code/README.md``) differ; each of these settings is
    its own parameter, whose default ``None`` means "the schedule's value"
    (:data:`SCHEDULES`; the values in force after ``fit`` are in
    ``settings_``).  An explicit value always wins.

    ``"paper"`` — Algorithm 1, one iteration:
      a. line 3-4: a batch from each modality; one RMSprop step of both
         autoencoders on the whole objective L of Eq. 4 (reconstruction,
         cycle and adversarial terms; the generators and critics fixed).
         Line 4 cites Eq. 2 (the cycle loss) and its comment says
         "auto-encoders": with Eq. 5, which minimises L over the autoencoder
         parameters, the step takes every term of L that depends on them;
      b. lines 5-11: ``n_critic`` critic steps, each on fresh batches (codes
         and generator outputs computed without gradient), each followed by
         clipping;
      c. lines 12-14: fresh batches; one RMSprop step of both generators on
         λ3 (L_adv^A + L_adv^B) + λ1 (L_cyc^A + L_cyc^B).  Algorithm 1 writes
         G_AB's update with L_adv^A, which does not depend on G_AB (an index
         swap): both generators minimise the sum, which is what Eq. 5 says.
      The paper gives no n_critic: 5, WGAN's.  Learning rates default to the
      paper's Wikipedia values (1e-3 autoencoders, 1e-4 generators, 5e-5
      critics), λ2 to its Wikipedia 2, λ3 to 1 (Eq. 4 has no weight).

    ``"authors"`` — the authors' code run with its README command
    (``--lr_g 1e-4 --lr_d 5e-5 --lr_ae 5e-4 --gan_type wasserstein
    --weight_decay 0 --lamda3 0.5 --lamda1 1 --n_epochs 220``), one iteration:
      a. one batch of ``batch_size`` rows from one shuffled pass over *all*
         training samples, split by modality inside the batch
         (``batching="mixed"``);
      b. one RMSprop step of the autoencoders *and* generators together
         (``ae_update="joint"``: one optimiser, two parameter groups) on
         L_rec^A + L_rec^B + λ1 (L_cyc^A + L_cyc^B) + (cycled reconstruction
         A + B) - λ3 (E[D_A(G_BA(z_b))] + E[D_B(G_AB(z_a))]): the reconstruction
         weight is 1 (``lambda_rec=1``), the inputs reconstructed from the
         cycled codes, MSE(x_a, Dec_A(G_BA(G_AB(z_a)))) + MSE(x_b,
         Dec_B(G_AB(G_BA(z_b)))), are added with weight 1
         (``lambda_cycle_recon=1``; the paper does not mention them), and the
         adversarial term has no E[D(real)] part (``adversarial_real_term=
         False``; it only moves the encoders), λ3 = 0.5;
      c. after every ``critic_interval``-th (5th) such step of an epoch (the
         counter restarts each epoch), ``n_critic`` (1) critic step on the
         same batch's codes and generator outputs, detached
         (``critic_batch="shared"``).
      The code's two parameter groups carry swapped learning rates: the
      autoencoders train at the rate its command names ``lr_g`` (1e-4), the
      generators at the one it names ``lr_ae`` (5e-4); here ``lr_ae`` and
      ``lr_generator`` name what they apply to, so the schedule sets
      ``lr_ae=1e-4, lr_generator=5e-4, lr_critic=5e-5``.  The code's
      layers put BatchNorm after the activation (``layer_order="act_bn"``)
      and its generators are autoencoders on the latent space
      (``generator_shape="autoencoder"``, below).  The critic's loss is
      multiplied by λ3 in both schedules (the critic maximises λ3 L_adv, the
      only part of L that depends on it; RMSprop is nearly invariant to
      that scale).

Choices the paper leaves open (each is a parameter)
    * Layers (``layer_order``, ``output_activation``): the paper follows each
      fully connected layer of the autoencoders and generators with
      BatchNorm then LeakyReLU(0.2) (``"bn_act"``); the authors' code puts
      BatchNorm after LeakyReLU (``"act_bn"``).  In both the code layer is
      linear and the output layer of the decoders and generators has
      LeakyReLU without BatchNorm (``output_activation=True``, the authors'
      code; the paper's "each layer" also puts LeakyReLU there).  The
      critics are Linear(latent → 32) → LeakyReLU(0.2) → Linear(32 → 1)
      without BatchNorm (``critic_hidden_dims``; latent/4 in the code).  Both
      modalities share one latent size.
    * Generator shape (``generator_shape``): the paper lists layer output
      sizes (its critics, "32 → 1", are Linear(128 → 32), Linear(32 → 1) in
      the authors' code), so ``"layers"`` builds Linear layers through
      ``generator_hidden_dims`` (Wikipedia 128 → 256 → 128: 3 layers;
      NUS-WIDE-10K 128 → 128: 2), with a last layer to the latent size when
      the list does not end at it.  The authors' code builds each generator
      as its autoencoder class on the latent space (``"autoencoder"``):
      latent → hidden... then back to latent, 2 × len(generator_hidden_dims)
      layers (6 for Wikipedia, 4 for NUS-WIDE-10K).
    * Loss reductions: the squared error and the l1 cycle error are averaged
      over samples *and* dimensions (PyTorch's ``MSELoss``/``L1Loss``, as in
      the authors' code); the paper writes norms summed over dimensions,
      which only rescales λ1 and λ2.
    * Batches (``batching``): ``"per_modality"`` reads each modality as its
      own stream of shuffled batches of ``batch_size`` rows (Algorithm 1's
      "a batch of data from D_A and a batch from D_B"); ``"mixed"`` reads
      one stream over all samples.  A stream makes shuffled passes over its
      rows; a pass's last, smaller batch is used when it holds at least two
      rows of each modality it feeds (BatchNorm needs two), else skipped.
      An epoch is ceil(max(n_A, n_B) / batch_size) (per modality) or
      ceil((n_A + n_B) / batch_size) (mixed) iterations of the loop, i.e.
      generator steps; "fresh" critic batches (``critic_batch="fresh"``)
      are further draws from the same streams.
    * Pretraining (the paper says nothing; the authors' code and README):
      Adam with betas (0.5, 0.999) and weight decay 1e-4
      (``pretrain_betas``, ``pretrain_weight_decay``), 150 epochs
      (``pretrain_epochs``), per-modality learning rates ``pretrain_lr_a``
      (1e-4) and ``pretrain_lr_b``.  The authors' 1e-5 for B is their
      Wikipedia *text* rate and leaves B's autoencoder far from converged on
      other data, so ``pretrain_lr_b=None`` (the default) takes A's rate;
      the Wikipedia preset keeps 1e-4 / 1e-5.  Whether each pretraining
      converged is checked by the label-free rule below; where 150 epochs
      do not meet it (the offline data sets), the configuration raises
      ``pretrain_epochs`` at the authors' rate rather than the rate.
    * Loop weight decay (``weight_decay``): 0, the authors' command (the
      paper names none); it applies to every loop optimiser as in the code.
    * Epochs: 220, the authors' command, in both schedules.  Algorithm 1
      loops "while Θ_G_AB and Θ_G_BA not converged" but gives no test of
      convergence; the code runs a fixed number of epochs and evaluates every
      epoch.  Here the last epoch is used, and the convergence record below
      says whether the generators got there by a label-free rule (on small
      data the paper's learning rates do not: see "Measured" below).
    * BatchNorm runs in training mode (batch statistics) throughout training
      and in evaluation mode (running statistics) for every code this
      estimator returns, as in the authors' evaluation.

Convergence record (``convergence_``, label-free)
    After ``fit``, ``convergence_`` holds
    * ``pretrain_loss_{a,b}``: the last pretraining epoch's mean loss;
      with windows of w = ceil(0.1 × epochs) epochs and window means (the
      per-epoch losses of small-batch training fluctuate by several per
      cent), ``pretrain_rel_change_{a,b}``: the relative fall between the
      last two windows, (mean(L[-2w:-w]) - mean(L[-w:])) / mean(L[-2w:-w]),
      and ``pretrain_recent_share_{a,b}``: that fall's share of the whole
      fall since the first epoch, (mean(L[-2w:-w]) - mean(L[-w:])) /
      (L[0] - mean(L[-w:])) (:func:`recent_fall_share`);
    * after the adversarial loop (not for ``stage="no_adversarial"``):
      ``cycle_{a,b}``: the cycle error (mean absolute, Eq. 2) of all training
      codes, evaluation mode, after the loop; ``code_rms_{a,b}``: the RMS of
      those codes; ``code_spread_{a,b}``: their mean absolute deviation from
      the per-dimension median — the cycle error of the best map that
      ignores its input; ``cycle_rel_{a,b}`` = cycle / spread;
      ``cycle_over_rms_{a,b}`` = cycle / RMS; ``cycle_last_epoch``: the last
      epoch's mean training cycle loss (A + B); ``wasserstein_{a,b}``: the
      critics' estimate of the Wasserstein distance between real and mapped
      codes (E[D(real)] - E[D(fake)], i.e. minus the unweighted critic loss,
      mean over the last epoch's critic steps; the scale is the clipped
      critic's, so it is read as a trend: ``wasserstein_first_{a,b}`` is the
      first epoch's); ``epochs``: loop epochs run.
    Values that are not finite are recorded as None.  ``converged`` is True
    when (i) the last tenth of each pretraining made less than 1 % of its
    whole fall (``PRETRAIN_PLATEAU``; a relative threshold on the fall itself
    would be swamped by the loss's epoch-to-epoch noise, and an
    over-parameterised autoencoder keeps creeping down long after its codes
    have settled, while a loss still in its descent makes several per cent
    of its fall in any tenth of the run) and (ii) after the loop, each
    modality's cycle error is at most half of its codes' spread
    (``CYCLE_REL_MAX = 0.5``: the generators must remove at least half of the
    error of a map that ignores its input; relative to the spread, because
    the encoders, which receive the cycle gradient, can shrink the codes and
    with them the raw cycle error).  Otherwise a WARNING is logged.
    ``rule`` states this in one line.

Ablation (the paper's Table 5) through ``stage``
    ``"full"`` clusters the unified codes; ``"no_unification"`` clusters, after
    the adversarial training, each sample's code in its own modality's space;
    ``"no_adversarial"`` clusters the codes straight from the pretrained
    autoencoders (the adversarial loop is then skipped, since it cannot change
    those codes).  ``predict`` and ``transform`` use the codes of the chosen
    stage.  With the same parameters and ``random_state`` the three stages
    share the same pretrained autoencoders (and the two adversarial stages
    the same loop).

Presets
    ``PRESETS["wikipedia"]`` and ``PRESETS["nus-wide-10k"]`` hold the paper's
    settings of section 4 (plain parameter dicts the config can copy), for
    the paper's schedule.  :data:`SCHEDULES` holds the two schedules.

Measured (offline, README "What reproduces")
    Mixed-modal UCI Multiple Features (pix | fou, 64-d PCA each, p = 0.5,
    stratified test third, fitted on the training part; the offline
    configuration's ``dm2c`` / ``dm2c-authors``: pretraining at the authors'
    1e-4 for 600 epochs, see below; seeds 0-4, one thread, a shared and
    loaded 2-core machine): ``schedule="authors"`` ACC 0.420 ± 0.011, NMI
    0.407 ± 0.023 (5 of 5 fits converged); ``schedule="paper"`` ACC 0.407 ±
    0.060, NMI 0.321 ± 0.048 (none converged: cycle error 0.53-0.59 of the
    codes' spread after 220 epochs).  The authors' code on the same protocol:
    ACC 0.400 ± 0.018, NMI 0.385 ± 0.037 (3 seeds, the reference).  Earlier,
    with 150 pretraining epochs at 1e-3: ``schedule="authors"`` 0.394 /
    0.376, ``schedule="paper"`` 0.350 / 0.277; the authors' code itself on the
    same split gave 0.402 / 0.371 at 1e-3 where ours gave 0.392 / 0.368 (seeds
    0-2), i.e. the loop matches the code and the pretraining made the
    difference.  Pretraining length, label-free: at 1e-4 the last tenth of
    pretraining makes 1.8 / 2.4 % (image / text) of the loss's whole fall
    after 150 epochs, 1.4 / 0.6 % after 450 and 0.6 / 0.4 % after 600 (seed
    0, training part), so 600 is the first of these lengths at which the
    rule above holds; every fit of the check meets it (0.2-0.8 %).  In
    neither schedule do most b samples land in their class's clusters
    (scored through the a samples' cluster-to-class matching: 0.090 ± 0.046
    authors, 0.124 ± 0.054 paper; chance 0.1): the authors' schedule scores
    higher because it leaves the modalities partly apart (modality split
    0.35 against 0.02).

No label is ever read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from torch import nn
from tqdm.auto import tqdm

from mmclust.methods.base import MultiViewMixin, check_views
from mmclust.nn.precision import Precision
from mmclust.nn.utils import (
    as_tensor,
    batched,
    make_optimizer,
    resolve_device,
    seed_everything,
)
from mmclust.validation import NonFiniteError

log = logging.getLogger(__name__)

STAGES = ("full", "no_adversarial", "no_unification")

#: The settings in which the paper (Algorithm 1, section 4.1) and the authors'
#: code differ; a parameter left at None takes its schedule's value.
SCHEDULES: dict[str, dict[str, Any]] = {
    "paper": {
        "ae_update": "separate",
        "batching": "per_modality",
        "critic_batch": "fresh",
        "n_critic": 5,
        "critic_interval": 1,
        "lr_ae": 1e-3,
        "lr_generator": 1e-4,
        "lr_critic": 5e-5,
        "lambda_rec": 2.0,
        "lambda_adv": 1.0,
        "lambda_cycle_recon": 0.0,
        "adversarial_real_term": True,
        "generator_shape": "layers",
        "layer_order": "bn_act",
    },
    "authors": {
        "ae_update": "joint",
        "batching": "mixed",
        "critic_batch": "shared",
        "n_critic": 1,
        "critic_interval": 5,
        "lr_ae": 1e-4,
        "lr_generator": 5e-4,
        "lr_critic": 5e-5,
        "lambda_rec": 1.0,
        "lambda_adv": 0.5,
        "lambda_cycle_recon": 1.0,
        "adversarial_real_term": False,
        "generator_shape": "autoencoder",
        "layer_order": "act_bn",
    },
}
_CHOICES = {
    "ae_update": ("separate", "joint"),
    "batching": ("per_modality", "mixed"),
    "critic_batch": ("fresh", "shared"),
    "generator_shape": ("layers", "autoencoder"),
    "layer_order": ("bn_act", "act_bn"),
}

#: The paper's settings (section 4.1 and 4.2) for its schedule, plus the
#: authors' code where the paper is silent (epochs, pretraining).  NUS-WIDE-10K's
#: text autoencoder is 1000-512-128 in the authors' code (the paper gives one
#: structure for both).
PRESETS: dict[str, dict[str, Any]] = {
    "wikipedia": {
        "schedule": "paper",
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
        "schedule": "paper",
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
    },
}

#: Convergence rule (module doc): the last 10 % of each pretraining must make
#: less than this share of its whole fall ...
PRETRAIN_PLATEAU = 0.01
#: ... and the cycle error must be at most this fraction of the codes' spread.
CYCLE_REL_MAX = 0.5
CONVERGENCE_RULE = (
    "the last 10% of epochs of each pretraining made < 1% of its whole loss fall, and after "
    "the adversarial loop each modality's cycle error (eval mode, training codes) is <= 0.5 x "
    "the codes' mean absolute deviation from their median (the error of a map ignoring its input)"
)


# -- building blocks ---------------------------------------------------------------------


def mlp(
    dims: Sequence[int],
    negative_slope: float = 0.2,
    batch_norm: bool = True,
    layer_order: str = "bn_act",
    output_activation: bool = False,
) -> nn.Sequential:
    """Fully connected layers ``dims[0] -> ... -> dims[-1]``.

    Every layer but the last is followed by BatchNorm (when ``batch_norm``)
    and LeakyReLU(``negative_slope``), in the order ``layer_order``
    (``"bn_act"``: BatchNorm then LeakyReLU; ``"act_bn"``: the reverse).  The
    last layer is linear, or followed by LeakyReLU alone when
    ``output_activation``.
    """
    if layer_order not in _CHOICES["layer_order"]:
        raise ValueError(f"unknown layer_order {layer_order!r}; use 'bn_act' or 'act_bn'")
    layers: list[nn.Module] = []
    n = len(dims) - 1
    for i in range(n):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < n - 1:
            block: list[nn.Module] = [nn.LeakyReLU(negative_slope)]
            if batch_norm:
                bn = nn.BatchNorm1d(dims[i + 1])
                block = [bn, *block] if layer_order == "bn_act" else [*block, bn]
            layers.extend(block)
        elif output_activation:
            layers.append(nn.LeakyReLU(negative_slope))
    return nn.Sequential(*layers)


class ModalityAutoencoder(nn.Module):
    """Encoder ``input -> hidden_dims`` (the last is the code, linear) and its mirror."""

    def __init__(
        self,
        input_dim: int,
        hidden_dims: Sequence[int],
        negative_slope: float,
        layer_order: str = "bn_act",
        output_activation: bool = True,
    ) -> None:
        super().__init__()
        dims = [input_dim, *hidden_dims]
        self.encoder = mlp(dims, negative_slope, layer_order=layer_order)
        self.decoder = mlp(
            dims[::-1], negative_slope, layer_order=layer_order, output_activation=output_activation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def make_generator(
    latent: int,
    hidden_dims: Sequence[int],
    shape: str,
    negative_slope: float,
    layer_order: str,
    output_activation: bool,
) -> nn.Sequential:
    """A latent-to-latent mapping (G_AB or G_BA) of the given ``shape`` (module doc).

    ``"layers"``: Linear layers through ``hidden_dims`` (plus one to
    ``latent`` when the list does not end at it); ``"autoencoder"``: an
    encoder ``latent -> hidden_dims`` (linear last layer) followed by its
    mirror back to ``latent``.
    """
    kw = {"negative_slope": negative_slope, "layer_order": layer_order}
    if shape == "layers":
        dims = [latent, *hidden_dims]
        if dims[-1] != latent:
            dims.append(latent)
        return mlp(dims, output_activation=output_activation, **kw)
    if shape == "autoencoder":
        dims = [latent, *hidden_dims]
        return nn.Sequential(
            mlp(dims, **kw), mlp(dims[::-1], output_activation=output_activation, **kw)
        )
    raise ValueError(f"unknown generator_shape {shape!r}; use 'layers' or 'autoencoder'")


def n_linear(module: nn.Module) -> int:
    """Number of ``nn.Linear`` layers in ``module``."""
    return sum(isinstance(m, nn.Linear) for m in module.modules())


def cycle_loss(z: torch.Tensor, z_cycled: torch.Tensor) -> torch.Tensor:
    """l1 cycle-consistency error (Eq. 2), averaged over samples and dimensions."""
    return (z - z_cycled).abs().mean()


def critic_loss(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """What a WGAN critic minimises: E[D(fake)] - E[D(real)].

    Minimising it maximises L_adv = E[D(real)] - E[D(fake)] (Eq. 3), the
    critic's side of the min-max problem (Eq. 5).
    """
    return critic(fake).mean() - critic(real).mean()


def adversarial_loss(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    real_term: bool = True,
) -> torch.Tensor:
    """L_adv = E[D(real)] - E[D(fake)] (Eq. 3), which the generators (and encoders) minimise.

    ``real_term=False`` drops E[D(real)], as the authors' code does in its
    generator step (it has no gradient for the generators, only for the
    encoders that produce the real codes).
    """
    fake_part = -critic(fake).mean()
    return critic(real).mean() + fake_part if real_term else fake_part


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
    weight: float = 1.0,
    precision: Precision | None = None,
) -> torch.Tensor:
    """One optimiser step of the critics on ``weight`` x the sum of their losses, then clipping.

    The critics' forward and backward passes use ``precision`` (fp32 when None).
    Returns the (detached, unweighted) critic loss of each critic, stacked.
    """
    prec = precision or Precision()
    losses = torch.stack(
        [critic_loss(prec.wrap(d), r, f) for d, r, f in zip(critics, reals, fakes, strict=True)]
    )
    optimizer.zero_grad(set_to_none=True)
    prec.backward(weight * losses.sum())
    optimizer.step()
    clip_weights_(critics, clip)
    return losses.detach()


def _rmsprop(params: Any, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """RMSprop with PyTorch's defaults (alpha 0.99, eps 1e-8), multi-tensor kernels."""
    return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=True)


def _windows(history: Sequence[float], fraction: float) -> tuple[float, float]:
    """Means of the last two windows of w = ceil(fraction x len) values (w <= len // 2)."""
    w = max(1, min(math.ceil(fraction * len(history)), len(history) // 2))
    return float(np.mean(history[-2 * w : -w])), float(np.mean(history[-w:]))


def relative_decrease(history: Sequence[float], fraction: float = 0.1) -> float:
    """Relative fall of the mean between the last two windows of w = ceil(fraction x len) values.

    (mean(L[-2w:-w]) - mean(L[-w:])) / |mean(L[-2w:-w])|, w at most len // 2 (window
    means, because per-epoch losses of small-batch training fluctuate by several
    per cent); NaN for fewer than two values.
    """
    if len(history) < 2:
        return math.nan
    before, last = _windows(history, fraction)
    return (before - last) / abs(before) if before != 0 else 0.0


def recent_fall_share(history: Sequence[float], fraction: float = 0.1) -> float:
    """Share of a loss's whole fall made in the last ``fraction`` of the run.

    (mean(L[-2w:-w]) - mean(L[-w:])) / (L[0] - mean(L[-w:])), the windows of
    :func:`relative_decrease`: close to 0 once the loss has levelled off, a few
    per cent or more while it is still in its descent.  NaN for fewer than two
    values or when the loss never fell below its first value.
    """
    if len(history) < 2:
        return math.nan
    before, last = _windows(history, fraction)
    total = history[0] - last
    return (before - last) / total if total > 0 else math.nan


class _BatchStream:
    """Endless shuffled batches of indices out of ``n`` (see the module doc).

    Each pass is a new permutation cut into batches of ``batch_size`` (the
    last one smaller); a batch is served when ``usable(batch)`` holds (by
    default: at least two rows, for BatchNorm), else skipped.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        generator: torch.Generator,
        usable: Callable[[torch.Tensor], bool] | None = None,
    ) -> None:
        self.n = n
        self.batch_size = min(batch_size, n)
        self.generator = generator
        self.usable = usable or (lambda idx: idx.numel() >= 2)
        self._order = torch.randperm(n, generator=generator)
        self._pos = 0

    def next(self) -> torch.Tensor:
        while True:
            if self._pos >= self.n:
                self._order = torch.randperm(self.n, generator=self.generator)
                self._pos = 0
            idx = self._order[self._pos : self._pos + self.batch_size]
            self._pos += self.batch_size
            if self.usable(idx):
                return idx


# -- the estimator -----------------------------------------------------------------------


class DM2C(MultiViewMixin, ClusterMixin, BaseEstimator):
    """Deep mixed-modal clustering with cycle-consistent adversarial mappings.

    ``fit(views, masks=masks)`` takes ``views = [X_A, X_B]`` (image features,
    text features) and their masks; every sample must have exactly one view.
    A parameter whose default is None takes the value of ``schedule``
    (:data:`SCHEDULES`, module doc).

    Parameters
    ----------
    n_clusters : int, default 10
    schedule : {"paper", "authors"}, default "paper"
        Algorithm 1 of the paper, or the authors' code run with its README
        command; sets the defaults of every parameter marked "schedule".
    hidden_dims_a, hidden_dims_b : sequence of int, default (1024, 256, 128)
        Encoder layer sizes after the input of each modality's autoencoder;
        the last is the latent size (the same for both).
    generator_hidden_dims : sequence of int, default (128, 256, 128)
        Layer sizes of G_AB and G_BA (read according to ``generator_shape``).
    generator_shape : {"layers", "autoencoder"} or None (schedule)
        paper "layers": Linear layers through ``generator_hidden_dims``
        (ending at the latent size); authors "autoencoder": latent ->
        hidden... -> back to latent (twice the layers).
    critic_hidden_dims : sequence of int, default (32,)
        Hidden layers of D_A and D_B (latent -> hidden... -> 1).
    negative_slope : float, default 0.2
        LeakyReLU slope everywhere.
    layer_order : {"bn_act", "act_bn"} or None (schedule)
        BatchNorm before (paper) or after (authors) each hidden LeakyReLU.
    output_activation : bool, default True
        LeakyReLU on the decoders' and generators' outputs (both sources).
    ae_update : {"separate", "joint"} or None (schedule)
        paper "separate": the autoencoders take their own RMSprop step on the
        whole objective, then the critics, then the generators theirs;
        authors "joint": one step of autoencoders and generators together,
        the critics after it.
    batching : {"per_modality", "mixed"} or None (schedule)
        A batch of each modality's own stream (paper), or one batch from a
        stream over all samples split by modality (authors).
    critic_batch : {"fresh", "shared"} or None (schedule)
        Critic steps before the generator step on fresh batches (paper), or
        after it on the same batch's detached codes (authors).
    n_critic : int or None (schedule: 5 paper, 1 authors)
        Critic steps per round.
    critic_interval : int or None (schedule: 1 paper, 5 authors)
        A round of critic steps with every this many generator steps of an
        epoch.
    lr_ae, lr_generator, lr_critic : float or None (schedule)
        RMSprop learning rates of the autoencoders, generators and critics in
        the loop (paper: 1e-3, 1e-4, 5e-5; authors: 1e-4, 5e-4, 5e-5).
    weight_decay : float, default 0.0
        Weight decay of every loop optimiser.
    lambda_cycle : float, default 1.0
        λ1, weight of the cycle-consistency loss.
    lambda_rec : float or None (schedule: 2 paper (Wikipedia), 1 authors)
        λ2, weight of the reconstruction loss in the loop.
    lambda_adv : float or None (schedule: 1 paper, 0.5 authors)
        λ3, weight of the adversarial loss (both players).
    lambda_cycle_recon : float or None (schedule: 0 paper, 1 authors)
        Weight of the inputs reconstructed from the cycled codes.
    adversarial_real_term : bool or None (schedule: True paper, False authors)
        Whether the minimising players' L_adv keeps its E[D(real)] term
        (which moves the encoders only).
    clip : float, default 0.05
        Critic weights are clipped to [-clip, clip] after every critic step.
    epochs : int, default 220
        Epochs of the adversarial loop (see the module doc for an epoch).
    batch_size : int, default 128
    pretrain_epochs : int, default 150
    pretrain_lr_a : float, default 1e-4
    pretrain_lr_b : float or None, default None
        None: ``pretrain_lr_a`` (the Wikipedia preset sets the authors' 1e-5).
    pretrain_optimizer : {"adam", "rmsprop"}, default "adam"
    pretrain_betas : sequence of 2 floats, default (0.5, 0.999)
        Adam's betas in pretraining (the authors' code).
    pretrain_weight_decay : float, default 1e-4
        Weight decay in pretraining (the authors' code).
    target : {"a", "b"}, default "a"
        The modality whose latent space receives every sample.
    stage : {"full", "no_adversarial", "no_unification"}, default "full"
        Which codes k-means clusters (the rows of the paper's Table 5).
    kmeans_n_init : int, default 20
    kmeans_max_iter : int, default 1000
    kmeans_tol : float, default 5e-5
    random_state : int, default 0
    device : str, default "auto"
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        Numeric precision of the networks' forward and backward passes
        (:mod:`mmclust.nn.precision`; codes come back as float32 before the
        reconstruction, cycle and Wasserstein terms); set by the workflow's
        top-level ``precision`` key.
    verbose : bool, default True
        Progress bars.

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, latent) the codes k-means was fitted on (the
        unified codes for ``stage="full"``)
    settings_ : dict, the schedule-dependent settings in force (explicit
        values, else the schedule's) and ``pretrain_lr_b``
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
    history_ : list of dict, one per adversarial epoch, means over its
        generator steps of the objective ("generator"), the adversarial,
        cycle (and per modality), reconstruction (and cycle_reconstruction
        when weighted) terms, and over its critic steps of the (unweighted)
        critic loss and the critics' Wasserstein estimates per modality
    pretrain_history_ : dict {"a": [...], "b": [...]}, mean loss per pretraining epoch
    convergence_ : dict, the label-free convergence record (module doc)
    n_iter_ : int, iterations (generator steps) of the adversarial loop
    """

    def __init__(
        self,
        n_clusters: int = 10,
        schedule: str = "paper",
        hidden_dims_a: Sequence[int] = (1024, 256, 128),
        hidden_dims_b: Sequence[int] = (1024, 256, 128),
        generator_hidden_dims: Sequence[int] = (128, 256, 128),
        generator_shape: str | None = None,
        critic_hidden_dims: Sequence[int] = (32,),
        negative_slope: float = 0.2,
        layer_order: str | None = None,
        output_activation: bool = True,
        ae_update: str | None = None,
        batching: str | None = None,
        critic_batch: str | None = None,
        n_critic: int | None = None,
        critic_interval: int | None = None,
        lr_ae: float | None = None,
        lr_generator: float | None = None,
        lr_critic: float | None = None,
        weight_decay: float = 0.0,
        lambda_cycle: float = 1.0,
        lambda_rec: float | None = None,
        lambda_adv: float | None = None,
        lambda_cycle_recon: float | None = None,
        adversarial_real_term: bool | None = None,
        clip: float = 0.05,
        epochs: int = 220,
        batch_size: int = 128,
        pretrain_epochs: int = 150,
        pretrain_lr_a: float = 1e-4,
        pretrain_lr_b: float | None = None,
        pretrain_optimizer: str = "adam",
        pretrain_betas: Sequence[float] = (0.5, 0.999),
        pretrain_weight_decay: float = 1e-4,
        target: str = "a",
        stage: str = "full",
        kmeans_n_init: int = 20,
        kmeans_max_iter: int = 1000,
        kmeans_tol: float = 5e-5,
        random_state: int = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: bool = True,
    ) -> None:
        self.n_clusters = n_clusters
        self.schedule = schedule
        self.hidden_dims_a = hidden_dims_a
        self.hidden_dims_b = hidden_dims_b
        self.generator_hidden_dims = generator_hidden_dims
        self.generator_shape = generator_shape
        self.critic_hidden_dims = critic_hidden_dims
        self.negative_slope = negative_slope
        self.layer_order = layer_order
        self.output_activation = output_activation
        self.ae_update = ae_update
        self.batching = batching
        self.critic_batch = critic_batch
        self.n_critic = n_critic
        self.critic_interval = critic_interval
        self.lr_ae = lr_ae
        self.lr_generator = lr_generator
        self.lr_critic = lr_critic
        self.weight_decay = weight_decay
        self.lambda_cycle = lambda_cycle
        self.lambda_rec = lambda_rec
        self.lambda_adv = lambda_adv
        self.lambda_cycle_recon = lambda_cycle_recon
        self.adversarial_real_term = adversarial_real_term
        self.clip = clip
        self.epochs = epochs
        self.batch_size = batch_size
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr_a = pretrain_lr_a
        self.pretrain_lr_b = pretrain_lr_b
        self.pretrain_optimizer = pretrain_optimizer
        self.pretrain_betas = pretrain_betas
        self.pretrain_weight_decay = pretrain_weight_decay
        self.target = target
        self.stage = stage
        self.kmeans_n_init = kmeans_n_init
        self.kmeans_max_iter = kmeans_max_iter
        self.kmeans_tol = kmeans_tol
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose

    # -- settings and validation ---------------------------------------------------------
    def resolved_settings(self) -> dict[str, Any]:
        """The schedule-dependent settings in force: explicit values, else ``schedule``'s."""
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; use one of {list(SCHEDULES)}")
        out = {}
        for key, default in SCHEDULES[self.schedule].items():
            value = getattr(self, key)
            out[key] = default if value is None else value
        out["pretrain_lr_b"] = (
            self.pretrain_lr_a if self.pretrain_lr_b is None else self.pretrain_lr_b
        )
        return out

    def _check_params(self) -> dict[str, Any]:
        s = self.resolved_settings()
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; use one of {list(STAGES)}")
        if self.target not in ("a", "b"):
            raise ValueError(f"target must be 'a' or 'b', got {self.target!r}")
        for key, choices in _CHOICES.items():
            if s[key] not in choices:
                raise ValueError(f"unknown {key} {s[key]!r}; use one of {list(choices)}")
        if not self.hidden_dims_a or not self.hidden_dims_b:
            raise ValueError("hidden_dims_a and hidden_dims_b need at least the latent size")
        if self.hidden_dims_a[-1] != self.hidden_dims_b[-1]:
            raise ValueError(
                "both modalities need the same latent size (the last of hidden_dims_a and "
                f"hidden_dims_b), got {self.hidden_dims_a[-1]} and {self.hidden_dims_b[-1]}"
            )
        for name, value in (
            ("n_critic", s["n_critic"]),
            ("critic_interval", s["critic_interval"]),
            ("n_clusters", self.n_clusters),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (BatchNorm), got {self.batch_size}")
        if self.pretrain_optimizer not in ("adam", "rmsprop"):
            raise ValueError(
                f"unknown pretrain_optimizer {self.pretrain_optimizer!r}; use 'adam' or 'rmsprop'"
            )
        if len(self.pretrain_betas) != 2:
            raise ValueError(f"pretrain_betas needs two values, got {self.pretrain_betas!r}")
        return s

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
        except NonFiniteError:
            raise  # already names the view, row and column
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
        s = self.settings_ = self._check_params()
        views, masks = self._check_mixed(views, masks)
        for name, m in zip("AB", masks, strict=True):
            if m.sum() < 2:
                raise ValueError(f"DM2C needs at least 2 samples of modality {name}, got {m.sum()}")
        device = resolve_device(self.device)
        self._prec = Precision(self.precision, device)
        self._prec.log("DM2C")
        gen = seed_everything(self.random_state)
        Xa = as_tensor(views[0][masks[0]], device)
        Xb = as_tensor(views[1][masks[1]], device)
        latent = self.hidden_dims_a[-1]
        slope, order, out_act = self.negative_slope, s["layer_order"], self.output_activation
        self.autoencoder_a_ = ModalityAutoencoder(
            Xa.shape[1], self.hidden_dims_a, slope, order, out_act
        ).to(device)
        self.autoencoder_b_ = ModalityAutoencoder(
            Xb.shape[1], self.hidden_dims_b, slope, order, out_act
        ).to(device)
        g_args = (latent, self.generator_hidden_dims, s["generator_shape"], slope, order, out_act)
        self.generator_ab_ = make_generator(*g_args).to(device)
        self.generator_ba_ = make_generator(*g_args).to(device)
        d_dims = [latent, *self.critic_hidden_dims, 1]
        self.critic_a_ = mlp(d_dims, slope, batch_norm=False).to(device)
        self.critic_b_ = mlp(d_dims, slope, batch_norm=False).to(device)

        self.pretrain_history_ = {
            "a": self._pretrain(self.autoencoder_a_, Xa, self.pretrain_lr_a, gen, "A"),
            "b": self._pretrain(self.autoencoder_b_, Xb, s["pretrain_lr_b"], gen, "B"),
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
        self.convergence_ = self._convergence(Xa, Xb)
        if not self.convergence_["converged"]:
            log.warning(
                "DM2C did not converge (%s): %s",
                CONVERGENCE_RULE,
                {k: v for k, v in self.convergence_.items() if k not in ("rule", "converged")},
            )
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
            opt = make_optimizer(
                "adam",
                ae.parameters(),
                lr,
                betas=tuple(self.pretrain_betas),
                weight_decay=self.pretrain_weight_decay,
            )
        else:
            opt = _rmsprop(list(ae.parameters()), lr, self.pretrain_weight_decay)
        stream = _BatchStream(X.shape[0], self.batch_size, gen)
        steps = math.ceil(X.shape[0] / self.batch_size)
        prec = self._prec
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
                x = X[stream.next().to(X.device)]
                loss = nn.functional.mse_loss(prec.run(ae, x), x)
                opt.zero_grad(set_to_none=True)
                prec.backward(loss)
                opt.step()
                total += loss.detach()
            history.append(float(total) / steps)
            bar.set_postfix(loss=f"{history[-1]:.4f}")
        log.info(
            "DM2C: autoencoder %s pretrained (lr %g), final loss %.4g, last-10%% fall %.3g",
            name,
            lr,
            history[-1] if history else float("nan"),
            relative_decrease(history),
        )
        return history

    def objective_terms(
        self, xa: torch.Tensor, xb: torch.Tensor, real_term: bool = True
    ) -> dict[str, torch.Tensor]:
        """The terms of the objective (Eq. 4) on a batch of each modality, with their graph.

        ``za``/``zb`` (codes), ``fake_a`` = G_BA(z_b), ``fake_b`` = G_AB(z_a),
        ``rec`` (L_rec^A + L_rec^B), ``cycle_a``/``cycle_b`` (L_cyc), ``adv``
        (L_adv^A + L_adv^B, see :func:`adversarial_loss` for ``real_term``)
        and ``cycle_recon`` (the authors' cycled reconstruction; 0 when its weight
        in ``settings_`` is 0).  The networks compute with the fit's precision; every
        term is computed in float32 from their (float32) outputs.
        """
        wrap = self._prec.wrap
        enc_a, dec_a = wrap(self.autoencoder_a_.encoder), wrap(self.autoencoder_a_.decoder)
        enc_b, dec_b = wrap(self.autoencoder_b_.encoder), wrap(self.autoencoder_b_.decoder)
        g_ab, g_ba = wrap(self.generator_ab_), wrap(self.generator_ba_)
        mse = nn.functional.mse_loss
        za, zb = enc_a(xa), enc_b(xb)
        rec = mse(dec_a(za), xa) + mse(dec_b(zb), xb)
        # this call order (A's cycle first) is the authors' code's; it matters for the
        # generators' BatchNorm running statistics only
        fake_b = g_ab(za)
        cyc_a = g_ba(fake_b)
        fake_a = g_ba(zb)
        cyc_b = g_ab(fake_a)
        adv = adversarial_loss(wrap(self.critic_a_), za, fake_a, real_term) + adversarial_loss(
            wrap(self.critic_b_), zb, fake_b, real_term
        )
        if self.settings_["lambda_cycle_recon"] != 0:
            cycle_recon = mse(dec_a(cyc_a), xa) + mse(dec_b(cyc_b), xb)
        else:  # not part of the objective: not computed
            cycle_recon = torch.zeros((), device=xa.device)
        return {
            "za": za,
            "zb": zb,
            "fake_a": fake_a,
            "fake_b": fake_b,
            "rec": rec,
            "cycle_a": cycle_loss(za, cyc_a),
            "cycle_b": cycle_loss(zb, cyc_b),
            "adv": adv,
            "cycle_recon": cycle_recon,
        }

    def objective(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """L of Eq. 4 with the schedule's weights (``settings_``):

        λ3 adv + λ1 (cycle_a + cycle_b) + λ2 rec + ``lambda_cycle_recon`` cycle_recon.
        """
        s = self.settings_
        loss = (
            s["lambda_adv"] * terms["adv"]
            + self.lambda_cycle * (terms["cycle_a"] + terms["cycle_b"])
            + s["lambda_rec"] * terms["rec"]
        )
        if s["lambda_cycle_recon"] != 0:
            loss = loss + s["lambda_cycle_recon"] * terms["cycle_recon"]
        return loss

    def _adversarial(self, Xa: torch.Tensor, Xb: torch.Tensor, gen: torch.Generator) -> None:
        s = self.settings_
        ae_a, ae_b = self.autoencoder_a_, self.autoencoder_b_
        g_ab, g_ba = self.generator_ab_, self.generator_ba_
        d_a, d_b = self.critic_a_, self.critic_b_
        prec = self._prec
        modules = (ae_a, ae_b, g_ab, g_ba, d_a, d_b)
        for m in modules:
            m.train()
        ae_params = [*ae_a.parameters(), *ae_b.parameters()]
        g_params = [*g_ab.parameters(), *g_ba.parameters()]
        wd = self.weight_decay
        joint = s["ae_update"] == "joint"
        if joint:
            # one optimiser, one group per kind of module (the authors' code)
            groups = [
                {"params": ae_params, "lr": s["lr_ae"]},
                {"params": g_params, "lr": s["lr_generator"]},
            ]
            opt_g, opt_ae = _rmsprop(groups, s["lr_generator"], wd), None
            step_params = ae_params + g_params
        else:
            opt_ae = _rmsprop(ae_params, s["lr_ae"], wd)
            opt_g = _rmsprop(g_params, s["lr_generator"], wd)
            step_params = g_params
        opt_d = _rmsprop([*d_a.parameters(), *d_b.parameters()], s["lr_critic"], wd)
        device = Xa.device
        na, nb = Xa.shape[0], Xb.shape[0]
        if s["batching"] == "mixed":

            def both_modalities(idx: torch.Tensor) -> bool:
                n_a = int((idx < na).sum())
                return n_a >= 2 and idx.numel() - n_a >= 2

            stream = _BatchStream(na + nb, self.batch_size, gen, usable=both_modalities)
            steps = math.ceil((na + nb) / self.batch_size)

            def draw() -> tuple[torch.Tensor, torch.Tensor]:
                idx = stream.next().to(device)
                return Xa[idx[idx < na]], Xb[idx[idx >= na] - na]

        else:
            stream_a = _BatchStream(na, self.batch_size, gen)
            stream_b = _BatchStream(nb, self.batch_size, gen)
            steps = math.ceil(max(na, nb) / self.batch_size)

            def draw() -> tuple[torch.Tensor, torch.Tensor]:
                return Xa[stream_a.next().to(device)], Xb[stream_b.next().to(device)]

        real_term = bool(s["adversarial_real_term"])
        lam_adv, clip = s["lambda_adv"], self.clip
        n_critic, interval = s["n_critic"], s["critic_interval"]
        fresh = s["critic_batch"] == "fresh"
        critics = (d_a, d_b)

        def critic_round(codes: tuple[torch.Tensor, ...] | None) -> torch.Tensor:
            total = torch.zeros(2, device=device)
            for _ in range(n_critic):
                if codes is None:  # fresh batches, codes without gradient
                    xa, xb = draw()
                    with torch.no_grad():
                        za, zb = prec.run(ae_a.encoder, xa), prec.run(ae_b.encoder, xb)
                        fake_a, fake_b = prec.run(g_ba, zb), prec.run(g_ab, za)
                else:
                    za, zb, fake_a, fake_b = codes
                total += critic_step(
                    critics, opt_d, (za, zb), (fake_a, fake_b), clip, lam_adv, precision=prec
                )
            return total

        it = 0
        bar = tqdm(range(self.epochs), desc="DM2C", disable=not self.verbose, mininterval=1.0)
        for epoch in bar:
            # generator-step sums: objective, adversarial, cycle A, cycle B, rec, cycle-recon
            sums = torch.zeros(6, device=device)
            critic_sums = torch.zeros(2, device=device)
            n_critic_steps = 0
            for step in range(steps):
                if not joint:  # Algorithm 1, lines 3-4: the autoencoders on the whole objective
                    loss = self.objective(self.objective_terms(*draw(), real_term))
                    opt_ae.zero_grad(set_to_none=True)
                    prec.backward(loss, inputs=ae_params)
                    opt_ae.step()
                if fresh and step % interval == 0:  # lines 5-11
                    critic_sums += critic_round(None)
                    n_critic_steps += n_critic
                # lines 12-14 (with the autoencoders when joint)
                terms = self.objective_terms(*draw(), real_term)
                loss = self.objective(terms)
                opt_g.zero_grad(set_to_none=True)
                prec.backward(loss, inputs=step_params)
                opt_g.step()
                if not fresh and (step + 1) % interval == 0:
                    keys = ("za", "zb", "fake_a", "fake_b")
                    critic_sums += critic_round(tuple(terms[k].detach() for k in keys))
                    n_critic_steps += n_critic
                sums += torch.stack(
                    [
                        loss.detach(),
                        terms["adv"].detach(),
                        terms["cycle_a"].detach(),
                        terms["cycle_b"].detach(),
                        terms["rec"].detach(),
                        terms["cycle_recon"].detach(),
                    ]
                )
                it += 1
            means = (sums / steps).tolist()
            crit = (critic_sums / n_critic_steps).tolist() if n_critic_steps else [math.nan] * 2
            entry = {
                "epoch": epoch,
                "generator": means[0],
                "critic": crit[0] + crit[1],
                "wasserstein_a": -crit[0],
                "wasserstein_b": -crit[1],
                "adversarial": means[1],
                "cycle": means[2] + means[3],
                "cycle_a": means[2],
                "cycle_b": means[3],
                "reconstruction": means[4],
            }
            if s["lambda_cycle_recon"] != 0:
                entry["cycle_reconstruction"] = means[5]
            self.history_.append(entry)
            bar.set_postfix(cyc=f"{entry['cycle']:.4f}", adv=f"{entry['adversarial']:.4f}")
        for m in modules:
            m.eval()
        self.n_iter_ = it
        if self.history_:
            log.info("DM2C: adversarial training done, last epoch %s", self.history_[-1])

    # -- convergence ---------------------------------------------------------------------
    @torch.no_grad()
    def _convergence(self, Xa: torch.Tensor, Xb: torch.Tensor) -> dict[str, Any]:
        """The label-free convergence record (module doc)."""
        out: dict[str, Any] = {"converged": True, "rule": CONVERGENCE_RULE}
        ok = True
        for m in "ab":
            hist = self.pretrain_history_[m]
            share = recent_fall_share(hist)
            out[f"pretrain_loss_{m}"] = float(hist[-1]) if hist else math.nan
            out[f"pretrain_rel_change_{m}"] = relative_decrease(hist)
            out[f"pretrain_recent_share_{m}"] = share
            ok &= bool(np.isfinite(share) and share < PRETRAIN_PLATEAU)
        out["epochs"] = len(self.history_)
        if self.stage != "no_adversarial":
            for m in (self.autoencoder_a_, self.autoencoder_b_, self.generator_ab_,
                      self.generator_ba_):  # fmt: skip
                m.eval()
            wrap = self._prec.wrap
            g_ab, g_ba = wrap(self.generator_ab_), wrap(self.generator_ba_)
            za = batched(wrap(self.autoencoder_a_.encoder), Xa)
            zb = batched(wrap(self.autoencoder_b_.encoder), Xb)
            za_c = batched(g_ba, batched(g_ab, za))
            zb_c = batched(g_ab, batched(g_ba, zb))
            for m, z, zc in (("a", za, za_c), ("b", zb, zb_c)):
                cyc = float((z - zc).abs().mean())
                rms = float(z.pow(2).mean().sqrt())
                spread = float((z - z.median(0).values).abs().mean())
                out[f"cycle_{m}"] = cyc
                out[f"code_rms_{m}"] = rms
                out[f"code_spread_{m}"] = spread
                out[f"cycle_rel_{m}"] = cyc / spread if spread > 0 else math.inf
                out[f"cycle_over_rms_{m}"] = cyc / rms if rms > 0 else math.inf
                ok &= out[f"cycle_rel_{m}"] <= CYCLE_REL_MAX
            if self.history_:
                last, first = self.history_[-1], self.history_[0]
                out["cycle_last_epoch"] = last["cycle"]
                for m in "ab":
                    out[f"wasserstein_{m}"] = last[f"wasserstein_{m}"]
                    out[f"wasserstein_first_{m}"] = first[f"wasserstein_{m}"]
        out["converged"] = bool(ok)
        # strict JSON: a value that is not finite is recorded as None
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()
        }

    # -- codes ---------------------------------------------------------------------------
    def _codes(
        self, Xa: torch.Tensor, Xb: torch.Tensor, masks: Sequence[np.ndarray], unify: bool
    ) -> np.ndarray:
        """Codes of all samples in their original order (``Xa``/``Xb``: present rows only).

        ``unify``: map the non-target modality once through its generator.
        """
        for m in (self.autoencoder_a_, self.autoencoder_b_, self.generator_ab_, self.generator_ba_):
            m.eval()
        wrap = self._prec.wrap
        za = batched(wrap(self.autoencoder_a_.encoder), Xa) if Xa.shape[0] else None
        zb = batched(wrap(self.autoencoder_b_.encoder), Xb) if Xb.shape[0] else None
        if unify and self.target == "a" and zb is not None:
            zb = batched(wrap(self.generator_ba_), zb)
        elif unify and self.target == "b" and za is not None:
            za = batched(wrap(self.generator_ab_), za)
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
