"""The graph-degree-linkage engine of JULE and the AC-GDL baseline, on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from mmclust.cluster import graph as graph_module
from mmclust.cluster.graph import mean_sq_sigma2, nn_components
from mmclust.methods.classical.gdl import (
    ACGDL,
    GDLAgglomeration,
    KNNGraph,
    agglomerate,
    best_merge,
    build_graph,
    cluster_affinity,
    merge_scores,
)

torch.set_num_threads(1)


def dense_affinity(W: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The GDL formula literally: |Ci|⁻² 1ᵀ W_ij W_ji 1 + |Cj|⁻² 1ᵀ W_ji W_ij 1."""
    m = labels.max() + 1
    A = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            if i == j:
                continue
            ci, cj = np.flatnonzero(labels == i), np.flatnonzero(labels == j)
            wij, wji = W[np.ix_(ci, cj)], W[np.ix_(cj, ci)]
            A[i, j] = (wij @ wji).sum() / ci.size**2 + (wji @ wij).sum() / cj.size**2
    return A


def random_graph(rng: np.random.Generator, n: int, k: int) -> KNNGraph:
    idx = np.stack([rng.choice(np.delete(np.arange(n), i), k, replace=False) for i in range(n)])
    d2 = rng.uniform(0.1, 2.0, size=(n, k))
    return KNNGraph.from_neighbours(idx, d2, a=1.0)


def knn(X: np.ndarray, k: int, **kw: object) -> tuple[np.ndarray, np.ndarray]:
    """JULE's neighbour search: the blocked one, squared distances."""
    return graph_module.knn(X, k, method="blocked", squared=True, **kw)


def points(n: int = 120, d: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


# -- graph --------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [7, 32, 1000])
def test_knn_matches_brute_force(block_size):
    X = points(90, 4, seed=1)
    idx, d2 = knn(X, 6, device="cpu", block_size=block_size)
    D = ((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    ref = np.argsort(D, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(idx, ref)
    np.testing.assert_allclose(d2, np.take_along_axis(D, ref, 1), rtol=1e-4, atol=1e-5)
    assert idx.dtype == np.int64 and d2.dtype == np.float32
    assert (np.diff(d2, axis=1) >= 0).all() and (d2 >= 0).all()
    assert not (idx == np.arange(90)[:, None]).any()


def test_knn_device_side_selection_agrees(monkeypatch):
    # the selection path used on CUDA (candidates selected by torch), forced on the CPU
    X = points(70, 4, seed=2)
    want = knn(X, 5, device="cpu", block_size=16)
    monkeypatch.setattr(graph_module, "_numpy_selection", lambda device: False)
    got = knn(X, 5, device="cpu", block_size=16)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])


def test_knn_rejects_too_few_points():
    with pytest.raises(ValueError, match="nearest neighbours"):
        knn(points(5), 5, device="cpu")


def test_sigma2_and_weights_by_hand():
    d2 = np.array([[1.0, 3.0], [2.0, 2.0], [0.5, 3.5]])
    # (1/(n K_s)) Σ d² = 12 / 6 = 2; a scales it
    assert mean_sq_sigma2(d2) == pytest.approx(2.0)
    assert mean_sq_sigma2(d2, a=0.5) == pytest.approx(1.0)
    g = KNNGraph.from_neighbours(np.array([[1, 2], [0, 2], [0, 1]]), d2, a=1.0)
    assert g.sigma2 == pytest.approx(2.0)
    np.testing.assert_allclose(g.weights[0], [np.exp(-0.5), np.exp(-1.5)])
    W = g.to_sparse().toarray()
    assert W[0, 1] == pytest.approx(np.exp(-0.5)) and W[1, 0] == pytest.approx(np.exp(-1.0))
    assert np.all(np.diag(W) == 0)


def test_initial_clusters_are_1nn_components_by_hand():
    # 0 <-> 1 <- 2 and 3 <-> 4 <- 5 <- 6; only column 0 (the nearest) matters
    nn = np.array([[1, 5], [0, 5], [1, 5], [4, 0], [3, 0], [4, 0], [5, 0]])
    labels = nn_components(nn)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1, 1])


