"""DM2C: losses, critic clipping and sign, schedules, gradients, unification, validation,
stages, convergence record, determinism."""

from __future__ import annotations

import json
import logging
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
    SCHEDULES,
    _BatchStream,
    adversarial_loss,
    critic_loss,
    critic_step,
    cycle_loss,
    make_generator,
    n_linear,
    recent_fall_share,
    relative_decrease,
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
    steps = math.ceil(n_max / TINY["batch_size"])
    assert model.n_iter_ == 2 * steps
    # a round before every interval-th generator step of an epoch (steps 0, interval, ...)
    assert len(calls) == 2 * n_critic * math.ceil(steps / interval)
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
    keys |= {"cycle_a", "cycle_b", "wasserstein_a", "wasserstein_b"}
    assert set(fitted.history_[0]) == keys
    last = fitted.history_[-1]
    assert last["cycle"] == pytest.approx(last["cycle_a"] + last["cycle_b"])
    assert last["critic"] == pytest.approx(-(last["wasserstein_a"] + last["wasserstein_b"]))
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
    assert "cycle_reconstruction" not in DM2C(**TINY).fit(views, masks=masks).history_[-1]


def test_presets_are_constructor_parameters():
    params = DM2C().get_params()
    for name, preset in PRESETS.items():
        assert set(preset) <= set(params), name
        DM2C(**preset)
    assert PRESETS["wikipedia"]["lambda_rec"] == 2.0
    assert PRESETS["nus-wide-10k"]["hidden_dims_b"] == [512, 128]
    # the authors' Wikipedia pretraining rates stay in the Wikipedia preset
    assert (PRESETS["wikipedia"]["pretrain_lr_a"], PRESETS["wikipedia"]["pretrain_lr_b"]) == (
        1e-4,
        1e-5,
    )
    for schedule in SCHEDULES.values():
        assert set(schedule) <= set(params)
        assert all(params[k] is None for k in schedule)  # None = "the schedule's value"


# -- schedules ---------------------------------------------------------------------------


def test_authors_schedule_sets_exactly_the_documented_values():
    # the authors' code/model.py and train.py run with their README command: one RMSprop
    # over two groups whose rates are swapped relative to their names (autoencoders at
    # --lr_g 1e-4, generators at --lr_ae 5e-4), critic once per 5 generator steps on the
    # same batch (detached), lamda3 0.5, cycled reconstruction unweighted, no D(real) term
    expected = {
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
        "pretrain_lr_b": 1e-4,
    }
    assert DM2C(schedule="authors").resolved_settings() == expected
    paper = DM2C().resolved_settings()
    assert paper == {
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
        "pretrain_lr_b": 1e-4,
    }
    # an explicit value wins over the schedule; B's pretraining rate follows A's unless set
    s = DM2C(schedule="authors", lr_ae=3e-3, n_critic=2, pretrain_lr_a=2e-4).resolved_settings()
    assert (s["lr_ae"], s["n_critic"], s["pretrain_lr_b"], s["critic_interval"]) == (
        3e-3,
        2,
        2e-4,
        5,
    )
    assert DM2C(pretrain_lr_b=1e-5).resolved_settings()["pretrain_lr_b"] == 1e-5
    # both schedules share the pretraining settings (the paper is silent: the authors' code)
    params = DM2C().get_params()
    assert params["pretrain_betas"] == (0.5, 0.999)
    assert params["pretrain_weight_decay"] == 1e-4
    with pytest.raises(ValueError, match="schedule"):
        DM2C(schedule="nope").resolved_settings()


