"""The shared numerical primitives (mmclust.cluster) and the labels of the methods using them."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits

from mmclust.cluster.graph import (
    gaussian_knn_graph,
    heat_weights,
    knn,
    knn_matrix,
    laplacian,
    mean_sq_sigma2,
    nn_components,
    row_normalize,
    symmetrize,
)
from mmclust.cluster.nmf import multiplicative_update, neg, pos, semi_nmf_update
from mmclust.cluster.spectral import (
    LOOSE,
    anchor_embedding,
    normalized_affinity,
    row_unit,
    spectral_embedding,
    top_eigenpairs,
)
from mmclust.methods.registry import load

torch.set_num_threads(1)

# -- kNN search and graphs -------------------------------------------------------------------

LINE = np.array([[0.0], [1.0], [3.0], [7.0], [12.0]])


def test_knn_on_a_line_by_hand():
    idx, dist = knn(LINE, 2)
    np.testing.assert_array_equal(idx, [[1, 2], [0, 2], [1, 0], [2, 4], [3, 2]])
    np.testing.assert_array_equal(dist, [[1, 3], [1, 2], [2, 3], [4, 5], [5, 9]])
    _, d2 = knn(LINE, 2, squared=True)
    np.testing.assert_array_equal(d2, dist**2)
    bidx, bd2 = knn(LINE.astype(np.float32), 2, method="blocked", squared=True, device="cpu")
    np.testing.assert_array_equal(bidx, idx)
    np.testing.assert_allclose(bd2, d2)
    with pytest.raises(ValueError, match="smaller than the number of samples"):
        knn(LINE, 5)
    with pytest.raises(ValueError, match="method='ball'"):
        knn(LINE, 2, method="ball")


def test_knn_exclude_rules_differ_only_on_duplicates():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    for exclude in ("self", "nearest"):
        idx, _ = knn(X, 4, exclude=exclude)
        assert not (idx == np.arange(40)[:, None]).any()
    X[7] = X[30]  # 7 and 30 are the same point
    idx_s, _ = knn(X, 4)
    idx_n, _ = knn(X, 4, exclude="nearest")
    others = np.delete(np.arange(40), [7, 30])
    np.testing.assert_array_equal(idx_n[others], idx_s[others])
    for i, j in ((7, 30), (30, 7)):
        assert j in idx_s[i] and i not in idx_s[i]  # the duplicate, never the point itself
        # "nearest" drops whichever of the two comes first: maybe j, leaving i (a self-loop)
        assert set(idx_n[i]) in ({*idx_s[i]}, ({*idx_s[i]} - {j}) | {i})
    with pytest.raises(ValueError, match="blocked search"):
        knn(X, 4, method="blocked", exclude="nearest", device="cpu")


def test_sigma_rule_and_heat_kernel_graphs_by_hand():
    idx, d2 = knn(LINE, 2, squared=True)
    assert mean_sq_sigma2(d2) == pytest.approx(np.mean([1, 9, 1, 4, 4, 9, 16, 25, 25, 81]))
    assert mean_sq_sigma2(d2, a=0.5) == pytest.approx(0.5 * mean_sq_sigma2(d2))
    assert mean_sq_sigma2(np.zeros((3, 2))) == 1.0
    W, s2 = gaussian_knn_graph(idx, d2)
    assert s2 == mean_sq_sigma2(d2)
    dense = W.toarray()
    assert dense[0, 1] == pytest.approx(np.exp(-1 / s2)) and dense[1, 0] == dense[0, 1]
    assert dense[0, 3] == 0 and dense[3, 0] == 0 and not np.diag(dense).any()
    assert dense[4, 2] == pytest.approx(np.exp(-81 / s2)) and dense[2, 4] == 0  # directed
    S, _ = gaussian_knn_graph(idx, d2, symmetric=True)
    np.testing.assert_array_equal(S.toarray(), np.maximum(dense, dense.T))
    # DMF-MVC's kernel: exp(-d^2 / (2 sigma^2)) with the denominator given
    H, den = gaussian_knn_graph(idx, d2, denominator=8.0)
    assert den == 8.0 and H.toarray()[0, 1] == pytest.approx(np.exp(-1 / 8))
    np.testing.assert_allclose(heat_weights(d2, 8.0), np.exp(-d2 / 8))


def test_safeguard_widens_sigma_until_no_row_is_empty():
    # 50 points in close pairs, one far pair: sigma^2 = 200.5 / 52, exp(-100 / sigma^2) ~ 6e-12
    idx = np.arange(52)[:, None] ^ 1
    d2 = np.where(np.arange(52) < 50, 0.01, 100.0)[:, None]
    assert np.exp(-100.0 / mean_sq_sigma2(d2)) < 1e-5
    W, s2 = gaussian_knn_graph(idx, d2, safeguard=True)
    assert s2 == pytest.approx(4 * 200.5 / 52)  # doubled twice
    assert np.exp(-100.0 / s2) >= 1e-5 and np.exp(-100.0 / (s2 / 2)) < 1e-5
    assert (np.asarray(W.sum(axis=1)).ravel() > 0).all()


def test_graph_helpers():
    W = knn_matrix(
        np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([[1, 2], [0, 2], [0, 1]])
    )
    np.testing.assert_array_equal(W.toarray(), [[0, 1, 2], [3, 0, 4], [5, 6, 0]])
    np.testing.assert_array_equal(symmetrize(W).toarray(), [[0, 3, 5], [3, 0, 6], [5, 6, 0]])
    np.testing.assert_allclose(row_normalize(W).sum(axis=1), 1.0)
    L = laplacian(symmetrize(W)).toarray()
    np.testing.assert_allclose(L.sum(axis=1), 0.0)
    assert (np.diag(L) == [8, 9, 11]).all()
    # 0 <-> 1 <- 2 and 3 <-> 4 <- 5 <- 6: the components of the 1-NN graph
    nn = np.array([[1, 5], [0, 5], [1, 5], [4, 0], [3, 0], [4, 0], [5, 0]])
    np.testing.assert_array_equal(nn_components(nn), [0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(
        nn_components(np.array([[1], [0], [4], [4], [3]])), [0, 0, 1, 1, 1]
    )


# -- spectral --------------------------------------------------------------------------------


def _graph(n: int = 300, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, 1.0, size=(n // 3, 4)) for c in (0.0, 2.0, 4.0)])
    idx, d2 = knn(X, 8, squared=True)
    return gaussian_knn_graph(idx, d2, symmetric=True)[0]


def test_normalized_affinity_dense_and_sparse_agree():
    W = _graph()
    M, deg = normalized_affinity(W)
    Md, degd = normalized_affinity(W.toarray())
    np.testing.assert_allclose(M.toarray(), Md, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(deg, degd)
    np.testing.assert_array_equal(Md, Md.T)
    np.testing.assert_allclose(M.toarray(), W.toarray() / np.sqrt(np.outer(deg, deg)))


@pytest.mark.parametrize("arpack", [None, LOOSE])
def test_top_eigenpairs_dense_and_arpack_agree(arpack):
    M, _ = normalized_affinity(_graph())
    vals, vecs = top_eigenpairs(M, 5, 0)  # dense
    kw = {} if arpack is None else {"arpack": arpack}
    avals, avecs = top_eigenpairs(M, 5, 0, dense_max=0, **kw)  # ARPACK
    np.testing.assert_allclose(avals, vals, atol=1e-7)
    assert (np.diff(vals) <= 0).all() and vals[0] == pytest.approx(1.0)
    # eigenvectors up to sign (the top eigenvalues are simple here)
    np.testing.assert_allclose(np.abs(np.sum(avecs * vecs, axis=0)), 1.0, atol=1e-6)


def test_spectral_embedding_matrix_free_path_matches_the_dense_one():
    W = _graph().toarray()
    emb, vals = spectral_embedding(W, 3, 0)  # n = 300 <= 500: LAPACK
    emb2, vals2 = spectral_embedding(W, 3, 0, dense_max=100)  # ARPACK on the operator
    np.testing.assert_allclose(vals2, vals, atol=1e-8)
    np.testing.assert_allclose(np.abs(emb2 @ emb2.T), np.abs(emb @ emb.T), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0)
    np.testing.assert_array_equal(row_unit(np.zeros((2, 2))), 0.0)


def test_anchor_embedding_is_the_svd_of_the_scaled_anchor_matrix():
    rng = np.random.default_rng(1)
    Z = rng.random((50, 8)) * (rng.random((50, 8)) < 0.4)
    Z[:, 3] = 0.0  # an anchor nobody uses
    Z[Z.sum(1) == 0, 0] = 1.0
    Z /= Z.sum(1, keepdims=True)
    A, s = anchor_embedding(Z, 3)
    As, ss = anchor_embedding(sp.csr_matrix(Z), 3)
    np.testing.assert_allclose(ss, s)
    np.testing.assert_allclose(np.abs(As), np.abs(A), atol=1e-12)
    keep = Z.sum(0) > 0
    Zh = Z[:, keep] / np.sqrt(Z.sum(0)[keep])
    U, sv, _ = np.linalg.svd(Zh, full_matrices=False)
    np.testing.assert_allclose(s, sv[:3])
    np.testing.assert_allclose(np.abs(A), np.abs(U[:, :3]), atol=1e-10)


# -- semi-NMF --------------------------------------------------------------------------------


def test_semi_nmf_pieces_by_hand_for_numpy_and_torch():
    M = np.array([[1.0, -2.0], [0.0, 3.0]])
    np.testing.assert_array_equal(pos(M), [[1, 0], [0, 3]])
    np.testing.assert_array_equal(neg(M), [[0, 2], [0, 0]])
    np.testing.assert_array_equal(pos(M) - neg(M), M)
    H = np.array([[1.0, 2.0], [3.0, 4.0]])
    num, den = np.array([[4.0, 1.0], [0.0, 9.0]]), np.array([[1.0, 4.0], [1.0, 0.0]])
    got = multiplicative_update(H, num, den, eps=1e-10)
    np.testing.assert_allclose(got, [[2.0, 1.0], [0.0, 4.0 * np.sqrt(9e10)]])
    t = multiplicative_update(torch.tensor(H), torch.tensor(num), torch.tensor(den), eps=1e-10)
    np.testing.assert_array_equal(t.numpy(), got)
    rng = np.random.default_rng(2)
    X, Z = rng.normal(size=(6, 20)), rng.normal(size=(6, 3))
    H = rng.random((3, 20)) + 0.1
    H1 = semi_nmf_update(H, Z.T @ X, Z.T @ Z)
    assert (H1 >= 0).all()
    assert np.sum((X - Z @ H1) ** 2) <= np.sum((X - Z @ H) ** 2)
    Ht = semi_nmf_update(torch.tensor(H), torch.tensor(Z.T @ X), torch.tensor(Z.T @ Z))
    np.testing.assert_allclose(Ht.numpy(), H1, rtol=1e-14)


# -- the methods that use them: labels recorded before the primitives were shared ------------

# sha256 (first 16 hex digits) of the labels as a digit string, each fit below, computed with
# the methods' own copies of the primitives before they moved to mmclust.cluster
PINNED = {
    "sc-njw": "dad3c2b681ead0bf",
    "sc-st": "e9a407ae0aaff7c0",
    "sc-ls": "6386752390ac2e07",
    "n-cuts": "3643797aeb486387",
    "ac-zell": "ce84f867bf45a678",
    "ac-pic": "ce84f867bf45a678",
    "ac-gdl": "e10e7d27221ab96b",
    "nmf-lp": "1a7a82bf00cdd55b",
    "nmf-d": "e7e596d90737b53e",
    "dmf-mvc": "b05d8d789fb7666b",
    "dmf-mvc-sc": "91e936d74ee4c054",
    "pic": "8b73b6a8672ea077",
    "daimc": "f7c4624d44f9041b",
    "mlrssc": "ac4798d4fc0f06ad",
    "mlrssc-anchor": "b756077cbdf2ecbf",
    "bmvc": "88a44b760c8c9666",
}
RUNS = {
    "sc-njw": dict(n_neighbors=10),
    "sc-st": dict(n_neighbors=10),
    "sc-ls": dict(n_landmarks=40),
    "n-cuts": dict(n_neighbors=10),
    "ac-zell": dict(n_neighbors=10, verbose=False),
    "ac-pic": dict(n_neighbors=10, verbose=False),
    "ac-gdl": dict(K_s=10, device="cpu"),
    "nmf-lp": dict(max_iter=30, verbose=False),
    "nmf-d": dict(hidden_layers=(20,), max_iter=30, device="cpu", verbose=False),
    "dmf-mvc": dict(layers=(16, 10), pretrain_iter=20, max_iter=20, verbose=False),
    "dmf-mvc-sc": dict(
        layers=(16, 10), pretrain_iter=20, max_iter=20, assign="spectral", verbose=False
    ),
    "pic": dict(verbose=False),
    "daimc": dict(max_iter=10, verbose=False),
    "mlrssc": dict(device="cpu", max_iter=30, verbose=False),
    "mlrssc-anchor": dict(solver="anchor", n_anchors=40, device="cpu", max_iter=30, verbose=False),
    "bmvc": dict(n_anchors=40, n_bits=16, verbose=False),
}
INCOMPLETE = {"pic", "daimc"}


@pytest.fixture(scope="module")
def digits160() -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    X, _ = load_digits(return_X_y=True)
    X = (X[:160] / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    views = [X[:, :32] + rng.normal(0, 0.05, (160, 32)).astype(np.float32), X[:, 32:]]
    masks = [np.ones(160, bool), np.ones(160, bool)]
    masks[0][::7] = False
    masks[1][3::11] = False
    masks[1] |= ~masks[0]
    partial = [
        np.where(m[:, None], v, 0).astype(np.float32) for v, m in zip(views, masks, strict=True)
    ]
    return X, views, partial, masks


@pytest.mark.parametrize("key", list(PINNED))
def test_labels_are_those_of_the_methods_own_copies(key, digits160):
    X, views, partial, masks = digits160
    name = key.removesuffix("-sc").removesuffix("-anchor")
    est = load(name)(n_clusters=10, random_state=0, **RUNS[key])
    if key in INCOMPLETE:
        est.fit(partial, masks=masks)
    elif key.startswith(("dmf", "mlrssc", "bmvc")):
        est.fit(views)
    else:
        est.fit(X)
    digits = "".join(str(int(v)) for v in est.labels_)
    assert hashlib.sha256(digits.encode()).hexdigest()[:16] == PINNED[key]
