"""Every multi-view baseline of the JECL table on a small two-view blob problem.

Settings are shrunk so that each fit takes well under a second; the
parameters that differ from the defaults are stated per method.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from mmclust.methods.base import MultiViewMixin
from mmclust.methods.deep.ccal import CCAL
from mmclust.methods.deep.dcca import DCCA
from mmclust.methods.deep.vse import VSE
from mmclust.methods.multiview.bmvc import BMVC
from mmclust.methods.multiview.daimc import DAIMC
from mmclust.methods.multiview.dmf_mvc import DMFMVC
from mmclust.methods.multiview.lrssc import MultiViewLRSSC
from mmclust.methods.multiview.pic import PIC

torch.set_num_threads(1)

K = 3
TORCH = dict(device="cpu", kmeans_n_init=5)
CONFIGS = {
    "vse": (VSE, dict(embed_dim=16, max_epochs=20, batch_size=30, lr=1e-2, **TORCH)),
    "dcca": (DCCA, dict(hidden_dims=(16,), out_dim=4, max_iter=20, **TORCH)),
    "ccal": (CCAL, dict(hidden_dims=(16,), out_dim=4, batch_size=45, max_epochs=20, **TORCH)),
    # blobs are not linear subspaces: the noise-free self-expression X = XC must also
    # represent the isotropic noise, so the blob problem uses the paper's noisy variant
    "mlrssc": (MultiViewLRSSC, dict(noisy=True, **TORCH)),
    "dmf-mvc": (DMFMVC, dict(layers=(8, 3), pretrain_iter=30, max_iter=30, kmeans_n_init=5)),
    "pic": (PIC, dict(kmeans_n_init=5)),
    "daimc": (DAIMC, dict(kmeans_n_init=5)),
}


def blobs(seed: int = 0, n: int = 90, k: int = K) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n // k)
    views = [
        (rng.normal(0, 4, (k, d))[y] + rng.normal(size=(n, d))).astype(np.float32) for d in (20, 15)
    ]
    return views, y


def make(name: str, **extra: object):
    cls, params = CONFIGS[name]
    return cls(n_clusters=K, verbose=False, random_state=0, **{**params, **extra})


@pytest.fixture(scope="module")
def data() -> tuple[list[np.ndarray], np.ndarray]:
    return blobs()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_separates_two_view_blobs(name, data):
    views, y = data
    model = make(name).fit(views)
    assert isinstance(model, MultiViewMixin)
    assert model.labels_.shape == (90,)
    assert model.embedding_.shape[0] == 90 and model.embedding_.dtype == np.float32
    assert adjusted_rand_score(y, model.labels_) > 0.9


@pytest.mark.parametrize("name", list(CONFIGS))
def test_deterministic_for_a_seed(name, data):
    views, _ = data
    a, b = make(name).fit(views), make(name).fit(views)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)


# the rescaled ridge of the config's bmvc-relative entry (see the bmvc module docstring)
RELATIVE = dict(beta=10.0, beta_scale="relative", reseed=True)


@pytest.mark.parametrize("n_bits", [16, 32, 64])
@pytest.mark.parametrize("seed", [0, 1])
def test_bmvc_separates_blobs_with_realistic_code_lengths(n_bits, seed):
    """BMVC with exact balance and the relative ridge: four blobs, codes far longer than 2 bits."""
    views, y = blobs(seed=seed, n=120, k=4)
    model = BMVC(
        n_clusters=4, n_bits=n_bits, n_anchors=40, random_state=seed, verbose=False, **RELATIVE
    )
    model.fit(views)
    assert adjusted_rand_score(y, model.labels_) > 0.95


@pytest.mark.parametrize("n_bits", [16, 32])
def test_bmvc_relaxed_solver_separates_three_blobs(n_bits):
    """Three equal blobs cannot be halved: the relaxed (sign) solver does not force B 1 = 0."""
    views, y = blobs(seed=2, n=90, k=3)
    model = BMVC(
        n_clusters=3, n_bits=n_bits, n_anchors=30, balance="sign", verbose=False, **RELATIVE
    )
    model.fit(views)
    assert adjusted_rand_score(y, model.labels_) > 0.95


def test_bmvc_separates_two_blobs_with_a_one_bit_code():
    """The shortest code: one bit, two clusters, relaxed (sign) solver."""
    views, y = blobs(seed=1, n=80, k=2)
    model = BMVC(n_clusters=2, n_bits=1, n_anchors=40, balance="sign", verbose=False)
    model.fit(views)
    assert adjusted_rand_score(y, model.labels_) > 0.9
    again = BMVC(n_clusters=2, n_bits=1, n_anchors=40, balance="sign", verbose=False).fit(views)
    np.testing.assert_array_equal(again.labels_, model.labels_)


def test_bmvc_demo_ridge_barely_moves_the_initial_codes(data):
    """The demo's absolute beta = 0.003 leaves B near its initialisation (module docstring)."""
    views, y = data
    params = dict(n_clusters=K, n_bits=32, n_anchors=40, balance="sign", verbose=False)
    init = BMVC(**params, beta=0.003, beta_scale="absolute", max_iter=0).fit(views)
    demo = BMVC(**params, beta=0.003, beta_scale="absolute").fit(views)
    relative = BMVC(**params, **RELATIVE).fit(views)
    assert np.mean(demo.codes_ != init.codes_) < 0.1
    assert np.mean(relative.codes_ != init.codes_) > 0.25
    assert adjusted_rand_score(y, demo.labels_) < 0.5
    assert adjusted_rand_score(y, relative.labels_) > 0.95


def test_bmvc_is_deterministic(data):
    views, _ = data
    a = BMVC(n_clusters=K, n_bits=8, n_anchors=30, verbose=False).fit(views)
    b = BMVC(n_clusters=K, n_bits=8, n_anchors=30, verbose=False).fit(views)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.codes_, b.codes_)


def drop(views: list[np.ndarray], seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    n = views[0].shape[0]
    m1 = rng.random(n) > 0.25
    masks = [np.ones(n, dtype=bool), m1]
    out = [views[0].copy(), views[1].copy()]
    out[1][~m1] = np.nan
    return out, masks


@pytest.mark.parametrize("name", ["vse", "dcca", "ccal", "pic", "daimc"])
def test_methods_with_missing_views_never_read_masked_rows(name, data):
    views, y = data
    nan_views, masks = drop(views)
    model = make(name).fit(nan_views, masks=masks)
    assert np.isfinite(model.embedding_).all()
    assert adjusted_rand_score(y, model.labels_) > 0.9


@pytest.mark.parametrize("name", ["mlrssc", "dmf-mvc"])
def test_complete_view_methods_refuse_missing_views(name, data):
    views, _ = data
    nan_views, masks = drop(views)
    with pytest.raises(ValueError, match="PIC or DAIMC"):
        make(name).fit(nan_views, masks=masks)
    with pytest.raises(ValueError, match="PIC or DAIMC"):
        BMVC(n_clusters=K, verbose=False).fit(nan_views, masks=masks)


def test_two_view_methods_check_the_number_of_views(data):
    views, _ = data
    with pytest.raises(ValueError, match="exactly 2 views"):
        make("dcca").fit([*views, views[0]])