@pytest.mark.parametrize(
    ("dims", "shape", "n_layers"),
    [
        ((128, 256, 128), "layers", 3),  # the paper's Wikipedia generator
        ((128, 128), "layers", 2),  # the paper's NUS-WIDE-10K generator
        ((128, 256, 128), "autoencoder", 6),  # the authors' code, Wikipedia
        ((128, 128), "autoencoder", 4),  # the authors' code, NUS-WIDE-10K
        ((256,), "layers", 2),  # a list not ending at the latent size gets a last layer
    ],
)
def test_generator_shape(dims, shape, n_layers):
    g = make_generator(128, dims, shape, 0.2, "bn_act", True)
    assert n_linear(g) == n_layers
    assert g(torch.randn(5, 128)).shape == (5, 128)
    assert isinstance(list(g.modules())[-1], nn.LeakyReLU)  # output activation


def test_generator_shape_per_schedule_in_fit(data):
    views, masks, _ = data
    params = {**TINY, "epochs": 1, "pretrain_epochs": 1, "generator_hidden_dims": [8, 4]}
    paper = DM2C(**params).fit(views, masks=masks)
    authors = DM2C(**params, schedule="authors").fit(views, masks=masks)
    assert n_linear(paper.generator_ab_) == 2 and n_linear(paper.generator_ba_) == 2
    assert n_linear(authors.generator_ab_) == 4 and n_linear(authors.generator_ba_) == 4


def test_layer_order_and_output_activation():
    from mmclust.methods.dm2c import ModalityAutoencoder

    kinds = lambda seq: [type(m).__name__ for m in seq]  # noqa: E731
    paper = ModalityAutoencoder(6, [5, 4], 0.2, "bn_act", True)
    assert kinds(paper.encoder) == ["Linear", "BatchNorm1d", "LeakyReLU", "Linear"]
    assert kinds(paper.decoder) == ["Linear", "BatchNorm1d", "LeakyReLU", "Linear", "LeakyReLU"]
    authors = ModalityAutoencoder(6, [5, 4], 0.2, "act_bn", True)
    assert kinds(authors.encoder) == ["Linear", "LeakyReLU", "BatchNorm1d", "Linear"]
    assert kinds(authors.decoder) == ["Linear", "LeakyReLU", "BatchNorm1d", "Linear", "LeakyReLU"]
    linear_out = ModalityAutoencoder(6, [5, 4], 0.2, "bn_act", False)
    assert kinds(linear_out.decoder)[-1] == "Linear"


def _spy_order(monkeypatch):
    """Record the loop's calls: "T" objective terms (one forward), "C" critic step."""
    order: list[str] = []
    terms_fn, critic_fn = DM2C.objective_terms, dm2c.critic_step

    def terms(self, *args, **kwargs):
        order.append("T")
        return terms_fn(self, *args, **kwargs)

    def critic(*args, **kwargs):
        order.append("C")
        return critic_fn(*args, **kwargs)

    monkeypatch.setattr(DM2C, "objective_terms", terms)
    monkeypatch.setattr(dm2c, "critic_step", critic)
    return order


def test_authors_schedule_updates_the_critic_once_per_5_generator_steps(data, monkeypatch):
    views, masks, _ = data
    order = _spy_order(monkeypatch)
    params = {**TINY, "epochs": 2, "pretrain_epochs": 1, "batch_size": 16}
    model = DM2C(**params, schedule="authors").fit(views, masks=masks)
    steps = math.ceil(150 / 16)  # one mixed stream over all 150 samples: 10 steps an epoch
    assert model.n_iter_ == 2 * steps
    # per epoch: generator steps 1-5, critic, 6-10, critic (the counter restarts each epoch)
    epoch = ["T"] * 5 + ["C"] + ["T"] * 5 + ["C"]
    assert order == epoch * 2


def test_paper_schedule_follows_algorithm_1(data, monkeypatch):
    views, masks, _ = data
    order = _spy_order(monkeypatch)
    model = DM2C(**{**TINY, "epochs": 1, "pretrain_epochs": 1}).fit(views, masks=masks)
    # per iteration: autoencoder step (one forward), 5 critic steps, generator step
    assert order == (["T"] + ["C"] * 5 + ["T"]) * model.n_iter_


