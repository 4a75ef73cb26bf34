"""Student's t assignment, target distribution, KL loss and the autoencoder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

import mmclust.nn.autoencoder as autoencoder_module
from mmclust.nn import DenoisingAutoencoder, StackedAutoencoder, soft_assign, target_distribution
from mmclust.nn.autoencoder import corrupt
from mmclust.nn.clustering import kl_divergence
from mmclust.nn.utils import fused_supported, make_optimizer

torch.set_num_threads(1)

# two points and two centroids in 2-d
Z = torch.tensor([[0.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
MU = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
# squared distances ||z_i - mu_j||^2:
#   z_1 = (0,0): to mu_1 = 0, to mu_2 = 4
#   z_2 = (2,1): to mu_1 = 4 + 1 = 5, to mu_2 = 0 + 1 = 1
D2 = [[0.0, 4.0], [5.0, 1.0]]


def _student_t(d2: list[list[float]], alpha: float) -> list[list[float]]:
    rows = []
    for row in d2:
        k = [(1 + d / alpha) ** (-(alpha + 1) / 2) for d in row]
        rows.append([v / sum(k) for v in k])
    return rows


# -- soft assignment -----------------------------------------------------------------


def test_soft_assign_alpha_1_by_hand():
    # alpha = 1: q_ij ~ 1 / (1 + d2)
    #   row 1: (1/1, 1/5) -> (5/6, 1/6)
    #   row 2: (1/6, 1/2) -> (1/4, 3/4)
    q = soft_assign(Z, MU, alpha=1.0)
    expected = torch.tensor([[5 / 6, 1 / 6], [1 / 4, 3 / 4]], dtype=torch.float64)
    torch.testing.assert_close(q, expected)
    torch.testing.assert_close(q, torch.tensor(_student_t(D2, 1.0), dtype=torch.float64))


def test_soft_assign_alpha_2_by_hand():
    # alpha = 2: q_ij ~ (1 + d2 / 2)^(-3/2)
    #   row 1: (1, 3^-1.5 = 0.192450) -> (0.838610, 0.161390)
    #   row 2: (3.5^-1.5 = 0.152721, 1.5^-1.5 = 0.544331) -> (0.219095, 0.780905)
    q = soft_assign(Z, MU, alpha=2.0)
    a, b = 1.0, 3.0**-1.5
    c, d = 3.5**-1.5, 1.5**-1.5
    expected = torch.tensor(
        [[a / (a + b), b / (a + b)], [c / (c + d), d / (c + d)]], dtype=torch.float64
    )
    torch.testing.assert_close(q, expected)
    torch.testing.assert_close(q, torch.tensor(_student_t(D2, 2.0), dtype=torch.float64))
    assert q[0, 0].item() == pytest.approx(0.838610, abs=1e-6)
    assert q[1, 1].item() == pytest.approx(0.780905, abs=1e-6)


def test_soft_assign_rows_sum_to_one():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(50, 4, generator=gen)
    mu = torch.randn(6, 4, generator=gen)
    for alpha in (0.5, 1.0, 2.0):
        q = soft_assign(z, mu, alpha)
        assert q.shape == (50, 6)
        assert (q > 0).all()
        torch.testing.assert_close(q.sum(dim=1), torch.ones(50))


# -- target distribution ---------------------------------------------------------------


def test_target_distribution_by_hand():
    # q = [[0.5, 0.5], [0.9, 0.1]], cluster frequencies f = (1.4, 0.6)
    # row 1: (0.25/1.4, 0.25/0.6) = (15/84, 35/84)   -> (0.3, 0.7)
    # row 2: (0.81/1.4, 0.01/0.6) = (243/420, 7/420) -> (0.972, 0.028)
    q = torch.tensor([[0.5, 0.5], [0.9, 0.1]], dtype=torch.float64)
    p = target_distribution(q)
    expected = torch.tensor([[0.3, 0.7], [0.972, 0.028]], dtype=torch.float64)
    torch.testing.assert_close(p, expected)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(2, dtype=torch.float64))


def test_target_distribution_sharpens():
    q = soft_assign(Z, MU, alpha=1.0)
    p = target_distribution(q)
    # the most confident assignment of each point gets more confident
    assert (p.max(dim=1).values > q.max(dim=1).values).all()
    assert torch.equal(p.argmax(dim=1), q.argmax(dim=1))


# -- KL divergence -----------------------------------------------------------------------


def test_kl_divergence_zero_when_equal():
    q = soft_assign(Z, MU, alpha=1.0)
    assert kl_divergence(q, q).item() == pytest.approx(0.0, abs=1e-12)


def test_kl_divergence_positive_otherwise():
    q = soft_assign(Z, MU, alpha=1.0)
    p = target_distribution(q)
    assert kl_divergence(p, q).item() > 0
    # hand case: KL((1, 0) || (1/2, 1/2)) = ln 2, averaged over one sample
    one = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    half = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    assert kl_divergence(one, half).item() == pytest.approx(math.log(2), rel=1e-9)
    # mean over samples: one identical row and one ln 2 row give ln 2 / 2
    p2 = torch.cat([half, one])
    q2 = torch.cat([half, half])
    assert kl_divergence(p2, q2).item() == pytest.approx(math.log(2) / 2, rel=1e-9)


# -- StackedAutoencoder -------------------------------------------------------------------


def _layer_summary(seq: nn.Sequential) -> list[object]:
    out: list[object] = []
    for m in seq:
        if isinstance(m, nn.Linear):
            out.append((m.in_features, m.out_features))
        else:
            out.append(type(m).__name__)
    return out


@pytest.mark.parametrize("weight_init", ["glorot", "default"])
def test_stacked_autoencoder_layers(weight_init):
    torch.manual_seed(0)
    m = StackedAutoencoder([20, 8, 4], weight_init=weight_init)
    # ReLU after every layer except the embedding and the reconstruction layer
    assert _layer_summary(m.encoder) == [(20, 8), "ReLU", (8, 4)]
    assert _layer_summary(m.decoder) == [(4, 8), "ReLU", (8, 20)]
    assert m.dims == [20, 8, 4]

    z, recon = m(torch.randn(5, 20))
    assert z.shape == (5, 4)
    assert recon.shape == (5, 20)
    # a linear reconstruction layer can output negative values
    assert (recon < 0).any()

    pairs = m.linear_pairs()
    assert [(e.in_features, e.out_features, d.in_features, d.out_features) for e, d in pairs] == [
        (20, 8, 8, 20),
        (8, 4, 4, 8),
    ]


def test_stacked_autoencoder_glorot_init():
    torch.manual_seed(0)
    m = StackedAutoencoder([20, 8, 4], weight_init="glorot")
    for layer in [*m.encoder, *m.decoder]:
        if isinstance(layer, nn.Linear):
            bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
            assert torch.count_nonzero(layer.bias) == 0
            assert layer.weight.abs().max() <= bound


def test_stacked_autoencoder_default_init():
    torch.manual_seed(0)
    m = StackedAutoencoder([20, 8, 4], weight_init="default")
    for layer in [*m.encoder, *m.decoder]:
        if isinstance(layer, nn.Linear):
            # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases
            bound = 1.0 / math.sqrt(layer.in_features)
            assert torch.count_nonzero(layer.bias) > 0
            assert layer.weight.abs().max() <= bound
            assert layer.bias.abs().max() <= bound


def test_stacked_autoencoder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="weight_init"):
        StackedAutoencoder([20, 8, 4], weight_init="he")
    with pytest.raises(ValueError, match="at least one code size"):
        StackedAutoencoder([20])


def test_single_layer_autoencoder_is_linear():
    m = StackedAutoencoder([6, 2])
    assert _layer_summary(m.encoder) == [(6, 2)]
    assert _layer_summary(m.decoder) == [(2, 6)]


# -- corruption ----------------------------------------------------------------------------


def test_masking_noise_zeroes_masked_and_keeps_the_rest():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 30, generator=gen) + 1.0  # no zero in the clean input
    out = corrupt(x, 0.3, "masking", torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    masked = out == 0
    # every entry is either zeroed or exactly the clean value
    assert torch.equal(out[~masked], x[~masked])
    assert torch.all(out[masked] == 0)
    assert 0.25 < masked.float().mean().item() < 0.35
    # the input itself is not modified
    assert (x != 0).all()


def test_masking_noise_is_reproducible_with_a_generator():
    x = torch.ones(10, 10)
    a = corrupt(x, 0.5, "masking", torch.Generator().manual_seed(3))
    b = corrupt(x, 0.5, "masking", torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_zero_noise_is_identity_and_gaussian_adds_noise():
    x = torch.ones(4, 3)
    assert corrupt(x, 0.0, "masking") is x
    g = corrupt(x, 0.1, "gaussian", torch.Generator().manual_seed(0))
    assert not torch.equal(g, x)
    assert (g - x).abs().max() < 1.0
    with pytest.raises(ValueError, match="noise_type"):
        corrupt(x, 0.1, "salt")


# -- DenoisingAutoencoder ------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(120, 20)).astype(np.float32)


AE_PARAMS = dict(hidden_dims=[8, 4], epochs=3, batch_size=32, device="cpu", verbose=False)


def test_autoencoder_fit_is_deterministic(data):
    a = DenoisingAutoencoder(**AE_PARAMS, random_state=3).fit(data)
    b = DenoisingAutoencoder(**AE_PARAMS, random_state=3).fit(data)
    assert len(a.loss_history_) == 3
    assert a.loss_history_ == b.loss_history_
    np.testing.assert_array_equal(a.transform(data), b.transform(data))

    c = DenoisingAutoencoder(**AE_PARAMS, random_state=4).fit(data)
    assert c.loss_history_ != a.loss_history_


def test_autoencoder_transform_and_reconstruction(data):
    ae = DenoisingAutoencoder(**AE_PARAMS).fit(data)
    z = ae.transform(data)
    assert z.shape == (120, 4)
    assert z.dtype == np.float32
    err = ae.reconstruction_error(data)
    assert np.isfinite(err) and err > 0
    assert not ae.module_.training


def test_autoencoder_loss_decreases(data):
    ae = DenoisingAutoencoder(**{**AE_PARAMS, "epochs": 15, "noise": 0.0}).fit(data)
    assert ae.loss_history_[-1] < ae.loss_history_[0]


def test_autoencoder_save_load_round_trip(tmp_path, data):
    ae = DenoisingAutoencoder(**AE_PARAMS, noise_type="gaussian", weight_init="default").fit(data)
    path = tmp_path / "ae.pt"
    ae.save(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae.pt"]

    loaded = DenoisingAutoencoder.load(str(path), device="cpu")
    np.testing.assert_array_equal(loaded.transform(data), ae.transform(data))
    assert loaded.get_params() == ae.get_params()
    assert loaded.loss_history_ == ae.loss_history_
    assert loaded.module_.dims == [20, 8, 4]
    assert not loaded.module_.training


def test_layerwise_pretraining_runs_and_changes_weights(data):
    params = {**AE_PARAMS, "epochs": 0}
    plain = DenoisingAutoencoder(**params).fit(data)
    layerwise = DenoisingAutoencoder(**params, layerwise_epochs=2).fit(data)
    assert plain.loss_history_ == [] and layerwise.loss_history_ == []
    # with no end-to-end epoch, every weight change comes from the layer-wise stage
    for (name, a), b in zip(
        plain.module_.state_dict().items(), layerwise.module_.state_dict().values(), strict=True
    ):
        assert not torch.equal(a, b), name

    full = DenoisingAutoencoder(**{**AE_PARAMS, "layerwise_epochs": 2}).fit(data)
    assert len(full.loss_history_) == 3
    assert full.transform(data).shape == (120, 4)
    assert np.isfinite(full.loss_history_).all()


def test_autoencoder_params_and_clone():
    dims = [8, 4]
    ae = DenoisingAutoencoder(hidden_dims=dims, noise=0.3, lr=0.01, device="cpu")
    params = ae.get_params()
    assert params["hidden_dims"] is dims
    assert params["noise"] == 0.3 and params["lr"] == 0.01 and params["device"] == "cpu"
    twin = clone(ae)
    assert twin.get_params() == params
    assert not hasattr(twin, "module_")


def test_autoencoder_rejects_unknown_optimizer(data):
    with pytest.raises(ValueError, match="optimizer"):
        DenoisingAutoencoder(**AE_PARAMS, optimizer="rmsprop").fit(data)


# -- the optimiser factory: fused kernels with the per-tensor loop's update ----------------


def _param() -> list[nn.Parameter]:
    return [nn.Parameter(torch.tensor([1.0, -2.0]))]


def test_make_optimizer_is_fused_on_the_cpu():
    for name in ("adam", "sgd"):
        opt = make_optimizer(name, _param(), 0.1)
        assert opt.defaults["fused"] is True, name
    assert fused_supported([nn.Parameter(torch.zeros(2))])
    assert not fused_supported([])
    ints = [torch.zeros(2, dtype=torch.int64)]
    assert not fused_supported(ints)
    with pytest.raises(ValueError, match="no fused optimiser kernels"):
        make_optimizer("sgd", ints, 0.1, fused=True)
    assert not make_optimizer("adam", _param(), 0.1, fused=False).defaults["fused"]
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", _param(), 0.1)


def test_fused_sgd_with_dampening_and_weight_decay_by_hand():
    """lr 0.1, momentum 0.9, dampening 0.9 (Torch7's, JULE's default), weight decay 0.5.

    Step 1, g = (0.5, 1): d = g + 0.5 p = (1, 0); the first buffer is d itself;
    p = (1, -2) - 0.1 (1, 0) = (0.9, -2).
    Step 2, g = (1, -1): d = (1 + 0.45, -1 - 1) = (1.45, -2);
    buffer = 0.9 (1, 0) + 0.1 (1.45, -2) = (1.045, -0.2);
    p = (0.9 - 0.1045, -2 + 0.02) = (0.7955, -1.98).
    """
    p = _param()
    opt = make_optimizer("sgd", p, 0.1, momentum=0.9, weight_decay=0.5, dampening=0.9)
    assert opt.defaults["fused"] is True and opt.defaults["dampening"] == 0.9
    p[0].grad = torch.tensor([0.5, 1.0])
    opt.step()
    torch.testing.assert_close(p[0].detach(), torch.tensor([0.9, -2.0]))
    p[0].grad = torch.tensor([1.0, -1.0])
    opt.step()
    torch.testing.assert_close(p[0].detach(), torch.tensor([0.7955, -1.98]))


def test_fused_adam_first_step_by_hand():
    """Adam's first step is lr · m̂ / (√v̂ + ε) with m̂ = g, v̂ = g²: lr · sign(g) up to ε;
    weight decay 0.5 adds 0.5 p to g first: g = (0.5, -4) + (0.5, -1) = (1, -5)."""
    p = _param()
    opt = make_optimizer("adam", p, 0.1, weight_decay=0.5)
    assert opt.defaults["fused"] is True
    p[0].grad = torch.tensor([0.5, -4.0])
    opt.step()
    torch.testing.assert_close(p[0].detach(), torch.tensor([0.9, -1.9]))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("sgd", {"momentum": 0.9, "dampening": 0.9, "weight_decay": 5e-4}),
        ("sgd", {"momentum": 0.9}),
        ("adam", {"betas": (0.5, 0.9), "weight_decay": 0.01}),
        ("adam", {}),
    ],
)
def test_fused_steps_equal_the_per_tensor_loop(name, kwargs):
    """Five steps on two tensors (a matrix and a vector) with random gradients."""
    cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(7, 3, generator=gen), torch.randn(5, generator=gen)]
    grads = [[torch.randn(t.shape, generator=gen) for t in start] for _ in range(5)]
    fused = [nn.Parameter(t.clone()) for t in start]
    ref = [nn.Parameter(t.clone()) for t in start]
    momentum = kwargs.pop("momentum", 0.9)
    opt = make_optimizer(name, fused, 0.1, momentum=momentum, **kwargs)
    extra = {"momentum": momentum} if name == "sgd" else {}
    ref_opt = cls(ref, lr=0.1, foreach=False, **extra, **kwargs)
    assert opt.defaults["fused"] is True and not ref_opt.defaults["fused"]
    for step in grads:
        for ps in (fused, ref):
            for p, g in zip(ps, step, strict=True):
                p.grad = g.clone()
        opt.step()
        ref_opt.step()
    for a, b in zip(fused, ref, strict=True):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-6, atol=1e-7)


def test_autoencoder_training_steps_with_fused_optimisers(data, monkeypatch):
    built: list[torch.optim.Optimizer] = []
    real = autoencoder_module.make_optimizer

    def spy(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(autoencoder_module, "make_optimizer", spy)
    DenoisingAutoencoder(**{**AE_PARAMS, "layerwise_epochs": 1, "epochs": 1}).fit(data)
    DenoisingAutoencoder(**{**AE_PARAMS, "optimizer": "sgd", "epochs": 1}).fit(data)
    assert len(built) == 4  # two layers, end to end; end to end with SGD
    assert all(opt.defaults["fused"] for opt in built)
