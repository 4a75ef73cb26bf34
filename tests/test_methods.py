"""DEC, IDEC and the k-means baseline on small separable blobs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs

from mmclust.methods import DEC, IDEC, JECL, MULTIVIEW, PRETRAINED, KMeansBaseline, load, registry
from mmclust.metrics import accuracy
from mmclust.nn import DenoisingAutoencoder
from mmclust.nn.clustering import RefreshSchedule, refresh_interval

torch.set_num_threads(1)

AE_PARAMS = dict(hidden_dims=[16, 3], epochs=20, batch_size=32, device="cpu", verbose=False)
FIT_PARAMS = dict(
    n_clusters=3,
    max_epochs=5,
    update_interval=10,
    batch_size=32,
    n_init=5,
    device="cpu",
    verbose=False,
)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=300, n_features=10, centers=3, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def autoencoder(blobs) -> DenoisingAutoencoder:
    return DenoisingAutoencoder(**AE_PARAMS).fit(blobs[0])


@pytest.fixture(scope="module", params=[DEC, IDEC], ids=["DEC", "IDEC"])
def fitted_pair(request, blobs, autoencoder):
    """Two fits of the same method with the same seed."""
    cls = request.param
    X = blobs[0]
    a = cls(**FIT_PARAMS, autoencoder=autoencoder, random_state=1).fit(X)
    b = cls(**FIT_PARAMS, autoencoder=autoencoder, random_state=1).fit(X)
    return cls, a, b


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# -- DEC / IDEC ---------------------------------------------------------------------


def test_deep_methods_cluster_blobs(fitted_pair, blobs):
    _, model, _ = fitted_pair
    y = blobs[1]
    assert model.labels_.shape == (300,)
    assert accuracy(y, model.labels_) >= 0.9
    assert model.embedding_.shape == (300, 3)
    assert model.cluster_centers_.shape == (3, 3)
    assert model.n_iter_ > 0
    assert model.history_ and model.history_[0]["iteration"] == 0


def test_deep_methods_are_deterministic(fitted_pair):
    _, a, b = fitted_pair
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.n_iter_ == b.n_iter_


def test_dec_idec_and_jecl_step_with_fused_optimisers(blobs, autoencoder, monkeypatch):
    """Their loops build Adam/SGD with mmclust.nn.utils.make_optimizer: fused on the CPU."""
    import mmclust.methods.deep.dec as dec_module
    import mmclust.methods.jecl as jecl_module
    from mmclust.nn.utils import make_optimizer

    built: list[torch.optim.Optimizer] = []

    def spy(*args, **kwargs):
        built.append(make_optimizer(*args, **kwargs))
        return built[-1]

    for module in (dec_module, jecl_module):
        monkeypatch.setattr(module, "make_optimizer", spy)
    X = blobs[0]
    quick = {**FIT_PARAMS, "max_epochs": 1, "n_init": 1}
    DEC(**quick, autoencoder=autoencoder).fit(X)  # SGD with momentum by default
    IDEC(**quick, autoencoder=autoencoder).fit(X)  # Adam by default
    pretrain = {"hidden_dims": [8, 3], "epochs": 1, "batch_size": 32}
    JECL(**quick, pretrain_params=pretrain).fit([X[:, :5], X[:, 5:]])
    assert [type(o).__name__ for o in built] == ["SGD", "Adam", "SGD"]
    assert all(opt.defaults["fused"] for opt in built)


def test_predict_on_training_data_matches_labels(fitted_pair, blobs):
    _, model, _ = fitted_pair
    X = blobs[0]
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    proba = model.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.transform(X), model.embedding_)


def test_idec_trains_the_decoder_and_dec_does_not(blobs, autoencoder):
    X = blobs[0]
    before = _state(autoencoder.module_)
    dec = DEC(**FIT_PARAMS, autoencoder=autoencoder).fit(X)
    idec = IDEC(**FIT_PARAMS, autoencoder=autoencoder).fit(X)

    # the fitted autoencoder passed in is copied, never modified
    for k, v in _state(autoencoder.module_).items():
        assert torch.equal(v, before[k]), k

    dec_state, idec_state = _state(dec.module_), _state(idec.module_)
    decoder_keys = [k for k in before if k.startswith("decoder.")]
    encoder_keys = [k for k in before if k.startswith("encoder.")]
    assert decoder_keys and encoder_keys
    for k in decoder_keys:
        assert torch.equal(dec_state[k], before[k]), f"DEC changed {k}"
    assert any(not torch.equal(idec_state[k], before[k]) for k in decoder_keys)
    # both fine-tune the encoder
    assert any(not torch.equal(dec_state[k], before[k]) for k in encoder_keys)
    assert any(not torch.equal(idec_state[k], before[k]) for k in encoder_keys)


def test_dec_pretrains_its_own_autoencoder(blobs):
    X, y = blobs
    pretrain = {k: v for k, v in AE_PARAMS.items() if k not in ("device", "verbose")}
    a = DEC(**FIT_PARAMS, pretrain_params=pretrain, random_state=2).fit(X)
    b = DEC(**FIT_PARAMS, pretrain_params=pretrain, random_state=2).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    assert a.embedding_.shape == (300, 3)
    assert accuracy(y, a.labels_) >= 0.9
    assert a.autoencoder is None  # fit does not write to a parameter


@pytest.mark.parametrize("cls", [DEC, IDEC, KMeansBaseline])
def test_init_stores_parameters_unchanged_and_clone_works(cls):
    params = dict(n_clusters=4, random_state=7)
    if cls is not KMeansBaseline:
        pretrain = {"hidden_dims": [16, 3], "epochs": 2}
        params.update(lr=0.123, update_interval=7, pretrain_params=pretrain, device="cpu")
    if cls is IDEC:
        params["gamma"] = 0.5
    est = cls(**params)
    got = est.get_params(deep=False)
    for k, v in params.items():
        assert got[k] is v, k
    assert set(got) == set(cls().get_params(deep=False))

    twin = clone(est)
    assert type(twin) is cls
    assert twin.get_params(deep=False) == got
    if cls is not KMeansBaseline:
        # clone copies the dict parameter instead of sharing it
        assert twin.pretrain_params == pretrain and twin.pretrain_params is not pretrain


def test_clone_with_an_autoencoder_parameter(autoencoder):
    est = DEC(n_clusters=3, autoencoder=autoencoder)
    assert est.get_params(deep=False)["autoencoder"] is autoencoder
    assert est.get_params(deep=True)["autoencoder__hidden_dims"] == [16, 3]
    twin = clone(est)
    assert isinstance(twin.autoencoder, DenoisingAutoencoder)
    assert twin.autoencoder.get_params() == autoencoder.get_params()


def test_method_defaults_follow_the_papers():
    assert DEC().optimizer == "sgd" and DEC().lr == 0.01
    assert IDEC().optimizer == "adam" and IDEC().lr == 0.001 and IDEC().gamma == 0.1


def test_registry():
    assert load("kmeans") is KMeansBaseline and load("dec") is DEC and load("jecl") is JECL
    assert {"dec", "idec", "jecl"} <= PRETRAINED and "jecl" in MULTIVIEW
    assert PRETRAINED <= set(registry.ESTIMATORS) and MULTIVIEW <= set(registry.ESTIMATORS)


@pytest.mark.parametrize("name", sorted(registry.ESTIMATORS))
def test_registry_reads_every_signature_as_the_class_has_it(name):
    cls = load(name)
    assert registry.parameters(name) == cls().get_params()
    assert getattr(cls, "multiview", False) == (name in MULTIVIEW)


def test_registry_rejects_bad_method_entries():
    registry.check_params("dec", {"estimator": "dec", "lr": 0.1, "max_epochs": 3}, "methods.d")
    with pytest.raises(registry.MethodConfigError, match=r"methods\.d\.lrate: .*no parameter"):
        registry.check_params("dec", {"lrate": 0.1}, "methods.d")
    with pytest.raises(registry.MethodConfigError, match=r"methods\.d\.lr: 'fast'"):
        registry.check_params("dec", {"lr": "fast"}, "methods.d")
    with pytest.raises(registry.MethodConfigError, match="set by the workflow"):
        registry.check_params("dec", {"random_state": 3}, "methods.d")
    with pytest.raises(registry.MethodConfigError, match="top-level key 'precision'"):
        registry.check_params("dm2c", {"precision": "bf16"}, "methods.d")
    with pytest.raises(registry.MethodConfigError, match="unknown estimator 'sec'"):
        registry.check_params("sec", {}, "methods.d")


# -- k-means baseline ------------------------------------------------------------------


def test_kmeans_baseline(blobs):
    X, y = blobs
    a = KMeansBaseline(n_clusters=3, n_init=3, random_state=0).fit(X)
    b = KMeansBaseline(n_clusters=3, n_init=3, random_state=0).fit(X)
    assert a.labels_.shape == (300,)
    assert accuracy(y, a.labels_) >= 0.9
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == b.inertia_ and isinstance(a.inertia_, float)
    np.testing.assert_array_equal(a.predict(X), a.labels_)
    assert a.embedding_.dtype == np.float32
    np.testing.assert_array_equal(a.embedding_, X)
    assert a.cluster_centers_.shape == (3, 10)


# -- the target refresh schedule and the stopping rule (DEC, IDEC, JECL) ---------------


def test_refresh_interval_by_hand():
    # DEC's 140 iterations of 256 on the 70 000 MNIST digits: 140 * 256 / 70 000 = 0.512 epoch
    assert refresh_interval(70_000, 256) == 140  # 0.512 * 273.4375 = 140.0
    assert refresh_interval(2_000, 256) == 4  # 0.512 * 7.8125 = 4.0
    assert refresh_interval(5_000, 256) == 10  # 0.512 * 19.53 = 10.0
    assert refresh_interval(2_000, 256, update_every_epochs=1.0) == 8  # 7.8125 -> 8
    assert refresh_interval(2_000, 256, update_every_epochs=0.064) == 1  # 0.5 rounds up
    assert refresh_interval(100, 256) == 1  # never below one iteration
    # the old meaning: a fixed number of iterations, whatever the data size
    assert refresh_interval(2_000, 256, update_interval=140) == 140
    with pytest.raises(ValueError, match="update_every_epochs must be positive"):
        refresh_interval(2_000, 256, update_every_epochs=0.0)
    with pytest.raises(ValueError, match="update_interval must be at least 1"):
        refresh_interval(2_000, 256, update_interval=0)


def test_refresh_schedule_records_every_label_change_and_stops_below_tol():
    s = RefreshSchedule(n=1000, batch_size=100, tol=0.01, max_epochs=3)
    assert s.every == 5 and s.iterations_per_epoch == 10
    assert [s.due(i) for i in range(7)] == [True, False, False, False, False, True, False]
    labels = np.zeros(1000, int)
    assert not s.record(0, labels)  # the first refresh has no predecessor
    labels[:50] = 1
    assert not s.record(5, labels, loss=0.5)  # 5 % changed
    labels[:5] = 0
    assert s.record(10, labels)  # 0.5 % < 1 %
    assert [h["delta_label"] for h in s.history] == [1.0, 0.05, 0.005]
    assert [h["epoch"] for h in s.history] == [0.0, 0.5, 1.0]
    assert s.history[1]["loss"] == 0.5
    record = s.convergence(10)
    assert record["converged"] is True and record["refreshes"] == 3
    assert record["last_label_change"] == 0.005 and record["epochs"] == 1.0
    assert record["iterations"] == 10 and record["refresh_every_iterations"] == 5
    assert "1 % of the labels" in record["rule"] and "every 5 iterations" in record["rule"]
    json.dumps(record)  # written to fit.json as it is


def _easy_blobs() -> np.ndarray:
    X, _ = make_blobs(n_samples=400, n_features=6, centers=3, cluster_std=0.3, random_state=3)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_dec_stops_when_labels_stop_changing(cls):
    X = _easy_blobs()
    ae = DenoisingAutoencoder(**AE_PARAMS).fit(X)
    params = dict(FIT_PARAMS, update_interval=None, update_every_epochs=0.5, max_epochs=30)
    model = cls(**params, autoencoder=ae, random_state=0).fit(X)
    # 400 samples in batches of 32: 13 iterations an epoch, a refresh every 6
    record = model.convergence_
    assert record["converged"] is True and model.stopped_early_
    assert record["refresh_every_iterations"] == 6
    assert model.n_iter_ < 30 * 13 and record["epochs"] < 30
    assert model.n_iter_ == model.history_[-1]["iteration"] == record["iterations"]
    assert model.history_[-1]["delta_label"] < model.tol == 0.001
    assert len(model.history_) == record["refreshes"] >= 2
    # without a tolerance it runs to the epoch limit and says so
    late = cls(**dict(params, max_epochs=2, tol=0.0), autoencoder=ae, random_state=0).fit(X)
    assert late.convergence_["converged"] is False and late.convergence_["epochs"] == 2
    assert late.n_iter_ == 2 * 13