def test_authors_critic_sees_the_generator_steps_codes_detached(data, monkeypatch):
    views, masks, _ = data
    seen_terms: list[dict] = []
    seen_critic: list[tuple] = []
    terms_fn, critic_fn = DM2C.objective_terms, dm2c.critic_step

    def terms(self, *args, **kwargs):
        out = terms_fn(self, *args, **kwargs)
        seen_terms.append({k: v.detach().clone() for k, v in out.items()})
        return out

    def critic(critics, opt, reals, fakes, *args, **kwargs):
        assert not any(t.requires_grad for t in (*reals, *fakes))
        seen_critic.append(
            (len(seen_terms), [r.clone() for r in reals], [f.clone() for f in fakes])
        )
        return critic_fn(critics, opt, reals, fakes, *args, **kwargs)

    monkeypatch.setattr(DM2C, "objective_terms", terms)
    monkeypatch.setattr(dm2c, "critic_step", critic)
    params = {**TINY, "epochs": 1, "pretrain_epochs": 1, "batch_size": 16}
    DM2C(**params, schedule="authors").fit(views, masks=masks)
    assert seen_critic
    for n_before, reals, fakes in seen_critic:
        t = seen_terms[n_before - 1]  # the batch of the generator step just made
        torch.testing.assert_close(reals[0], t["za"])
        torch.testing.assert_close(reals[1], t["zb"])
        torch.testing.assert_close(fakes[0], t["fake_a"])
        torch.testing.assert_close(fakes[1], t["fake_b"])
        # one mixed batch, split: 16 rows, or the pass's last 150 - 9 x 16 = 6
        assert reals[0].shape[0] + reals[1].shape[0] in (16, 6)


def test_mixed_stream_covers_every_sample_once_per_pass():
    gen = torch.Generator().manual_seed(0)
    stream = _BatchStream(10, 4, gen)
    batches = [stream.next() for _ in range(3)]  # 4 + 4 + 2
    assert [b.numel() for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    # a batch the predicate refuses is skipped (here: the last one, of 1 row)
    stream = _BatchStream(9, 4, torch.Generator().manual_seed(0))
    sizes = [stream.next().numel() for _ in range(4)]
    assert sizes == [4, 4, 4, 4]


# -- gradients: the encoders take the cycle and adversarial terms (Eq. 5) -----------------


def _fit_recording_encoders(data, monkeypatch, **params):
    """Fit, keeping a copy of the encoders' weights as the adversarial loop starts."""
    views, masks, _ = data
    before: dict[str, list[torch.Tensor]] = {}
    original = DM2C._adversarial

    def recording(self, *args, **kwargs):
        for m in "ab":
            enc = getattr(self, f"autoencoder_{m}_").encoder
            before[m] = [p.detach().clone() for p in enc.parameters()]
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DM2C, "_adversarial", recording)
    model = DM2C(**{**TINY, "epochs": 1, "pretrain_epochs": 1, **params}).fit(views, masks=masks)
    moved = {
        m: max(
            (p.detach() - q).abs().max().item()
            for p, q in zip(
                getattr(model, f"autoencoder_{m}_").encoder.parameters(), before[m], strict=True
            )
        )
        for m in "ab"
    }
    return model, moved


@pytest.mark.parametrize("schedule", ["paper", "authors"])
@pytest.mark.parametrize(
    "only", [{"lambda_adv": 0.0}, {"lambda_cycle": 0.0}], ids=["cycle", "adversarial"]
)
def test_encoders_move_with_cycle_or_adversarial_terms_alone(data, monkeypatch, schedule, only):
    # no reconstruction term: whatever moves the encoders is the cycle or adversarial term
    params = {"schedule": schedule, "lambda_rec": 0.0, "lambda_cycle_recon": 0.0, **only}
    _, moved = _fit_recording_encoders(data, monkeypatch, **params)
    assert moved["a"] > 1e-6 and moved["b"] > 1e-6


