"""DKM, DCN and IMSAT: hand-checked losses and clustering of separable blobs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from mmclust.methods.deep.dcn import DCN, dcn_update_centroids
from mmclust.methods.deep.dkm import DKM, dkm_alphas, dkm_loss, dkm_weights
from mmclust.methods.deep.imsat import IMSAT, _FrozenBatchStats, _IMSATNet, imsat_entropies
from mmclust.nn import DenoisingAutoencoder

torch.set_num_threads(1)

AE_PARAMS = dict(hidden_dims=[16, 3], epochs=20, batch_size=32, device="cpu", verbose=False)
COMMON = dict(n_clusters=3, device="cpu", verbose=False)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=300, n_features=10, centers=3, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def autoencoder(blobs) -> DenoisingAutoencoder:
    return DenoisingAutoencoder(**AE_PARAMS).fit(blobs[0])


# -- DKM ---------------------------------------------------------------------------------


def test_dkm_softmin_weights_two_points():
    # 1-d: representatives 0 and 1, points 0 and 2 -> squared distances [[0, 1], [4, 1]]
    z = torch.tensor([[0.0], [2.0]])
    centers = torch.tensor([[0.0], [1.0]])
    e1, e3 = math.exp(-1.0), math.exp(-3.0)
    w = dkm_weights(torch.tensor([[0.0, 1.0], [4.0, 1.0]]), alpha=1.0)
    expected = torch.tensor([[1 / (1 + e1), e1 / (1 + e1)], [e3 / (1 + e3), 1 / (1 + e3)]])
    torch.testing.assert_close(w, expected)
    loss = dkm_loss(z, centers, alpha=1.0)
    by_hand = (1.0 * e1 / (1 + e1) + (4.0 * e3 + 1.0) / (1 + e3)) / 2
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    # alpha -> infinity: the hard k-means loss (mean distance to the nearest representative)
    assert dkm_loss(z, centers, alpha=1e4).item() == pytest.approx(0.5, abs=1e-6)
    # alpha = 0: plain mean of the distances
    assert dkm_loss(z, centers, alpha=0.0).item() == pytest.approx((0 + 1 + 4 + 1) / 4)


def test_dkm_annealing_schedule():
    alphas = dkm_alphas()
    assert len(alphas) == 40 and alphas[0] == 0.1
    assert alphas[1] == pytest.approx(0.1 * 2 ** (1 / math.log(2) ** 2))
    assert alphas[2] == pytest.approx(alphas[1] * 2 ** (1 / math.log(3) ** 2))
    assert all(b > a for a, b in itertools.pairwise(alphas))


# -- DCN ---------------------------------------------------------------------------------


def sequential_update(centers, counts, z, labels):
    """DCN's update as the paper writes it: one sample at a time, step 1 / count."""
    centers, counts = centers.clone(), counts.clone()
    for zi, k in zip(z, labels.tolist(), strict=True):
        counts[k] += 1
        centers[k] = centers[k] - (1.0 / counts[k]) * (centers[k] - zi)
    return centers, counts


def test_dcn_incremental_update_equals_the_formula():
    # by hand: centre 0 with count 1, points 2 then 4 -> 1, then 2
    c, n = dcn_update_centroids(
        torch.tensor([[0.0], [5.0]]),
        torch.tensor([1.0, 7.0]),
        torch.tensor([[2.0], [4.0]]),
        torch.tensor([0, 0]),
    )
    torch.testing.assert_close(c, torch.tensor([[2.0], [5.0]]))
    torch.testing.assert_close(n, torch.tensor([3.0, 7.0]))

    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 3, generator=g, dtype=torch.float64)
    counts = torch.tensor([100.0, 3.0, 1.0, 50.0], dtype=torch.float64)
    z = torch.randn(40, 3, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (40,), generator=g)  # centroid 3 gets nothing
    fast = dcn_update_centroids(centers, counts, z, labels)
    slow = sequential_update(centers, counts, z, labels)
    torch.testing.assert_close(fast[0], slow[0])
    torch.testing.assert_close(fast[1], slow[1])
    torch.testing.assert_close(fast[0][3], centers[3])


# -- IMSAT -------------------------------------------------------------------------------