# -- affinities ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_affinity_matches_dense_reference(seed):
    rng = np.random.default_rng(seed)
    g = random_graph(rng, 30, 4)
    labels = rng.integers(0, 7, 30)
    labels = np.unique(labels, return_inverse=True)[1]
    ref = dense_affinity(g.to_sparse().toarray(), labels)
    np.testing.assert_allclose(cluster_affinity(g, labels).toarray(), ref, rtol=1e-12, atol=1e-15)
    eng = GDLAgglomeration(g, labels)
    np.testing.assert_allclose(eng.affinity_matrix().toarray(), ref, rtol=1e-12, atol=1e-15)


def _check_engine(eng: GDLAgglomeration, g: KNNGraph) -> None:
    W = g.to_sparse().toarray()
    ref = dense_affinity(W, eng.labels_)
    np.testing.assert_allclose(eng.affinity_matrix().toarray(), ref, rtol=1e-10, atol=1e-14)
    vals, ids = eng.top_affinities()
    for c in range(ref.shape[0]):
        want = np.sort(ref[c][ref[c] > 0])[::-1][: eng.K_c]
        np.testing.assert_allclose(vals[c, : want.size], want, rtol=1e-10)
        assert (ids[c, want.size :] == -1).all()
        np.testing.assert_allclose(ref[c, ids[c, : want.size]], want, rtol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_incremental_update_equals_recomputation(seed):
    rng = np.random.default_rng(seed)
    g = random_graph(rng, 40, 3)
    eng = GDLAgglomeration(g, np.arange(40), K_c=3)
    _check_engine(eng, g)
    while eng.n_clusters > 2:
        ids = eng.cluster_ids
        if rng.random() < 0.5:  # arbitrary pairs, including unconnected ones
            a, b = rng.choice(ids, 2, replace=False)
            eng.merge(int(a), int(b))
        else:
            eng.step()
        _check_engine(eng, g)


def test_incremental_update_on_a_knn_graph():
    X = points(150, 3, seed=3)
    g = build_graph(X, 5, device="cpu")
    eng = GDLAgglomeration(g, nn_components(g.indices), K_c=5, features=X)
    for _ in range(eng.n_clusters - 3):
        eng.step()
    _check_engine(eng, g)


# -- the criterion ------------------------------------------------------------------------


def test_merge_scores_by_hand():
    rows = np.array([[0.5, 0.48, 0.0], [0.5, 0.47, 0.0], [0.4, 0.0, 0.0]])
    # A1 + λ/(K_c-1) Σ_k (A1 - A^k) with K_c = 3, λ = 1
    np.testing.assert_allclose(merge_scores(rows, K_c=3, lam=1.0), [0.76, 0.765, 0.8])
    np.testing.assert_allclose(merge_scores(rows, K_c=3, lam=0.0), [0.5, 0.5, 0.4])
    np.testing.assert_allclose(merge_scores(rows[:, :1], K_c=3), [1.0, 1.0, 0.8])  # zero-padded


def test_criterion_picks_the_hand_computed_pair():
    # a tight triangle {0, 1, 2} and an isolated pair {3, 4}
    A = np.zeros((5, 5))
    for (i, j), v in {(0, 1): 0.50, (0, 2): 0.48, (1, 2): 0.47, (3, 4): 0.40}.items():
        A[i, j] = A[j, i] = v
    # scores (K_c = 3, λ = 1): 0.76, 0.765, 0.725, 0.80, 0.80 -> cluster 3 with its neighbour 4
    assert best_merge(A, K_c=3, lam=1.0) == (3, 4)
    # the plain criterion (largest affinity) merges 0 and 1
    assert best_merge(A, K_c=3, lam=0.0) == (0, 1)


@pytest.mark.parametrize(("lam", "plain_from"), [(1.0, 0), (1.0, 10), (0.0, 0)])
def test_engine_follows_the_criterion_at_every_step(lam, plain_from):
    X = points(200, 4, seed=4)
    g = build_graph(X, 8, device="cpu")
    eng = GDLAgglomeration(
        g, nn_components(g.indices), K_c=4, lam=lam, plain_from=plain_from, features=X
    )
    while eng.n_clusters > 2:
        pair = eng.best_pair()
        assert pair is not None
        ids = eng.cluster_ids
        lam_now = 0.0 if eng.n_clusters <= plain_from else lam
        c, partner = best_merge(eng.affinity_matrix(), K_c=4, lam=lam_now)
        assert (ids[c], ids[partner]) == pair
        eng.merge(*pair)


# -- runs ---------------------------------------------------------------------------------


def test_run_counts_merges_and_periods():
    X = points(200, 4, seed=5)
    g = build_graph(X, 8, device="cpu")
    eng = GDLAgglomeration(g, nn_components(g.indices), features=X)
    m0 = eng.n_clusters
    eng.run(n_merges=5)
    assert eng.n_clusters == m0 - 5 and eng.n_merges_ == 5
    labels = agglomerate(eng, 4, eta=0.5)
    assert eng.n_clusters == 4
    np.testing.assert_array_equal(np.unique(labels), np.arange(4))
    with pytest.raises(ValueError):
        eng.run()


def test_isolated_cluster_is_merged_by_centroid():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 0.1, size=(30, 2))
    b = rng.normal(0.0, 0.1, size=(30, 2)) + np.array([5.0, 0.0])
    far = np.array([[20.0, 0.0], [20.1, 0.0]])  # nearer to b than to a; nothing points at it
    X = np.vstack([a, b, far]).astype(np.float32)
    g = build_graph(X, 5, device="cpu")
    # each blob split in two halves (joined by paths); the far pair has no path to anything
    labels = np.r_[np.repeat([0, 1, 2, 3], 15), [4, 4]]
    eng = GDLAgglomeration(g, labels, features=X)
    A = eng.affinity_matrix().toarray()
    assert A[4].sum() == 0 and (A[:4].sum(1) > 0).all()
    assert eng.merge_isolated() == 1
    out = eng.labels_
    assert eng.n_clusters == 4
    assert out[60] == out[61] and out[60] in set(out[30:60]) and out[60] not in set(out[:30])