def test_encoders_stay_without_any_term_reaching_them(data, monkeypatch):
    # the control of the test above: no term at all, the encoders do not move
    params = {"lambda_rec": 0.0, "lambda_cycle_recon": 0.0, "lambda_adv": 0.0, "lambda_cycle": 0.0}
    _, moved = _fit_recording_encoders(data, monkeypatch, **params)
    assert moved == {"a": 0.0, "b": 0.0}


def test_paper_generator_step_leaves_the_autoencoders_alone(data, monkeypatch):
    # Algorithm 1: only the autoencoder step (line 4) moves them; with its rate at 0 they stay
    _, moved = _fit_recording_encoders(data, monkeypatch, lr_ae=0.0)
    assert moved == {"a": 0.0, "b": 0.0}


def test_objective_gradient_reaches_the_encoders_through_each_term(fitted, data):
    views, masks, _ = data
    model = fitted
    xa = torch.from_numpy(views[0][masks[0]][:16])
    xb = torch.from_numpy(views[1][masks[1]][:16])
    enc = list(model.autoencoder_a_.encoder.parameters())
    for m in (model.autoencoder_a_, model.autoencoder_b_, model.generator_ab_, model.generator_ba_):
        m.train()
    try:
        terms = model.objective_terms(xa, xb)
        for name in ("cycle_a", "adv", "rec"):
            grads = torch.autograd.grad(terms[name], enc, retain_graph=True, allow_unused=True)
            assert any(g is not None and g.abs().sum() > 0 for g in grads), name
        # and the objective is the documented weighted sum (paper schedule, TINY)
        s = model.settings_
        expected = (
            s["lambda_adv"] * terms["adv"]
            + model.lambda_cycle * (terms["cycle_a"] + terms["cycle_b"])
            + s["lambda_rec"] * terms["rec"]
        )
        torch.testing.assert_close(model.objective(terms), expected)
    finally:
        for m in (model.autoencoder_a_, model.autoencoder_b_, model.generator_ab_):
            m.eval()
        model.generator_ba_.eval()


