"""The DEC family's fine-tuning scaffold (methods/deep/finetune.py) under DEC, IDEC, DKM, DCN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from mmclust.methods.deep.dcn import DCN
from mmclust.methods.deep.dec import DEC, IDEC
from mmclust.methods.deep.dkm import DKM
from mmclust.methods.deep.finetune import (
    FineTuning,
    kmeans_on_codes,
    squared_distances,
)
from mmclust.nn import DenoisingAutoencoder

torch.set_num_threads(1)

K = 3
COMMON = dict(n_clusters=K, n_init=3, random_state=4, device="cpu", verbose=False)
# each method with no training step, and with a few
UNTRAINED = {DEC: dict(max_epochs=0), IDEC: dict(max_epochs=0), DKM: dict(alphas=[]),
             DCN: dict(epochs=0)}  # fmt: skip
TRAINED = {DEC: dict(max_epochs=3, tol=0.0), IDEC: dict(max_epochs=3, tol=0.0),
           DKM: dict(alphas=[1.0, 10.0], epochs_per_alpha=1), DCN: dict(epochs=3)}  # fmt: skip


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    X, _ = make_blobs(n_samples=240, n_features=8, centers=K, random_state=1)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


@pytest.fixture(scope="module")
def autoencoder(data) -> DenoisingAutoencoder:
    params = dict(hidden_dims=[12, 2], epochs=5, batch_size=32, device="cpu", verbose=False)
    return DenoisingAutoencoder(**params).fit(data)


def _state(ae: DenoisingAutoencoder) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in ae.module_.state_dict().items()}


def test_squared_distances_by_hand():
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    c = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    torch.testing.assert_close(squared_distances(z, c), torch.tensor([[0.0, 9.0], [25.0, 16.0]]))


def test_kmeans_on_codes_is_kmeans_on_the_encoder_output(data, autoencoder):
    X = torch.from_numpy(data)
    km = kmeans_on_codes(autoencoder.module_.encoder, X, K, 3, 4)
    ref = KMeans(K, n_init=3, random_state=4).fit(autoencoder.transform(data))
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-6)
    assert (km.labels_ == ref.labels_).all()


@pytest.mark.parametrize("cls", list(UNTRAINED))
def test_centres_start_at_kmeans_on_the_pretrained_codes(cls, data, autoencoder):
    # with no training step, the fitted state is the scaffold's start: the codes of the
    # pretrained encoder and k-means' centres on them (and its labels: nearest centres)
    model = cls(**COMMON, **UNTRAINED[cls], autoencoder=autoencoder).fit(data)
    assert isinstance(model, FineTuning)
    codes = autoencoder.transform(data)
    km = KMeans(K, n_init=3, random_state=4).fit(codes)
    assert model.n_iter_ == 0
    np.testing.assert_allclose(model.embedding_, codes, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.cluster_centers_, km.cluster_centers_, rtol=1e-5, atol=1e-5)
    assert model.cluster_centers_.dtype == np.float32
    assert (model.labels_ == km.predict(codes)).mean() > 0.99


@pytest.mark.parametrize("cls", list(TRAINED))
def test_finetuning_trains_a_private_copy(cls, data, autoencoder):
    before = _state(autoencoder)
    codes_before = autoencoder.transform(data)
    model = cls(**COMMON, **TRAINED[cls], autoencoder=autoencoder).fit(data)
    # the caller's pretrained autoencoder is untouched ...
    after = autoencoder.module_.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert np.array_equal(autoencoder.transform(data), codes_before)
    # ... while the estimator's copy was trained
    assert model.module_ is not autoencoder.module_
    assert model.n_iter_ > 0
    assert not np.allclose(model.embedding_, codes_before)
    assert not model.module_.training  # left in evaluation mode


@pytest.mark.parametrize("cls", list(TRAINED))
def test_predict_and_transform_on_the_training_data(cls, data, autoencoder):
    model = cls(**COMMON, **TRAINED[cls], autoencoder=autoencoder).fit(data)
    assert model.labels_.shape == (len(data),)
    assert set(np.unique(model.labels_)) <= set(range(K))
    assert np.array_equal(model.predict(data), model.labels_)
    assert np.array_equal(model.transform(data), model.embedding_)
    assert model.cluster_centers_.shape == (K, model.embedding_.shape[1])
    # the same seed gives the same run
    again = cls(**COMMON, **TRAINED[cls], autoencoder=autoencoder).fit(data)
    assert np.array_equal(again.labels_, model.labels_)
    assert np.array_equal(again.embedding_, model.embedding_)
    assert np.array_equal(again.cluster_centers_, model.cluster_centers_)


def test_dkm_and_dcn_label_by_nearest_centre_dec_by_soft_assignment(data, autoencoder):
    for cls in (DKM, DCN):
        model = cls(**COMMON, **TRAINED[cls], autoencoder=autoencoder).fit(data)
        d2 = ((model.embedding_[:, None, :] - model.cluster_centers_[None]) ** 2).sum(2)
        assert (d2.argmin(1) == model.labels_).mean() > 0.99
    dec = DEC(**COMMON, **TRAINED[DEC], autoencoder=autoencoder).fit(data)
    assert np.array_equal(dec.predict_proba(data).argmax(1), dec.labels_)


def test_pretrains_its_own_autoencoder_when_none_is_given(data):
    pre = dict(hidden_dims=[12, 2], epochs=2, batch_size=32)
    model = DKM(**COMMON, alphas=[1.0], epochs_per_alpha=1, pretrain_params=pre).fit(data)
    assert model.embedding_.shape == (len(data), 2)
    assert np.array_equal(model.predict(data), model.labels_)