def test_disconnected_graph_falls_back_to_centroids():
    X, _ = make_blobs(n_samples=60, centers=[[0, 0], [50, 0]], cluster_std=0.3, random_state=0)
    model = ACGDL(n_clusters=1, K_s=5, isolated_factor=0, device="cpu").fit(X)
    assert (model.labels_ == 0).all()


def test_acgdl_separates_blobs_and_is_deterministic():
    X, y = make_blobs(n_samples=300, centers=4, n_features=5, cluster_std=1.0, random_state=0)
    a = ACGDL(n_clusters=4, device="cpu").fit(X)
    b = ACGDL(n_clusters=4, device="cpu").fit(X)
    assert adjusted_rand_score(y, a.labels_) > 0.9
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.embedding_.shape == (300, 5) and a.embedding_.dtype == np.float32
    assert a.n_initial_clusters_ > 4 and a.sigma2_ > 0


def test_acgdl_params_and_clone():
    est = ACGDL(n_clusters=3, K_s=7, lam=0.0, random_state=5)
    got = est.get_params()
    assert got["K_s"] == 7 and got["lam"] == 0.0 and got["random_state"] == 5
    assert clone(est).get_params() == got
    assert ACGDL().get_params()["K_s"] == 20 and ACGDL().K_c == 5


def test_sparse_input_to_cluster_affinity():
    rng = np.random.default_rng(7)
    g = random_graph(rng, 20, 3)
    labels = rng.integers(0, 5, 20)
    labels = np.unique(labels, return_inverse=True)[1]
    a = cluster_affinity(g.to_sparse(), labels).toarray()
    b = cluster_affinity(sp.csr_matrix(g.to_sparse().toarray()), labels).toarray()
    np.testing.assert_allclose(a, b)