def test_imsat_mutual_information_terms():
    def terms(p):
        return [t.item() for t in imsat_entropies(torch.log(torch.tensor(p)))]

    ln2 = math.log(2)
    h_y, h_yx = terms([[0.5, 0.5], [0.5, 0.5]])
    assert h_y == pytest.approx(ln2) and h_yx == pytest.approx(ln2)  # I = 0
    h_y, h_yx = terms([[0.9, 0.1], [0.1, 0.9]])
    assert h_y == pytest.approx(ln2, abs=1e-6)
    assert h_yx == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))
    h_y, h_yx = terms([[0.9, 0.1], [0.9, 0.1]])
    assert h_y == pytest.approx(h_yx, abs=1e-6)  # identical predictions: no information
    h_y, h_yx = terms([[1 - 1e-7, 1e-7], [1e-7, 1 - 1e-7]])
    assert h_y - h_yx == pytest.approx(ln2, abs=1e-5)  # confident and balanced: I = ln 2


def test_imsat_epsilon_is_the_scaled_tenth_neighbour_distance(blobs):
    X = blobs[0][:50]
    eps = IMSAT(eps_scale=0.25, n_neighbors=10)._epsilon(X)
    d = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    tenth = np.sort(d, axis=1)[:, 10]  # column 0 is the point itself
    np.testing.assert_allclose(eps, 0.25 * tenth, rtol=1e-5)


def test_imsat_perturbed_passes_leave_batchnorm_statistics_alone():
    torch.manual_seed(0)
    net = _IMSATNet([5, 8, 3], (0.1, 1e-4)).train()
    before = [b.clone() for b in net.buffers()]
    with _FrozenBatchStats(net):
        net(torch.randn(16, 5))
    for a, b in zip(before, net.buffers(), strict=True):
        if a.dtype.is_floating_point:
            torch.testing.assert_close(a, b)
    net(torch.randn(16, 5))
    assert not torch.equal(before[0], next(iter(net.buffers())))


# -- clustering blobs --------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted(blobs, autoencoder):
    X = blobs[0]
    return {
        "DKM": DKM(
            **COMMON,
            n_alphas=5,
            epochs_per_alpha=1,
            batch_size=32,
            n_init=5,
            autoencoder=autoencoder,
        ).fit(X),
        "DCN": DCN(**COMMON, epochs=5, batch_size=32, n_init=5, autoencoder=autoencoder).fit(X),
        "IMSAT": IMSAT(**COMMON, hidden_dims=[32, 32], epochs=30, batch_size=50).fit(X),
    }


@pytest.mark.parametrize("name", ["DKM", "DCN", "IMSAT"])
def test_estimators_cluster_blobs(fitted, blobs, name):
    X, y = blobs
    model = fitted[name]
    assert model.labels_.shape == (300,)
    assert adjusted_rand_score(y, model.labels_) > 0.9
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert model.embedding_.shape[0] == 300
    assert model.history_ and all(np.isfinite(v) for v in model.history_[-1].values())


@pytest.mark.parametrize("name", ["DKM", "DCN", "IMSAT"])
def test_estimators_are_deterministic(fitted, blobs, name):
    model = fitted[name]
    # not sklearn.clone: it would replace the fitted autoencoder by an unfitted copy
    again = type(model)(**model.get_params(deep=False)).fit(blobs[0])
    np.testing.assert_array_equal(again.labels_, model.labels_)
    np.testing.assert_array_equal(again.embedding_, model.embedding_)


def test_dkm_and_dcn_leave_the_shared_autoencoder_untouched(blobs, autoencoder):
    before = [p.detach().clone() for p in autoencoder.module_.parameters()]
    DCN(**COMMON, epochs=1, n_init=1, autoencoder=autoencoder).fit(blobs[0])
    DKM(**COMMON, n_alphas=1, epochs_per_alpha=1, n_init=1, autoencoder=autoencoder).fit(blobs[0])
    for a, b in zip(before, autoencoder.module_.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_pretrains_its_own_autoencoder_when_none_is_given(blobs):
    X, y = blobs
    model = DCN(**COMMON, epochs=2, batch_size=32, n_init=5, pretrain_params=AE_PARAMS).fit(X)
    assert model.embedding_.shape == (300, 3)
    assert adjusted_rand_score(y, model.labels_) > 0.9
    dkm = DKM(
        **COMMON, alphas=[1000.0], epochs_per_alpha=1, n_init=5, pretrain_params=AE_PARAMS
    ).fit(X)
    assert [h["alpha"] for h in dkm.history_] == [1000.0]
