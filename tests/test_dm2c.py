"""DM2C: losses, critic clipping and sign, unification, validation, stages, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

import mmclust.methods.dm2c as dm2c
from mmclust.methods.dm2c import (
    DM2C,
    PRESETS,
    adversarial_loss,
    critic_loss,
    critic_step,
    cycle_loss,
)

torch.set_num_threads(1)

TINY = dict(
    n_clusters=3,
    hidden_dims_a=[16, 4],
    hidden_dims_b=[16, 4],
    generator_hidden_dims=[8],
    critic_hidden_dims=[8],
    epochs=3,
    pretrain_epochs=5,
    pretrain_lr_a=1e-3,
    pretrain_lr_b=1e-3,
    batch_size=32,
    kmeans_n_init=3,
    device="cpu",
    verbose=False,
)


def make_mixed(n: int = 150, seed: int = 0):
    """Three classes, image-like view A (12-d) and text-like view B (9-d), one view per sample."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    ca, cb = rng.normal(size=(3, 12)) * 3, rng.normal(size=(3, 9)) * 3
    A = (ca[y] + rng.normal(size=(n, 12))).astype(np.float32)
    B = (cb[y] + rng.normal(size=(n, 9))).astype(np.float32)
    has_a = rng.random(n) < 0.5
    A[~has_a] = 0
    B[has_a] = 0
    return [A, B], [has_a, ~has_a], y


@pytest.fixture(scope="module")
def data():
    return make_mixed()


@pytest.fixture(scope="module")
def fitted(data):
    views, masks, _ = data
    return DM2C(**TINY, random_state=3).fit(views, masks=masks)


# -- losses ------------------------------------------------------------------------------


def test_cycle_loss_is_zero_for_inverse_linear_maps():
    torch.manual_seed(0)
    d = 5
    g_ab = nn.Linear(d, d)
    g_ba = nn.Linear(d, d)
    with torch.no_grad():
        w = torch.randn(d, d) + 3 * torch.eye(d)
        g_ab.weight.copy_(w)
        g_ab.bias.copy_(torch.randn(d))
        g_ba.weight.copy_(torch.linalg.inv(w))
        g_ba.bias.copy_(-torch.linalg.inv(w) @ g_ab.bias)
    za, zb = torch.randn(20, d), torch.randn(30, d)
    with torch.no_grad():
        assert cycle_loss(za, g_ba(g_ab(za))).item() == pytest.approx(0.0, abs=1e-5)
        assert cycle_loss(zb, g_ab(g_ba(zb))).item() == pytest.approx(0.0, abs=1e-5)
        # and it is the mean absolute error otherwise
        assert cycle_loss(za, za + 2.0).item() == pytest.approx(2.0)


def test_critic_loss_has_the_wgan_sign():
    class SumCritic(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z.sum(1, keepdim=True)

    real, fake = torch.ones(4, 3), torch.zeros(6, 3)
    d = SumCritic()
    # the critic minimises D(fake) - D(real): here 0 - 3
    assert critic_loss(d, real, fake).item() == pytest.approx(-3.0)
    assert adversarial_loss(d, real, fake).item() == pytest.approx(3.0)

    # one descent step on the critic loss widens D(real) - D(fake)
    torch.manual_seed(0)
    lin = nn.Linear(3, 1)
    real, fake = torch.randn(8, 3) + 1.0, torch.randn(8, 3) - 1.0
    gap_before = (lin(real).mean() - lin(fake).mean()).item()
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    critic_step([lin], opt, [real], [fake], clip=10.0)
    gap_after = (lin(real).mean() - lin(fake).mean()).item()
    assert gap_after > gap_before


def test_critic_step_clips_the_weights():
    torch.manual_seed(0)
    critics = [nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)) for _ in "ab"]
    opt = torch.optim.RMSprop([p for c in critics for p in c.parameters()], lr=1.0)
    for _ in range(3):
        critic_step(critics, opt, [torch.randn(16, 4)] * 2, [torch.randn(16, 4) + 1] * 2, 0.05)
        for c in critics:
            for p in c.parameters():
                assert p.abs().max().item() <= 0.05 + 1e-7


