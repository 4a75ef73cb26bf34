"""JULE: its CNN presets, triplet sampling and loss, and tiny fits on 8x8 digits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from mmclust.methods.jule import (
    ARCHITECTURES,
    JULE,
    LAYERS,
    NEGATIVE_COUNTS,
    JuleCNN,
    extract_layer,
    load_network,
    sample_triplets,
    to_image_shape,
    torch7_triplet_surrogate,
    weighted_triplet_loss,
)
from mmclust.metrics import nmi

torch.set_num_threads(1)

FIT = dict(n_clusters=10, arch="usps", epochs_per_period=1, device="cpu", verbose=False)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).astype(np.float32), y[:300]


@pytest.fixture(scope="module")
def fitted_pair(digits):
    X = digits[0]
    return JULE(**FIT, random_state=3).fit(X), JULE(**FIT, random_state=3).fit(X)


# -- triplets -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_triplets_pair_within_and_negatives_across_clusters(seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 6, (40,), generator=g)
    a, p, n = sample_triplets(labels, 7, g)
    assert a.numel() > 0 and a.shape == p.shape == n.shape
    assert (a != p).all() and (a < p).all()
    assert (labels[a] == labels[p]).all()
    assert (labels[n] != labels[a]).all() and (n != a).all() and (n != p).all()
    # every within-cluster pair appears, each with min(7, #other-cluster samples) distinct negatives
    pairs = {}
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        pairs.setdefault((i, j), []).append(k)
    same = [(i, j) for i in range(40) for j in range(i + 1, 40) if labels[i] == labels[j]]
    assert sorted(pairs) == same
    for (i, _), negs in pairs.items():
        assert len(set(negs)) == len(negs) == min(7, int((labels != labels[i]).sum()))


def test_triplets_respect_allowed_negatives_and_handle_no_pairs():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3])
    allowed = torch.zeros(7, 7, dtype=torch.bool)
    allowed[:, 4:6] = True  # only cluster 2 may give negatives
    a, p, n = sample_triplets(labels, 20, torch.Generator().manual_seed(0), allowed)
    assert set(n.tolist()) <= {4, 5}
    assert (labels[n] != labels[a]).all()  # the pair (4, 5) itself gets no negative
    assert sorted(set(zip(a.tolist(), p.tolist(), strict=True))) == [(0, 1), (2, 3)]
    a, p, n = sample_triplets(torch.arange(5), 20)
    assert a.numel() == p.numel() == n.numel() == 0


def _pairs(a, p, n):
    out = {}
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        out.setdefault((i, j), []).append(k)
    return out


def test_negatives_count_rules_on_a_hand_made_batch():
    # 4 clusters in a batch of 8: cluster 0 has 3 samples, 1 has 2, 2 has 1, 3 has 2
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3])
    pairs_expected = [(0, 1), (0, 2), (1, 2), (3, 4), (6, 7)]
    others = {0: 5, 1: 5, 2: 5, 3: 6, 6: 6}  # candidates of each anchor
    gen = torch.Generator().manual_seed(0)
    # available: min(20, other-cluster samples)
    got = _pairs(*sample_triplets(labels, 20, gen, count="available"))
    assert sorted(got) == pairs_expected
    assert {pair: len(v) for pair, v in got.items()} == {pr: others[pr[0]] for pr in got}
    # clusters (the code's intent): min(20, 4 clusters - 1) = 3 per pair; min(2, 3) = 2
    got = _pairs(*sample_triplets(labels, 20, gen, count="clusters"))
    assert sorted(got) == pairs_expected and all(len(v) == 3 for v in got.values())
    got = _pairs(*sample_triplets(labels, 2, gen, count="clusters"))
    assert all(len(v) == 2 for v in got.values())
    for pair, negs in got.items():
        assert len(set(negs)) == len(negs) and all(labels[k] != labels[pair[0]] for k in negs)
    with pytest.raises(ValueError, match="count must be one of"):
        sample_triplets(labels, 20, gen, count="all")


def test_first_draw_rule_gives_all_or_nothing_at_the_own_cluster_rate():
    # batch of 10: six samples of cluster 0, two of 1, two of 2; 3 negatives asked
    labels = torch.tensor([0] * 6 + [1] * 2 + [2] * 2)
    gen = torch.Generator().manual_seed(0)
    zero = {0: 0, 1: 0}
    total = {0: 0, 1: 0}
    for _ in range(1000):
        got = _pairs(*sample_triplets(labels, 3, gen, count="first-draw"))
        same = [(i, j) for i in range(10) for j in range(i + 1, 10) if labels[i] == labels[j]]
        for pair in same:
            c = 0 if labels[pair[0]] == 0 else 1
            negs = got.get(pair, [])
            assert len(negs) in (0, 3)  # all or nothing: 3 = min(3, candidates)
            assert all(labels[k] != labels[pair[0]] for k in negs)
            total[c] += 1
            zero[c] += len(negs) == 0
    # a pair gets nothing when its first draw hits its own cluster: 6/10 and 2/10
    assert zero[0] / total[0] == pytest.approx(0.6, abs=0.02)
    assert zero[1] / total[1] == pytest.approx(0.2, abs=0.02)
    # fewer candidates than asked: all of them (the code would loop forever)
    got = _pairs(*sample_triplets(labels, 20, gen, count="first-draw"))
    assert {len(v) for v in got.values()} <= {0, 4, 8}


def test_torch7_surrogate_passes_back_the_authors_gradients():
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(4, 3, generator=gen, requires_grad=True)
    a, p, n = torch.tensor([0, 0, 1]), torch.tensor([1, 1, 2]), torch.tensor([2, 3, 3])
    gamma, margin = 2.0, 50.0  # margin large enough: every triplet active
    torch7_triplet_surrogate(f, a, p, n, gamma, margin).backward()
    x = f.detach()
    want = torch.zeros_like(x)
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        # per triplet, times 2/N: anchor (g-1)a + n - g p; positive g(g p - (g-1)a);
        # negative (g-1)a - n
        want[i] += (2 / 3) * ((gamma - 1) * x[i] + x[k] - gamma * x[j])
        want[j] += (2 / 3) * gamma * (gamma * x[j] - (gamma - 1) * x[i])
        want[k] += (2 / 3) * ((gamma - 1) * x[i] - x[k])
    torch.testing.assert_close(f.grad, want)
    # the anchor's part is the loss's own gradient
    g = torch.zeros_like(x).requires_grad_(True)
    weighted_triplet_loss(x + g, a, p, n, gamma, margin).backward()
    torch.testing.assert_close(f.grad[0], g.grad[0])
    # gamma = 1 behind the L2 normalisation: positives and negatives get nothing
    h = torch.tensor([[1.0, 0.2], [0.3, 1.0], [-1.0, 0.5]], requires_grad=True)
    one = torch.tensor([0])
    fn = torch.nn.functional.normalize(h, dim=1)
    torch7_triplet_surrogate(fn, one, one + 1, one + 2, 1.0, 5.0).backward()
    assert h.grad[0].abs().sum() > 0
    torch.testing.assert_close(h.grad[1:], torch.zeros(2, 2), atol=1e-6, rtol=0)
    h.grad = None  # whereas the loss's own gradient moves them
    fn = torch.nn.functional.normalize(h, dim=1)
    weighted_triplet_loss(fn, one, one + 1, one + 2, 1.0, 5.0).backward()
    assert (h.grad[1:].abs().sum(1) > 1e-3).all()


def test_weighted_triplet_loss_by_hand():
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    a, p, n = torch.tensor([0, 0]), torch.tensor([1, 3]), torch.tensor([2, 1])
    # triplet 1: γ·2 - 4 + 0.2; triplet 2: γ·0 - 2 + 0.2 -> clipped to 0
    assert float(weighted_triplet_loss(f, a, p, n, gamma=1.0, margin=0.2)) == pytest.approx(0.0)
    assert float(weighted_triplet_loss(f, a, p, n, gamma=2.0, margin=0.2)) == pytest.approx(0.1)
    assert float(weighted_triplet_loss(f, a, p, n, gamma=2.5, margin=0.2)) == pytest.approx(0.6)


# -- the CNN ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "shape", "flat"),
    [
        ("mnist", (1, 28, 28), 3200),
        ("usps", (1, 16, 16), 1800),
        ("coil20", (1, 128, 128), 1250),
        ("umist", (1, 112, 92), 8400),
        ("frgc", (3, 32, 32), 1250),
        ("ytf", (3, 55, 55), 6050),
    ],
)
def test_cnn_presets_match_the_papers_sizes(arch, shape, flat):
    net = JuleCNN(shape, *ARCHITECTURES[arch]).eval()
    assert net.head.in_features == flat and net.head.out_features == 160
    assert net.features[1].eps == (1.0 if arch in ("umist", "frgc", "ytf") else 1e-5)
    with torch.no_grad():
        out = net(torch.rand(2, *shape))
    assert out.shape == (2, 160)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))


def test_cnn_rejects_too_small_images():
    with pytest.raises(ValueError, match="too small"):
        JuleCNN((1, 8, 8), *ARCHITECTURES["mnist"])


# -- fits ---------------------------------------------------------------------------------


def test_tiny_fit_returns_k_clusters(fitted_pair, digits):
    model, _ = fitted_pair
    X, y = digits
    assert model.labels_.shape == (300,)
    assert np.unique(model.labels_).size == 10
    assert model.embedding_.shape == (300, 160) and model.embedding_.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(model.embedding_, axis=1), 1.0, rtol=1e-5)
    assert model.n_initial_clusters_ > 10
    h = model.history_
    assert h[0]["period"] == 0 and h[0]["trained"]
    assert h[0]["n_clusters"] == model.n_initial_clusters_
    assert h[-1]["n_clusters"] == 10
    assert all(e["n_triplets"] > 0 for e in h if e["trained"])
    assert nmi(y, model.labels_) > 0.5  # checked here only; fit never reads y
    np.testing.assert_allclose(model.transform(X), model.embedding_, rtol=1e-5, atol=1e-6)


def test_fit_is_deterministic_and_ignores_y(fitted_pair, digits):
    a, b = fitted_pair
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    c = JULE(**FIT, random_state=3).fit(digits[0], y=np.zeros(300))
    np.testing.assert_array_equal(a.labels_, c.labels_)


@pytest.mark.parametrize(("unroll", "negatives"), [("full", "batch"), ("partial", "neighbours")])
def test_variants_run(digits, unroll, negatives):
    params = {**FIT, "unroll": unroll, "negatives": negatives, "eta": 0.5}
    model = JULE(**params).fit(digits[0])
    assert np.unique(model.labels_).size == 10
    if unroll == "full":
        assert len(model.history_) == 1 and model.history_[0]["n_clusters"] == 10
    else:
        assert len(model.history_) >= 2


def test_image_shape_is_inferred_or_checked(digits):
    X = digits[0]
    with pytest.raises(ValueError, match="image_shape"):
        JULE(**FIT).fit(X[:, :60])
    with pytest.raises(ValueError, match="image_shape"):
        JULE(**{**FIT, "image_shape": (1, 7, 7)}).fit(X)
    with pytest.raises(ValueError, match="unknown arch"):
        JULE(**{**FIT, "arch": "imagenet"}).fit(X)
    explicit = JULE(**{**FIT, "arch": None, "n_blocks": 1, "padding": 2, "image_shape": (1, 8, 8)})
    assert explicit.fit(X).embedding_.shape == (300, 160)


def test_params_and_clone():
    est = JULE(n_clusters=20, arch="umist", eta=0.2, gamma=2.0, image_shape=(1, 112, 92))
    got = est.get_params()
    assert got["eta"] == 0.2 and got["gamma"] == 2.0 and got["image_shape"] == (1, 112, 92)
    assert clone(est).get_params() == got
    d = JULE()
    assert (d.K_s, d.a, d.K_c, d.lam, d.eta, d.margin, d.gamma) == (20, 1.0, 5, 1.0, 0.9, 0.2, 1.0)
    assert (d.batch_size, d.lr, d.momentum, d.weight_decay, d.epochs_per_period) == (
        100, 0.01, 0.9, 5e-5, 20,
    )  # fmt: skip


# -- the optimiser and the authors'-code defaults -----------------------------------------


def _two_steps(est: JULE, w0: float = 1.0) -> float:
    w = torch.tensor([w0], requires_grad=True)
    opt = est._optimizer([w])
    assert opt.defaults["fused"] is True  # torch's fused SGD kernel, dampening included
    for _ in range(2):
        opt.zero_grad()
        (0.5 * w * w).sum().backward()  # gradient w
        opt.step()
    return float(w.detach())


def test_dampening_step_sizes_by_hand():
    # lr 0.1, momentum 0.9, loss w^2 / 2 from w = 1
    # Torch7 (dampening = momentum): buf 1 -> w 0.9; buf 0.9 * 1 + 0.1 * 0.9 = 0.99 -> 0.801
    est = JULE(lr=0.1, momentum=0.9, weight_decay=0.0)
    assert est.dampening is None and est._dampening() == 0.9
    assert _two_steps(est) == pytest.approx(0.801)
    # PyTorch's default (dampening 0): buf 0.9 * 1 + 0.9 = 1.8 -> 0.9 - 0.18 = 0.72
    assert _two_steps(JULE(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0)) == (
        pytest.approx(0.72)
    )
    # weight decay 0.5 joins the gradient before the momentum: g = 1.5 w
    # buf 1.5 -> 0.85; g 1.275, buf 0.9 * 1.5 + 0.1 * 1.275 = 1.4775 -> 0.70225
    assert _two_steps(JULE(lr=0.1, momentum=0.9, weight_decay=0.5)) == pytest.approx(0.70225)
    # dampening None follows the momentum, an explicit value does not
    assert JULE(momentum=0.5)._dampening() == 0.5
    assert JULE(momentum=0.5, dampening=0.1)._dampening() == 0.1


def test_defaults_are_the_authors_code():
    d = JULE()
    assert d.dampening is None and d._dampening() == d.momentum == 0.9
    assert (d.negatives, d.negatives_count, d.n_negatives) == ("batch", "first-draw", 20)
    assert d.step_without_triplets is True
    assert d.triplet_gradient == "loss"  # the paper's loss; "torch7" is the code's
    assert NEGATIVE_COUNTS == ("first-draw", "clusters", "available")
    for bad, match in [
        ({"negatives_count": "intended"}, "negatives_count must be one of first-draw"),
        ({"triplet_gradient": "code"}, "triplet_gradient must be one of loss, torch7"),
        ({"dampening": 1.5}, "dampening must be None or in"),
    ]:
        with pytest.raises(ValueError, match=match):
            JULE(**bad)._check()


@pytest.mark.parametrize("step", [True, False])
def test_a_batch_without_triplets_steps_as_the_code_does(step):
    est = JULE(**FIT, random_state=0, step_without_triplets=step, weight_decay=0.1)
    est._device = torch.device("cpu")
    est._iter = 0
    torch.manual_seed(0)
    net = JuleCNN((1, 8, 8), *ARCHITECTURES["usps"])
    before = [p.detach().clone() for p in net.parameters()]
    images = torch.rand(30, 1, 8, 8)
    labels = np.arange(30)  # every sample its own cluster: no pair, no triplet
    loss, n_trip = est._train(
        net, est._optimizer(net.parameters()), images, labels, None, torch.Generator(), 0
    )
    assert n_trip == 0 and math.isnan(loss)
    moved = any(not torch.equal(b, a) for b, a in zip(before, net.parameters(), strict=True))
    assert moved == step  # weight decay moves the weights only when the optimiser steps
    assert est._iter == 1  # the learning-rate schedule counts the batch either way


def test_convergence_record(fitted_pair):
    model, _ = fitted_pair
    rec = model.convergence_
    json.dumps(rec, allow_nan=False)
    trained = [h for h in model.history_ if h["trained"]]
    assert rec["converged"] is True and rec["n_clusters"] == 10
    assert "n_clusters" in rec["rule"]
    assert rec["periods"] == len(trained) >= 1
    assert rec["epochs_per_period"] == 1 and rec["epochs"] == rec["periods"]
    assert rec["final_loss"] == pytest.approx(trained[-1]["loss"])
    assert rec["n_initial_clusters"] == model.n_initial_clusters_
    assert rec["n_triplets"] == sum(h["n_triplets"] for h in model.history_) > 0


@pytest.mark.parametrize(
    "variant",
    [
        {"negatives_count": "clusters"},
        {"negatives_count": "available", "dampening": 0.0, "step_without_triplets": False},
        {"triplet_gradient": "torch7"},
    ],
)
def test_variants_fit(digits, variant):
    model = JULE(**FIT, **variant).fit(digits[0])
    assert np.unique(model.labels_).size == 10 and model.convergence_["converged"]


# -- transfer: features of a layer, other image sizes ------------------------------------


def _unit_rows(F: np.ndarray) -> None:
    np.testing.assert_allclose(np.linalg.norm(F, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(("layer", "dim"), [("top", 160), ("top-1", 3200), ("top-2", 7200)])
def test_layer_features_have_the_documented_shape_and_unit_norm(layer, dim):
    torch.manual_seed(0)
    net = JuleCNN((1, 28, 28), *ARCHITECTURES["mnist"])  # 2 blocks: 50x12x12, then 50x8x8
    images = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
    F = extract_layer(net, images, layer, device="cpu", batch_size=3)
    assert F.shape == (7, dim) == (7, net.layer_dim(layer)) and F.dtype == np.float32
    _unit_rows(F)


def test_top_is_the_fitted_estimators_transform(fitted_pair, digits, tmp_path):
    model, _ = fitted_pair
    X = digits[0]
    # through a file, as the cluster command writes model.pt
    path = tmp_path / "model.pt"
    torch.save({"estimator": "jule", "params": {}, "network": model.network_state()}, path)
    images = X.reshape(-1, 8, 8)
    top = extract_layer(path, images, "top", device="cpu")
    np.testing.assert_allclose(top, model.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(top, model.embedding_, rtol=1e-5, atol=1e-6)
    below = extract_layer(path, images, "top-1", device="cpu")
    np.testing.assert_allclose(below, model.transform(X, layer="top-1"), rtol=1e-5, atol=1e-6)
    assert below.shape == (300, 50 * 2 * 2)  # usps preset on 8x8: conv -> 4x4, pool -> 2x2
    _unit_rows(below)
    net = load_network(path)
    assert not net.training and net.config == model.module_.config


def test_images_of_another_size_and_channels_are_converted(fitted_pair, digits):
    model, _ = fitted_pair  # a CNN of 8x8 grey images
    images = torch.from_numpy(digits[0].reshape(-1, 1, 8, 8))
    bigger = torch.nn.functional.interpolate(images, size=(16, 16), mode="bilinear")
    rgb = bigger.repeat(1, 3, 1, 1) * torch.tensor([1.0, 0.5, 0.25]).view(1, 3, 1, 1)
    for other in (bigger, rgb, bigger[:, 0].numpy()):
        F = extract_layer(model.module_, other, "top", device="cpu")
        assert F.shape == (300, 160)
        _unit_rows(F)
    # 16x16 shrunk back to 8x8 stays close to the originals' representation
    F = extract_layer(model.module_, bigger, "top", device="cpu")
    assert np.mean(np.sum(F * model.embedding_, axis=1)) > 0.9
    # the conversions themselves
    grey = torch.rand(2, 1, 5, 5)
    np.testing.assert_array_equal(to_image_shape(grey, (3, 5, 5)), grey.repeat(1, 3, 1, 1))
    colour = torch.rand(2, 3, 5, 5)
    luma = 0.299 * colour[:, 0] + 0.587 * colour[:, 1] + 0.114 * colour[:, 2]
    torch.testing.assert_close(to_image_shape(colour, (1, 5, 5))[:, 0], luma)
    flat = to_image_shape(torch.full((1, 1, 28, 28), 0.7), (1, 16, 16))
    assert flat.shape == (1, 1, 16, 16)
    torch.testing.assert_close(flat, torch.full((1, 1, 16, 16), 0.7))
    with pytest.raises(ValueError, match="channels"):
        to_image_shape(torch.rand(1, 2, 5, 5), (3, 5, 5))


def test_bad_layer_names_fail_clearly(fitted_pair, digits):
    model, _ = fitted_pair
    assert LAYERS == ("top", "top-1", "top-2")
    with pytest.raises(
        ValueError, match=r"unknown layer 'fc7'; accepted values: top, top-1, top-2"
    ):
        extract_layer(model.module_, digits[0].reshape(-1, 8, 8), "fc7", device="cpu")
    with pytest.raises(ValueError, match=r"unknown layer 'conv'"):
        model.transform(digits[0], layer="conv")
    # the usps preset has one conv block: nothing below it
    with pytest.raises(ValueError, match=r"'top-2' does not exist .* 1 block.*: top, top-1$"):
        model.transform(digits[0], layer="top-2")


def test_a_model_file_without_network_is_refused(tmp_path):
    state = {"format": 1, "estimator": "kmeans", "params": {}, "network": None}
    old, new = tmp_path / "old.pt", tmp_path / "model.pt"
    torch.save(state, old)  # as every run's model.pt was written before the JSON form
    new.write_text(json.dumps(state))  # as a run without a network writes it now
    for path in (old, new):
        with pytest.raises(ValueError, match="'kmeans' saves its parameters only"):
            extract_layer(path, np.zeros((2, 8, 8), np.float32))