def test_adversarial_loss_without_the_real_term():
    class SumCritic(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z.sum(1, keepdim=True)

    real, fake = torch.ones(4, 3), torch.full((6, 3), 2.0)
    assert adversarial_loss(SumCritic(), real, fake).item() == pytest.approx(3.0 - 6.0)
    assert adversarial_loss(SumCritic(), real, fake, real_term=False).item() == pytest.approx(-6.0)


# -- convergence record ------------------------------------------------------------------


def test_relative_decrease_hand_checked():
    # w = ceil(0.1 * 5) = 1: the last value against the one before
    assert relative_decrease([10.0, 8.0, 6.0, 5.0, 4.95]) == pytest.approx(0.01)
    # w = ceil(0.1 * 20) = 2: mean(4, 3) = 3.5 against mean(2, 1) = 1.5
    hist = [float(20 - i) for i in range(20)]
    assert relative_decrease(hist) == pytest.approx((3.5 - 1.5) / 3.5)
    # w is at most half the length: [4, 2] -> (4 - 2) / 4
    assert relative_decrease([4.0, 2.0], fraction=0.9) == pytest.approx(0.5)
    assert relative_decrease([1.0, 1.0, 2.0, 2.0], fraction=0.5) == pytest.approx(-1.0)  # a rise
    assert math.isnan(relative_decrease([1.0]))


def test_recent_fall_share_hand_checked():
    # 20 epochs, w = 2: windows mean(4, 3) = 3.5 and mean(2, 1) = 1.5; whole fall 20 - 1.5
    hist = [float(20 - i) for i in range(20)]
    assert recent_fall_share(hist) == pytest.approx((3.5 - 1.5) / (20 - 1.5))
    # a levelled-off loss: 10 -> 1 quickly, then flat
    assert recent_fall_share([10.0, 5.0, 2.0] + [1.0] * 17) == pytest.approx(0.0)
    # no fall at all, or too short: undefined
    assert math.isnan(recent_fall_share([1.0, 1.0, 1.0, 1.0]))
    assert math.isnan(recent_fall_share([1.0]))


def test_convergence_record_contents(fitted):
    rec = fitted.convergence_
    json.dumps(rec)  # JSON-serialisable
    assert isinstance(rec["converged"], bool) and isinstance(rec["rule"], str)
    for key in (
        "pretrain_loss_a",
        "pretrain_loss_b",
        "pretrain_rel_change_a",
        "pretrain_rel_change_b",
        "pretrain_recent_share_a",
        "pretrain_recent_share_b",
        "cycle_a",
        "cycle_b",
        "code_rms_a",
        "code_spread_b",
        "cycle_rel_a",
        "cycle_rel_b",
        "cycle_over_rms_a",
        "cycle_last_epoch",
        "wasserstein_a",
        "wasserstein_b",
        "wasserstein_first_a",
    ):
        assert np.isfinite(rec[key]), key
    assert rec["epochs"] == TINY["epochs"]
    assert rec["pretrain_loss_a"] == fitted.pretrain_history_["a"][-1]
    assert rec["wasserstein_a"] == fitted.history_[-1]["wasserstein_a"]
    assert rec["cycle_rel_a"] == pytest.approx(rec["cycle_a"] / rec["code_spread_a"])


def test_convergence_rule_hand_checked(fitted, data):
    views, masks, _ = data
    model = clone(fitted)
    model.__dict__.update(fitted.__dict__)  # a copy whose modules we may replace
    Xa = torch.from_numpy(views[0][masks[0]])
    Xb = torch.from_numpy(views[1][masks[1]])
    # 20 epochs (w = 2): fell 2 -> 1 early, then mean(1, 1) -> mean(1, 0.99): a share of
    # 0.005 / 1.005 < 1 % of the whole fall
    flat = [2.0] + [1.0] * 18 + [0.99]
    model.pretrain_history_ = {"a": flat, "b": flat}
    model.generator_ab_ = nn.Identity()
    model.generator_ba_ = nn.Identity()  # exact inverses: cycle error 0
    rec = model._convergence(Xa, Xb)
    assert rec["cycle_a"] == 0.0 and rec["cycle_rel_b"] == 0.0
    assert rec["converged"] is True
    # B still in its descent: its last tenth made (2 - 1) / (20 - 1) > 1 % of the fall
    model.pretrain_history_ = {"a": flat, "b": [20.0 - i for i in range(20)]}
    assert model._convergence(Xa, Xb)["converged"] is False
    # generators that ignore their input: the cycle error is the distance to a constant
    model.pretrain_history_ = {"a": flat, "b": flat}

    class Zero(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(z)

    model.generator_ba_ = Zero()
    rec = model._convergence(Xa, Xb)
    assert rec["cycle_rel_a"] >= 1.0 and rec["converged"] is False


def test_warning_when_not_converged(data, caplog):
    views, masks, _ = data
    with caplog.at_level(logging.WARNING, logger="mmclust.methods.dm2c"):
        model = DM2C(**{**TINY, "pretrain_epochs": 2, "epochs": 1}).fit(views, masks=masks)
    assert model.convergence_["converged"] is False  # 2 pretraining epochs do not settle
    assert any("did not converge" in r.getMessage() for r in caplog.records)


def test_no_adversarial_stage_records_pretraining_only(data):
    views, masks, _ = data
    model = DM2C(**TINY, stage="no_adversarial").fit(views, masks=masks)
    rec = model.convergence_
    assert rec["epochs"] == 0 and "cycle_a" not in rec
    assert {"pretrain_rel_change_a", "pretrain_rel_change_b"} <= set(rec)


def test_authors_schedule_is_deterministic_for_a_seed(data):
    views, masks, _ = data
    params = {**TINY, "epochs": 2, "batch_size": 16, "schedule": "authors"}
    one = DM2C(**params, random_state=5).fit(views, masks=masks)
    two = DM2C(**params, random_state=5).fit(views, masks=masks)
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_array_equal(one.embedding_, two.embedding_)
    assert one.history_ == two.history_
    assert one.convergence_ == two.convergence_