@pytest.mark.parametrize(("n_critic", "interval"), [(2, 1), (1, 3)])
def test_weight_clipping_holds_after_every_critic_step_in_fit(
    data, monkeypatch, n_critic, interval
):
    views, masks, _ = data
    calls = []
    original = dm2c.critic_step

    def checked(critics, *args, **kwargs):
        out = original(critics, *args, **kwargs)
        clip = args[-1]
        worst = max(p.abs().max().item() for c in critics for p in c.parameters())
        calls.append(worst <= clip + 1e-7)
        return out

    monkeypatch.setattr(dm2c, "critic_step", checked)
    params = {**TINY, "epochs": 2, "pretrain_epochs": 1}
    model = DM2C(**params, n_critic=n_critic, critic_interval=interval).fit(views, masks=masks)
    n_max = max(int(m.sum()) for m in masks)
    iterations = 2 * math.ceil(n_max / TINY["batch_size"])
    assert model.n_iter_ == iterations
    assert len(calls) == n_critic * math.ceil(iterations / interval)
    assert all(calls)


# -- unification -------------------------------------------------------------------------


class Counting(nn.Module):
    """Wraps a module and records every row it is given."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.seen.append(z.detach().clone())
        return self.inner(z)


def test_unification_maps_every_b_sample_through_g_ba_exactly_once(fitted, data, monkeypatch):
    views, masks, _ = data
    has_a, has_b = masks
    g_ba, g_ab = Counting(fitted.generator_ba_), Counting(fitted.generator_ab_)
    monkeypatch.setattr(fitted, "generator_ba_", g_ba)
    monkeypatch.setattr(fitted, "generator_ab_", g_ab)
    codes = fitted.transform(views, masks)

    assert not g_ab.seen
    seen = torch.cat(g_ba.seen)
    assert seen.shape[0] == has_b.sum()
    with torch.no_grad():
        zb = fitted.autoencoder_b_.encoder(torch.from_numpy(views[1][has_b]))
        za = fitted.autoencoder_a_.encoder(torch.from_numpy(views[0][has_a]))
        mapped = fitted.generator_ba_.inner(zb)
    torch.testing.assert_close(seen, zb)  # each B code once, in order
    np.testing.assert_allclose(codes[has_b], mapped.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(codes[has_a], za.numpy(), rtol=1e-5, atol=1e-6)  # A unchanged
    np.testing.assert_allclose(codes, fitted.embedding_, rtol=1e-5, atol=1e-6)


def test_target_b_maps_the_a_samples_instead(fitted, data, monkeypatch):
    views, masks, _ = data
    g_ba, g_ab = Counting(fitted.generator_ba_), Counting(fitted.generator_ab_)
    monkeypatch.setattr(fitted, "generator_ba_", g_ba)
    monkeypatch.setattr(fitted, "generator_ab_", g_ab)
    monkeypatch.setattr(fitted, "target", "b")
    codes = fitted.transform(views, masks)
    assert not g_ba.seen
    assert torch.cat(g_ab.seen).shape[0] == masks[0].sum()
    np.testing.assert_allclose(
        codes[masks[1]], fitted.codes_no_unification_[masks[1]], rtol=1e-5, atol=1e-6
    )


# -- validation --------------------------------------------------------------------------


def test_mixed_modal_validation(data):
    views, masks, _ = data
    model = DM2C(**TINY)
    with pytest.raises(ValueError, match="both views"):
        model.fit(views, masks=[np.ones(150, bool), masks[1]])
    neither = masks[0].copy()
    neither[0] = neither[1] = False
    with pytest.raises(ValueError, match="no view"):
        model.fit(views, masks=[neither, masks[1] & ~np.isin(np.arange(150), [0, 1])])
    with pytest.raises(ValueError, match="needs masks"):
        model.fit(views)
    with pytest.raises(ValueError, match="exactly 2 views"):
        model.fit([*views, views[0]], masks=[*masks, masks[0]])
    with pytest.raises(ValueError, match="stage"):
        DM2C(**{**TINY, "stage": "nope"}).fit(views, masks=masks)
    with pytest.raises(ValueError, match="latent size"):
        DM2C(**{**TINY, "hidden_dims_b": [16, 5]}).fit(views, masks=masks)


def test_predict_refuses_rows_with_both_views(fitted, data):
    views, masks, _ = data
    with pytest.raises(ValueError, match="both views"):
        fitted.predict(views, masks=[np.ones(150, bool), masks[1]])


# -- fitting, stages, determinism --------------------------------------------------------


def test_fit_attributes(fitted, data):
    views, _, _ = data
    n = views[0].shape[0]
    assert fitted.labels_.shape == (n,)
    assert set(np.unique(fitted.labels_)) <= {0, 1, 2}
    for codes in (fitted.embedding_, fitted.codes_pretrained_, fitted.codes_no_unification_):
        assert codes.shape == (n, 4) and codes.dtype == np.float32
    assert fitted.cluster_centers_.shape == (3, 4)
    assert len(fitted.history_) == TINY["epochs"]
    keys = {"epoch", "generator", "critic", "adversarial", "cycle", "reconstruction"}
    assert set(fitted.history_[0]) == keys
    assert all(np.isfinite(v) for h in fitted.history_ for v in h.values())
    assert len(fitted.pretrain_history_["a"]) == TINY["pretrain_epochs"]


def test_stage_variants_give_the_documented_codes(fitted, data):
    views, masks, _ = data
    has_a, has_b = masks
    np.testing.assert_array_equal(fitted.embedding_, fitted.codes_unified_)
    # unified codes: A rows are the A codes after training, B rows moved by G_BA
    np.testing.assert_allclose(fitted.codes_unified_[has_a], fitted.codes_no_unification_[has_a])
    assert not np.allclose(fitted.codes_unified_[has_b], fitted.codes_no_unification_[has_b])

    no_adv = DM2C(**TINY, random_state=3, stage="no_adversarial").fit(views, masks=masks)
    assert no_adv.history_ == []
    assert no_adv.codes_no_unification_ is None and no_adv.codes_unified_ is None
    np.testing.assert_array_equal(no_adv.embedding_, no_adv.codes_pretrained_)
    # the same seed gives the same pretrained autoencoders whatever the stage
    np.testing.assert_array_equal(no_adv.codes_pretrained_, fitted.codes_pretrained_)
    # the adversarial loop keeps updating the autoencoders
    assert not np.allclose(fitted.codes_no_unification_, fitted.codes_pretrained_)
    np.testing.assert_allclose(
        no_adv.transform(views, masks), no_adv.codes_pretrained_, rtol=1e-5, atol=1e-6
    )

    no_uni = DM2C(**TINY, random_state=3, stage="no_unification").fit(views, masks=masks)
    np.testing.assert_array_equal(no_uni.embedding_, no_uni.codes_no_unification_)
    np.testing.assert_array_equal(no_uni.codes_no_unification_, fitted.codes_no_unification_)
    np.testing.assert_allclose(
        no_uni.transform(views, masks), no_uni.codes_no_unification_, rtol=1e-5, atol=1e-6
    )


def test_determinism_for_a_seed(fitted, data):
    views, masks, _ = data
    again = clone(fitted).fit(views, masks=masks)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    np.testing.assert_array_equal(again.embedding_, fitted.embedding_)
    assert again.history_ == fitted.history_
    other = DM2C(**TINY, random_state=4).fit(views, masks=masks)
    assert not np.array_equal(other.codes_pretrained_, fitted.codes_pretrained_)


def test_predict_on_new_rows(fitted, data):
    views, masks, _ = data
    np.testing.assert_array_equal(fitted.predict(views, masks), fitted.labels_)
    new_views, new_masks, _ = make_mixed(n=40, seed=7)
    pred = fitted.predict(new_views, new_masks)
    assert pred.shape == (40,) and set(np.unique(pred)) <= {0, 1, 2}
    # rows of one modality only work too
    only_a = [np.ones(40, bool), np.zeros(40, bool)]
    assert fitted.predict(new_views, only_a).shape == (40,)


def test_code_extra_term_and_critic_convention_run(data):
    views, masks, _ = data
    model = DM2C(
        **{**TINY, "epochs": 2},
        lambda_cycle_recon=1.0,
        lambda_adv=0.5,
        n_critic=1,
        critic_interval=5,
    ).fit(views, masks=masks)
    assert "cycle_reconstruction" in model.history_[-1]


def test_presets_are_constructor_parameters():
    params = DM2C().get_params()
    for name, preset in PRESETS.items():
        assert set(preset) <= set(params), name
        DM2C(**preset)
    assert PRESETS["wikipedia"]["lambda_rec"] == 2.0
    assert PRESETS["nus-wide-10k"]["hidden_dims_b"] == [512, 128]
