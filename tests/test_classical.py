"""The classical JULE baselines (mmclust.methods.classical): tiny data, hand-checked steps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import adjusted_rand_score

from mmclust.cluster.graph import knn
from mmclust.cluster.nmf import semi_nmf
from mmclust.methods.classical import (
    ACPIC,
    CLASSICAL,
    NMFD,
    NMFLP,
    SCLS,
    SCNJW,
    SCST,
    ACLink,
    ACZell,
    NCuts,
)
from mmclust.methods.classical.agglomerative import (
    cycle_sums,
    log_zeta,
    path_integral,
    pic_affinity,
    zell_affinity,
    zeta_descriptor,
)
from mmclust.methods.classical.nmf import lpnmf_objective
from mmclust.methods.classical.spectral import (
    landmark_representation,
    local_scales,
    self_tuning_affinity,
)

torch.set_num_threads(1)

# small settings so that every fit takes well under a second
FAST = {
    SCNJW: dict(n_neighbors=10),
    SCST: dict(n_neighbors=10),
    SCLS: dict(n_landmarks=40),
    NCuts: dict(n_neighbors=10),
    ACLink: {},
    ACZell: dict(n_neighbors=10, verbose=False),
    ACPIC: dict(n_neighbors=10, verbose=False),
    NMFLP: dict(max_iter=100, verbose=False),
    NMFD: dict(hidden_layers=(6,), max_iter=100, device="cpu", verbose=False),
}
GRAPH = [SCNJW, SCST, SCLS, NCuts, ACZell, ACPIC]


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=150, n_features=6, centers=3, cluster_std=1.0, random_state=0)
    X = X - X.min(axis=0)  # nonnegative, for NMF-LP
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_moons(n_samples=200, noise=0.05, random_state=0)
    return X.astype(np.float32), y


def _rows(P: np.ndarray) -> np.ndarray:
    return P / P.sum(axis=1, keepdims=True)


# -- every method ------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(FAST), ids=lambda c: c.__name__)
def test_separates_blobs_and_is_deterministic(cls, blobs):
    X, y = blobs
    a = cls(n_clusters=3, random_state=1, **FAST[cls]).fit(X)
    b = cls(n_clusters=3, random_state=1, **FAST[cls]).fit(X)
    assert a.labels_.shape == (X.shape[0],)
    assert a.embedding_.shape[0] == X.shape[0]
    assert adjusted_rand_score(y, a.labels_) > 0.9
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)


@pytest.mark.parametrize("cls", GRAPH, ids=lambda c: c.__name__)
def test_graph_methods_separate_two_moons(cls, moons):
    X, y = moons
    model = cls(n_clusters=2, **FAST[cls]).fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.9


def test_registry_and_sklearn_params():
    assert set(CLASSICAL) == {
        "sc-njw",
        "sc-st",
        "sc-ls",
        "n-cuts",
        "ac-link",
        "ac-zell",
        "ac-pic",
        "nmf-lp",
        "nmf-d",
    }
    for cls in CLASSICAL.values():
        est = cls()
        params = est.get_params()
        assert {"n_clusters", "random_state"} <= set(params)
        assert clone(est).get_params() == params


# -- SC-ST -------------------------------------------------------------------------


def test_self_tuning_scales_and_affinity_on_four_points():
    X = np.array([[0.0], [1.0], [3.0], [6.0]])
    idx, dist = knn(X, 3)
    sigma = local_scales(dist, scale_neighbor=2)
    # distances to the 2nd nearest other point, by hand
    np.testing.assert_allclose(sigma, [3.0, 2.0, 3.0, 5.0])
    A = self_tuning_affinity(dist, idx, sigma).toarray()
    d = np.abs(X - X.T)
    expected = np.exp(-(d**2) / np.outer([3.0, 2.0, 3.0, 5.0], [3.0, 2.0, 3.0, 5.0]))
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(A, expected)
    assert A[0, 1] == pytest.approx(np.exp(-1.0 / 6.0))
    assert A[0, 3] == pytest.approx(np.exp(-36.0 / 15.0))


# -- SC-LS -------------------------------------------------------------------------


def test_landmark_representation_rows_sum_to_one_with_r_nonzeros():
    rng = np.random.RandomState(0)
    X = rng.rand(50, 4)
    U = rng.rand(12, 4)
    Z, h = landmark_representation(X, U, n_nearest=5)
    assert Z.shape == (50, 12) and h > 0
    np.testing.assert_allclose(np.asarray(Z.sum(axis=1)).ravel(), 1.0)
    np.testing.assert_array_equal(np.diff(Z.indptr), 5)
    assert (Z.data > 0).all()
    # the r stored landmarks are the r nearest ones
    d = ((X[:, None, :] - U[None]) ** 2).sum(-1)
    nearest = np.sort(np.argsort(d, axis=1)[:, :5], axis=1)
    stored = np.sort(Z.indices.reshape(50, 5), axis=1)
    np.testing.assert_array_equal(stored, nearest)


def test_scls_keeps_its_landmark_representation(blobs):
    X, _ = blobs
    m = SCLS(n_clusters=3, n_landmarks=30, n_nearest_landmarks=4).fit(X)
    Z = m.landmark_representation_
    np.testing.assert_allclose(np.asarray(Z.sum(axis=1)).ravel(), 1.0)
    np.testing.assert_array_equal(np.diff(Z.indptr), 4)


# -- N-Cuts ------------------------------------------------------------------------


def test_ncuts_eigenvectors_solve_the_generalised_problem():
    X, _ = make_moons(n_samples=600, noise=0.05, random_state=1)  # > 500: ARPACK path
    m = NCuts(n_clusters=3, n_neighbors=10).fit(X)
    W = m.affinity_
    D = sp.diags(np.asarray(W.sum(axis=1)).ravel())
    L = D - W
    V, lam = m.eigenvectors_, m.eigenvalues_
    residual = L @ V - (D @ V) * lam[None, :]
    assert np.linalg.norm(residual) < 1e-8 * np.linalg.norm(D @ V)
    assert np.all(np.diff(lam) >= -1e-12)
    assert abs(lam[0]) < 1e-8


# -- AC-PIC ------------------------------------------------------------------------


def test_path_integral_matches_the_closed_form():
    rng = np.random.RandomState(0)
    W = rng.rand(6, 6) * (rng.rand(6, 6) < 0.6)
    np.fill_diagonal(W, 0.0)
    W[:, 0] += 0.1
    W[0, 0] = 0.0
    P = _rows(W)
    z = 0.3
    C = [0, 2, 3, 5]
    PC = P[np.ix_(C, C)]
    closed = np.ones(4) @ np.linalg.inv(np.eye(4) - z * PC) @ np.ones(4) / 16
    assert path_integral(PC, z) == pytest.approx(closed, rel=1e-12)

    a, b = [0, 1, 2], [3, 4, 5]
    inv = np.linalg.inv(np.eye(6) - z * P)

    def S(idx: list[int]) -> float:
        return path_integral(P[np.ix_(idx, idx)], z)

    expected = inv[:3, :3].sum() / 9 - S(a) + inv[3:, 3:].sum() / 9 - S(b)
    assert pic_affinity(P, a, b, z) == pytest.approx(expected, rel=1e-10)
    # clusters without an edge between them have zero affinity
    Q = P.copy()
    Q[np.ix_(a, b)] = Q[np.ix_(b, a)] = 0.0
    assert pic_affinity(Q, a, b, z) == 0.0


# -- AC-Zell -----------------------------------------------------------------------


def test_zeta_descriptor_on_tiny_graphs_matches_hand_computation():
    z = 0.1
    # weighted 2-cycle: det(I - zW) = 1 - z^2 w12 w21, [(I - zW)^-1]_ii = 1 / (1 - z^2 w12 w21)
    W = np.array([[0.0, 0.5], [2.0, 0.0]])
    assert log_zeta(W, z) == pytest.approx(-np.log(1 - z**2 * 1.0))
    assert zeta_descriptor(W, z) == pytest.approx(-np.log(1 - z**2))
    # directed 3-cycle: the only cycles have lengths 3, 6, ...: det = 1 - z^3
    P3 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert log_zeta(P3, z) == pytest.approx(-np.log(1 - z**3))
    assert zeta_descriptor(P3, z) == pytest.approx(-np.log(1 - z**3))
    # the zeta function integrates the cycles: log zeta = sum_l z^l tr(W^l) / l
    rng = np.random.RandomState(1)
    A = _rows(rng.rand(5, 5) * (1 - np.eye(5)))
    series = sum(z**ell * np.trace(np.linalg.matrix_power(A, ell)) / ell for ell in range(1, 40))
    assert log_zeta(A, z) == pytest.approx(series, rel=1e-12)
    # truncated popularity series of order 2 on the 2-cycle: z^2 w12 w21
    np.testing.assert_allclose(cycle_sums(sp.csr_matrix(W), z, 2), [z**2, z**2])


def test_zell_affinity_exact_and_truncated():
    rng = np.random.RandomState(2)
    W = rng.rand(7, 7) * (rng.rand(7, 7) < 0.6)
    np.fill_diagonal(W, 0.0)
    W[:, 1] += 0.05
    W[1, 1] = 0.0
    P = _rows(W)
    z = 0.2
    a, b = [0, 1, 2], [3, 4, 5, 6]
    U = a + b
    logdiag = np.log(np.diag(np.linalg.inv(np.eye(7) - z * P[np.ix_(U, U)])))
    expected = (
        logdiag[:3].mean()
        - zeta_descriptor(P[np.ix_(a, a)], z)
        + logdiag[3:].mean()
        - zeta_descriptor(P[np.ix_(b, b)], z)
    )
    assert zell_affinity(P, a, b, z) == pytest.approx(expected, rel=1e-12)
    # the truncated cycle series converges to it (neglected walks weigh ~ z^(order+1))
    assert zell_affinity(P, a, b, z, order=12) == pytest.approx(expected, rel=1e-6)
    assert zell_affinity(P, a, b, z, order=4) == pytest.approx(expected, rel=0.05)


def test_zell_truncated_and_exact_merge_alike(moons):
    X, _ = moons
    t = ACZell(n_clusters=2, n_neighbors=10, verbose=False).fit(X)
    e = ACZell(n_clusters=2, n_neighbors=10, cycle_order=None, verbose=False).fit(X)
    np.testing.assert_array_equal(t.labels_, e.labels_)


# -- AC-Link -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:the number of connected components")
def test_aclink_memory_guard(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"pairwise distances.*max_samples=100.*n_neighbors"):
        ACLink(n_clusters=3, max_samples=100).fit(X)
    m = ACLink(n_clusters=3, max_samples=100, n_neighbors=10).fit(X)
    assert adjusted_rand_score(y, m.labels_) > 0.9


# -- NMF-LP ------------------------------------------------------------------------


def test_nmflp_objective_decreases_monotonically(blobs):
    X, _ = blobs
    m = NMFLP(n_clusters=3, max_iter=60, tol=0.0, verbose=False).fit(X)
    h = np.asarray(m.objective_)
    assert h.size == 61
    assert np.all(np.diff(h) <= 1e-10 * np.abs(h[:-1]))
    assert h[-1] < 0.5 * h[0]


def test_nmflp_objective_formula():
    rng = np.random.RandomState(0)
    X, U, V = rng.rand(5, 4), rng.rand(4, 2), rng.rand(5, 2)
    W = sp.csr_matrix(np.array([[0, 1, 0, 0, 1], [1, 0, 1, 0, 0], [0, 1, 0, 1, 0],
                                [0, 0, 1, 0, 1], [1, 0, 0, 1, 0]], dtype=float))  # fmt: skip
    L = sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W
    Y = V @ U.T
    kl = np.sum(X * np.log(X / Y) - X + Y)
    sym_kl = 0.0  # sum_ij W_ij (D(v_i||v_j) + D(v_j||v_i)) / 2
    for i, j in zip(*W.nonzero(), strict=True):
        d_ij = np.sum(V[i] * np.log(V[i] / V[j]) - V[i] + V[j])
        d_ji = np.sum(V[j] * np.log(V[j] / V[i]) - V[j] + V[i])
        sym_kl += (d_ij + d_ji) / 2
    assert lpnmf_objective(X, U, V, L, 3.0) == pytest.approx(kl + 3.0 * sym_kl, rel=1e-12)


def test_nmflp_rejects_negative_input(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match=r"X >= 0.*transform: scale"):
        NMFLP(n_clusters=3, verbose=False).fit(X - X.mean(axis=0))


# -- NMF-D -------------------------------------------------------------------------


def test_semi_nmf_keeps_H_nonnegative_and_decreases():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(8, 60, generator=g, dtype=torch.float64)  # mixed signs
    for init in ("svd", "kmeans"):
        _, H, hist = semi_nmf(X, 4, n_iter=50, init=init, tol=0.0)
        assert (H >= 0).all()
        h = np.asarray(hist)
        assert np.all(np.diff(h) <= 1e-10 * h[:-1])


def test_deep_semi_nmf_on_mixed_signs(blobs):
    X, _ = blobs
    Xc = X - X.mean(axis=0)  # semi-NMF allows mixed-sign data
    m = NMFD(n_clusters=3, hidden_layers=(5,), max_iter=50, tol=0.0, device="cpu", verbose=False)
    m.fit(Xc)
    assert (m.embedding_ >= 0).all()
    h = np.asarray(m.objective_)
    assert np.all(np.diff(h) <= 1e-9 * h[:-1])
    for pre in m.pretrain_objectives_:
        p = np.asarray(pre)
        assert np.all(np.diff(p) <= 1e-9 * p[:-1])
    assert [Z.shape for Z in m.components_] == [(6, 5), (5, 3)]
