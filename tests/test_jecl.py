"""JECL's formulas on hand-checked cases, and the estimator's properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from mmclust.methods.jecl import JECL, jecl_loss, joint_target, match_clusters
from mmclust.nn.autoencoder import DenoisingAutoencoder
from mmclust.nn.clustering import js_divergence, target_distribution, uniform_kl

torch.set_num_threads(1)


def _t(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# -- the joint target ------------------------------------------------------------------


def test_target_distribution_by_hand() -> None:
    q = _t([[0.8, 0.2], [0.4, 0.6]])
    # f = (1.2, 0.8); q^2/f = [[0.5333, 0.05], [0.1333, 0.45]]
    w = np.array([[0.64 / 1.2, 0.04 / 0.8], [0.16 / 1.2, 0.36 / 0.8]])
    expected = w / w.sum(1, keepdims=True)
    assert np.allclose(target_distribution(q).numpy(), expected)


def test_joint_target_is_the_lambda_mixture() -> None:
    q = _t([[0.8, 0.2], [0.4, 0.6]])
    r = _t([[0.3, 0.7], [0.5, 0.5]])
    m = torch.ones(2, dtype=torch.bool)
    tq, tr = target_distribution(q), target_distribution(r)
    for lam in (0.0, 0.3, 0.5, 1.0):
        p = joint_target([q, r], [m, m], (lam, 1 - lam))
        assert torch.allclose(p, lam * tq + (1 - lam) * tr)
        assert torch.allclose(p.sum(1), torch.ones(2, dtype=p.dtype))


def test_joint_target_of_a_sample_without_text_is_its_image_target() -> None:
    q = _t([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]])
    has_text = torch.tensor([True, False, True])
    r_present = _t([[0.3, 0.7], [0.6, 0.4]])  # rows 0 and 2 only
    p = joint_target([q, r_present], [torch.ones(3, dtype=torch.bool), has_text], (0.5, 0.5))
    tq = target_distribution(q)
    tr = target_distribution(r_present)  # column sums over the samples with text
    assert torch.allclose(p[1], tq[1])
    assert torch.allclose(p[0], 0.5 * tq[0] + 0.5 * tr[0])
    assert torch.allclose(p[2], 0.5 * tq[2] + 0.5 * tr[1])
    # lam = 0 with no text: the image target still defines the sample
    p0 = joint_target([q, r_present], [torch.ones(3, dtype=torch.bool), has_text], (0.0, 1.0))
    assert torch.allclose(p0[1], tq[1])


# -- divergences -------------------------------------------------------------------------


def test_js_divergence_properties() -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.softmax(torch.randn(50, 4, generator=g, dtype=torch.float64), 1)
    r = torch.softmax(torch.randn(50, 4, generator=g, dtype=torch.float64), 1)
    js = js_divergence(q, r)
    assert torch.allclose(js, js_divergence(r, q))  # symmetric
    assert (js > 0).all() and (js <= math.log(2) + 1e-12).all()
    assert torch.allclose(js_divergence(q, q), torch.zeros(50, dtype=q.dtype), atol=1e-12)
    disjoint = js_divergence(_t([[1.0, 0.0]]), _t([[0.0, 1.0]]))
    assert disjoint.item() == pytest.approx(math.log(2), abs=1e-9)
    # by hand: q = (0.5, 0.5), r = (1, 0): m = (0.75, 0.25)
    by_hand = 0.5 * (0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)) + 0.5 * math.log(
        1 / 0.75
    )
    assert js_divergence(_t([[0.5, 0.5]]), _t([[1.0, 0.0]])).item() == pytest.approx(by_hand)


def test_uniform_regulariser() -> None:
    balanced = _t([[0.9, 0.1], [0.1, 0.9]])
    assert uniform_kl(balanced).item() == pytest.approx(0.0, abs=1e-10)
    collapsed = _t([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    assert uniform_kl(collapsed).item() == pytest.approx(math.log(3), abs=1e-9)
    # f = (0.75, 0.25): KL(f || u) = 0.75 ln 1.5 + 0.25 ln 0.5
    skewed = _t([[1.0, 0.0], [0.5, 0.5]])
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert uniform_kl(skewed).item() == pytest.approx(expected)


# -- Hungarian matching -------------------------------------------------------------------


def test_match_clusters_recovers_a_permutation() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 5, 200)
    perm = np.array([3, 0, 4, 1, 2])  # text cluster perm[j] is image cluster j
    other = perm[ref]
    other[:10] = rng.integers(0, 5, 10)  # some disagreement
    assert np.array_equal(match_clusters(ref, other, 5), perm)


# -- the loss and missing captions ----------------------------------------------------------


def test_loss_is_the_weighted_sum_of_its_terms() -> None:
    p = _t([[0.7, 0.3], [0.2, 0.8]])
    q = _t([[0.6, 0.4], [0.3, 0.7]])
    r = _t([[0.5, 0.5], [0.1, 0.9]])
    m = torch.ones(2, dtype=torch.bool)
    loss, parts = jecl_loss(p, [q, r], [m, m], beta=0.2, gamma=0.3)
    kl = lambda a, b: (a * (a / b).log()).sum(1).mean()  # noqa: E731
    cluster = kl(p, q) + kl(p, r)
    align = js_divergence(q, r).mean()
    reg = uniform_kl(q) + uniform_kl(r)
    assert parts["cluster"].item() == pytest.approx(cluster.item())
    assert parts["align"].item() == pytest.approx(align.item())
    # "all present" may be given as None
    loss2, _ = jecl_loss(p, [q, r], [None, None], beta=0.2, gamma=0.3)
    assert loss2.item() == pytest.approx(loss.item())
    assert loss.item() == pytest.approx((cluster + 0.3 * align + 0.2 * reg).item())


def test_a_missing_caption_contributes_no_text_gradient() -> None:
    torch.manual_seed(0)
    enc_img, enc_txt = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)
    mu_img, mu_txt = torch.randn(2, 2), torch.randn(2, 2)
    x_img, x_txt = torch.randn(4, 3), torch.randn(4, 4)
    p = torch.softmax(torch.randn(4, 2), 1)
    from mmclust.nn.clustering import soft_assign

    def text_grad(has_text: torch.Tensor, x_txt: torch.Tensor) -> torch.Tensor:
        enc_txt.zero_grad()
        present = [torch.ones(4, dtype=torch.bool), has_text]
        qs = [soft_assign(enc_img(x_img), mu_img), soft_assign(enc_txt(x_txt[has_text]), mu_txt)]
        loss, _ = jecl_loss(p, qs, present, beta=0.1, gamma=0.1)
        loss.backward()
        return enc_txt.weight.grad.clone() if enc_txt.weight.grad is not None else torch.zeros(2, 4)

    none = torch.zeros(4, dtype=torch.bool)
    assert torch.count_nonzero(text_grad(none, x_txt)) == 0
    some = torch.tensor([True, False, True, False])
    g1 = text_grad(some, x_txt)
    garbage = x_txt.clone()
    garbage[~some] = 1e6  # values of the missing captions never matter
    assert torch.equal(g1, text_grad(some, garbage))
    assert torch.count_nonzero(g1) > 0


# -- the estimator -------------------------------------------------------------------------


def _two_view_blobs(n_per: int = 60, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    k = 3
    y = np.repeat(np.arange(k), n_per)
    ca, cb = rng.normal(0, 6, (k, 8)), rng.normal(0, 6, (k, 5))
    a = ca[y] + rng.normal(0, 1, (y.size, 8))
    b = cb[y] + rng.normal(0, 1, (y.size, 5))
    return [a.astype(np.float32), b.astype(np.float32)], y


PRETRAIN = {"hidden_dims": [16, 4], "epochs": 30, "batch_size": 32, "noise": 0.0}


def _jecl(**kw) -> JECL:
    params = dict(n_clusters=3, max_epochs=15, batch_size=32, update_interval=5, n_init=3,
                  pretrain_params=PRETRAIN, verbose=False, device="cpu")  # fmt: skip
    params.update(kw)
    return JECL(**params)


def test_jecl_separates_two_view_blobs_and_is_deterministic() -> None:
    views, y = _two_view_blobs()
    a = _jecl(random_state=1).fit(views)
    assert adjusted_rand_score(y, a.labels_) > 0.9
    assert a.embedding_.shape == (y.size, 8)
    assert np.allclose(a.target_.sum(1), 1.0, atol=1e-5)
    b = _jecl(random_state=1).fit(views)
    assert np.array_equal(a.labels_, b.labels_)
    assert np.array_equal(a.predict(views), a.labels_)


def test_jecl_never_reads_masked_rows() -> None:
    views, y = _two_view_blobs()
    rng = np.random.default_rng(3)
    has_text = rng.random(y.size) > 0.4
    text = views[1].copy()
    text[~has_text] = np.nan
    model = _jecl(random_state=0).fit([views[0], text], masks=[np.ones(y.size, bool), has_text])
    assert np.isfinite(model.embedding_).all() and np.isfinite(model.target_).all()
    assert adjusted_rand_score(y, model.labels_) > 0.9


def test_jecl_uses_given_autoencoders_and_checks_their_width() -> None:
    views, _ = _two_view_blobs(20)
    aes = [DenoisingAutoencoder(**PRETRAIN, verbose=False).fit(v) for v in views]
    _jecl(autoencoders=aes, max_epochs=1).fit(views)
    with pytest.raises(ValueError, match="trained on 5-d inputs"):
        _jecl(autoencoders=aes[::-1], max_epochs=1).fit(views)
    with pytest.raises(ValueError, match="exactly 2 views"):
        _jecl().fit(views[:1])
    with pytest.raises(ValueError, match="no view at all"):
        none = np.zeros(60, bool)
        _jecl().fit(views, masks=[none, none])


def test_jecl_stops_when_labels_stop_changing_and_records_it() -> None:
    views, y = _two_view_blobs()
    # 180 pairs in batches of 32: 6 iterations an epoch, a refresh every 3 (0.5 epoch)
    model = _jecl(random_state=0, update_interval=None, update_every_epochs=0.5, max_epochs=40).fit(
        views
    )
    record = model.convergence_
    assert record["converged"] is True and model.stopped_early_
    assert record["refresh_every_iterations"] == 3
    assert model.n_iter_ == record["iterations"] < 40 * 6
    deltas = [h["delta_label"] for h in model.history_]
    assert len(deltas) == record["refreshes"] and deltas[-1] < 0.001
    assert record["last_label_change"] == deltas[-1]
    # the mean loss terms between refreshes are recorded beside the label change
    assert {"cluster", "align", "reg"} <= set(model.history_[1])
    assert adjusted_rand_score(y, model.labels_) > 0.9
    capped = _jecl(random_state=0, max_epochs=1, tol=0.0).fit(views)
    assert capped.convergence_["converged"] is False and capped.convergence_["epochs"] == 1
