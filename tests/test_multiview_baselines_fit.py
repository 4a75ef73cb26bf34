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
from mmclust.methods.bmvc import BMVC
from mmclust.methods.ccal import CCAL
from mmclust.methods.daimc import DAIMC
from mmclust.methods.dcca import DCCA
from mmclust.methods.dmf_mvc import DMFMVC
from mmclust.methods.lrssc import MultiViewLRSSC
from mmclust.methods.pic import PIC
from mmclust.methods.vse import VSE

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


def test_bmvc_separates_two_blobs_with_a_one_bit_code():
    """BMVC weighs every bit alike; on blobs only the first principal bit carries the clusters.

    With long codes the within-cluster bits dominate the Hamming distances (see the
    module docstring), so the blob check uses one bit, two clusters and the relaxed
    (sign) solver, whose centroids need not be balanced.
    """
    views, y = blobs(seed=1, n=80, k=2)
    model = BMVC(n_clusters=2, n_bits=1, n_anchors=40, balance="sign", verbose=False)
    model.fit(views)
    assert adjusted_rand_score(y, model.labels_) > 0.9
    again = BMVC(n_clusters=2, n_bits=1, n_anchors=40, balance="sign", verbose=False).fit(views)
    np.testing.assert_array_equal(again.labels_, model.labels_)


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
