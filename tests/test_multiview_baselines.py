"""The core step of each multi-view baseline of the JECL table, on small hand-checked data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from mmclust.methods.deep.ccal import CCAL, cca_layer
from mmclust.methods.deep.dcca import DCCA, cca_correlation, pretrain_network
from mmclust.methods.deep.vse import _TwoBranch, ranking_loss
from mmclust.methods.multiview.bmvc import BMVC, balanced_sign
from mmclust.methods.multiview.daimc import DAIMC, solve_u
from mmclust.methods.multiview.dmf_mvc import DMFMVC, heat_graph, seminmf
from mmclust.methods.multiview.lrssc import (
    MultiViewLRSSC,
    exact_memory_bytes,
    kkt_residuals,
    singular_value_threshold,
    solve_mlrssc,
)
from mmclust.methods.multiview.pic import PIC, simplex_qp

torch.set_num_threads(1)


def canonical_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Direct solver: singular values of Q1'Q2, Q_i orthonormal bases of the centred data."""
    q1, _ = np.linalg.qr(a - a.mean(axis=0))
    q2, _ = np.linalg.qr(b - b.mean(axis=0))
    return np.linalg.svd(q1.T @ q2, compute_uv=False)


def correlated_pair(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    h1 = z @ rng.normal(size=(3, 5)) + 0.5 * rng.normal(size=(n, 5))
    h2 = z @ rng.normal(size=(3, 4)) + 0.8 * rng.normal(size=(n, 4))
    return h1, h2


# -- DCCA ------------------------------------------------------------------------------


def test_dcca_objective_is_the_sum_of_canonical_correlations():
    h1, h2 = correlated_pair()
    direct = canonical_correlations(h1, h2)
    t1, t2 = torch.tensor(h1, requires_grad=True), torch.tensor(h2)
    total = cca_correlation(t1, t2, r1=0.0, r2=0.0)
    assert float(total.detach()) == pytest.approx(direct.sum(), rel=1e-9)
    top2 = cca_correlation(t1, t2, r1=0.0, r2=0.0, n_components=2)
    assert float(top2.detach()) == pytest.approx(direct[:2].sum(), rel=1e-9)
    total.backward()
    assert t1.grad is not None and torch.isfinite(t1.grad).all()


def test_dcca_objective_of_a_linear_map_of_the_views():
    """Linear 'networks' do not change the correlation when they are invertible."""
    h1, h2 = correlated_pair(seed=1)
    rng = np.random.default_rng(2)
    w1, w2 = rng.normal(size=(5, 5)), rng.normal(size=(4, 4))
    direct = canonical_correlations(h1, h2).sum()
    got = cca_correlation(torch.tensor(h1 @ w1), torch.tensor(h2 @ w2), 0.0, 0.0)
    assert float(got) == pytest.approx(direct, rel=1e-8)


def dcca_blobs(n: int = 60, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    return [
        (rng.normal(0, 3, (3, d))[y] + rng.normal(size=(n, d))).astype(np.float32) for d in (12, 9)
    ]


# tiny networks, few epochs: each fit takes a fraction of a second
DCCA_SMALL = dict(
    n_clusters=3,
    hidden_dims=(10, 8),
    out_dim=3,
    pretrain_epochs=30,
    pretrain_batch_size=20,
    pretrain_lr=1e-2,
    kmeans_n_init=2,
    device="cpu",
    verbose=False,
)


@pytest.mark.parametrize("noise_type", ["gaussian", "masking"])
def test_dcca_pretraining_lowers_each_layers_reconstruction_error(noise_type):
    views = dcca_blobs()
    model = DCCA(**DCCA_SMALL, max_iter=0, pretrain_noise_type=noise_type).fit(views)
    # two views, three layers each (two hidden layers and the output layer)
    assert [len(e) for e in model.pretrain_errors_] == [3, 3]
    for errors in model.pretrain_errors_:
        for before, after in errors:
            assert np.isfinite(before) and after < before


def test_dcca_pretraining_changes_the_random_initialisation():
    views = dcca_blobs()
    # no fine-tuning: the pretrained weights are the final ones
    plain = DCCA(**DCCA_SMALL, max_iter=0, pretrain=False).fit(views)
    pre = DCCA(**DCCA_SMALL, max_iter=0).fit(views)
    assert plain.pretrain_errors_ == [[], []]
    for (name, a), b in zip(
        plain.module_.state_dict().items(), pre.module_.state_dict().values(), strict=True
    ):
        assert a.shape == b.shape
        assert not torch.equal(a, b), name
    # pretraining with zero epochs is no pretraining
    zero = DCCA(**{**DCCA_SMALL, "pretrain_epochs": 0}, max_iter=0).fit(views)
    for a, b in zip(
        plain.module_.state_dict().values(), zero.module_.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_dcca_pretraining_folds_the_centring_into_the_bias():
    """Each layer is pretrained on centred codes; the network then takes the raw inputs."""
    torch.manual_seed(0)
    branch = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    X = torch.randn(50, 6) + 5.0
    w0 = branch[0].weight.detach().clone()
    errors = pretrain_network(branch, X, torch.Generator().manual_seed(0), epochs=20, noise=0.1)
    assert len(errors) == 2 and all(after < before for before, after in errors)
    lin = branch[0]
    assert not torch.equal(lin.weight, w0)
    with torch.no_grad():
        # the bias the layer was trained with on centred inputs: b + W mean
        centred = X - X.mean(dim=0)
        code = torch.tanh(centred @ lin.weight.T + lin.bias + lin.weight @ X.mean(dim=0))
        err = float(((code @ lin.weight - centred) ** 2).mean())
    assert err == pytest.approx(errors[0][1], rel=1e-4)


def test_dcca_fit_with_pretraining_is_deterministic():
    views = dcca_blobs(seed=1)
    a = DCCA(**DCCA_SMALL, max_iter=5, random_state=3).fit(views)
    b = DCCA(**DCCA_SMALL, max_iter=5, random_state=3).fit(views)
    assert a.pretrain_errors_ == b.pretrain_errors_
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    for x, y in zip(a.module_.state_dict().values(), b.module_.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    c = DCCA(**DCCA_SMALL, max_iter=5, random_state=4).fit(views)
    assert c.pretrain_errors_ != a.pretrain_errors_


# -- VSE / CCAL ranking loss -------------------------------------------------------------

SCORES = [[0.9, 0.1, 0.3], [0.2, 0.8, 0.75], [0.4, 0.45, 0.5]]


def test_ranking_loss_hand_checked():
    # image anchors (rows):  row 1: 0.2-0.8+0.75 = 0.15;
    #                        row 2: 0.2-0.5+0.4 = 0.10, 0.2-0.5+0.45 = 0.15
    # text anchors (columns): column 2: 0.2-0.5+0.75 = 0.45 (0.2-0.5+0.3 = 0 is not a violation)
    s = torch.tensor(SCORES, dtype=torch.float64)
    assert float(ranking_loss(s, 0.2, "sum")) == pytest.approx(0.15 + 0.25 + 0.45)
    assert float(ranking_loss(s, 0.2, "max")) == pytest.approx(0.15 + 0.15 + 0.45)
    # a large margin makes every negative violate: sum = 2 * (6 * margin - 2 * trace + off-diagonal)
    big = float(ranking_loss(s, 5.0, "sum"))
    off = s.sum() - s.trace()
    assert big == pytest.approx(float(2 * (6 * 5.0 - 2 * s.trace()) + 2 * off))
    assert float(ranking_loss(torch.eye(3), 0.2, "sum")) == 0.0
    with pytest.raises(ValueError):
        ranking_loss(s, 0.2, "mean")


def test_ccal_loss_is_the_ranking_loss_of_the_normalised_cca_codes():
    h1, h2 = correlated_pair(n=64, seed=3)
    model = CCAL(hidden_dims=(), out_dim=3, r1=1e-3, r2=1e-3, margin=0.3, verbose=False)
    torch.manual_seed(0)
    model.module_ = _TwoBranch(torch.nn.Linear(5, 3).double(), torch.nn.Linear(4, 3).double())
    x1, x2 = torch.tensor(h1), torch.tensor(h2)
    p1, p2, _ = cca_layer(model.module_.branch1(x1), model.module_.branch2(x2), 1e-3, 1e-3)
    n1 = p1 / p1.norm(dim=1, keepdim=True)
    n2 = p2 / p2.norm(dim=1, keepdim=True)
    expected = ranking_loss(n1 @ n2.T, 0.3, "sum")
    got = model._loss(x1, x2).detach()
    assert float(got) == pytest.approx(float(expected.detach()), rel=1e-10)


def test_cca_layer_whitens_and_diagonalises():
    h1, h2 = correlated_pair(n=500, seed=4)
    p1, p2, d = cca_layer(torch.tensor(h1), torch.tensor(h2), 1e-9, 1e-9)
    p1, p2, d = p1.numpy(), p2.numpy(), d.numpy()
    m = h1.shape[0]
    assert p1.shape == (m, 4) and p2.shape == (m, 4)
    np.testing.assert_allclose(p1.T @ p1 / (m - 1), np.eye(4), atol=1e-6)
    np.testing.assert_allclose(p2.T @ p2 / (m - 1), np.eye(4), atol=1e-6)
    np.testing.assert_allclose(p1.T @ p2 / (m - 1), np.diag(d), atol=1e-6)
    np.testing.assert_allclose(d, canonical_correlations(h1, h2), atol=1e-6)


# -- MultiViewLRSSC ------------------------------------------------------------------


def union_of_subspaces(
    per: int = 12, k: int = 3, dim: int = 2, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    """Two views (linear maps of the same latent points) of k 2-d subspaces of R^6."""
    rng = np.random.default_rng(seed)
    latent = np.hstack([rng.normal(size=(6, dim)) @ rng.normal(size=(dim, per)) for _ in range(k)])
    y = np.repeat(np.arange(k), per)
    views = [(rng.normal(size=(8, 6)) @ latent).T, (rng.normal(size=(7, 6)) @ latent).T]
    return views, y


@pytest.mark.parametrize("variant", ["pairwise", "centroid"])
def test_lrssc_admm_meets_its_optimality_conditions(variant):
    views, y = union_of_subspaces()
    Xs = [torch.tensor(v.T) for v in views]
    # a fixed penalty (rho = 1) lets ADMM converge to the optimum itself
    st = solve_mlrssc(
        Xs, 0.5, 0.5, 0.7, variant=variant, mu=3.0, rho=1.0, max_mu=3.0, max_iter=4000, tol=1e-9
    )
    assert st.converged
    res = kkt_residuals(st, Xs, 0.5, 0.5, 0.7, variant=variant)
    for key, value in res.items():
        assert value < 1e-7, (key, value)
    # the subspace structure: no coefficient links two subspaces, the diagonal is 0
    for C in st.C2:
        C = C.numpy()
        assert np.abs(np.diag(C)).max() == 0.0
        cross = sum(np.abs(C[np.ix_(y == a, y != a)]).sum() for a in range(3))
        assert cross < 1e-6 * np.abs(C).sum()


def test_lrssc_default_solver_recovers_the_subspaces():
    views, y = union_of_subspaces(per=20, seed=1)
    model = MultiViewLRSSC(n_clusters=3, device="cpu", verbose=False, kmeans_n_init=5)
    model.fit([v.astype(np.float32) for v in views])
    assert model.solver_ == "exact" and model.converged_
    assert model.approximation_ is None
    assert adjusted_rand_score(y, model.labels_) == 1.0


def test_lrssc_landmark_approximation_recovers_the_subspaces():
    views, y = union_of_subspaces(per=60, seed=2)
    model = MultiViewLRSSC(
        n_clusters=3, solver="anchor", n_anchors=45, device="cpu", verbose=False, kmeans_n_init=5
    )
    model.fit([v.astype(np.float32) for v in views])
    assert model.solver_ == "anchor" and model.coefficients_.shape == (45, 180)
    assert adjusted_rand_score(y, model.labels_) == 1.0
    # a landmark never represents itself
    assert np.all(model.coefficients_[np.arange(45), model.anchors_] == 0)
    # the automatic choice above exact_max_n says what it did (fit.json, the table's notes)
    auto = MultiViewLRSSC(
        n_clusters=3, exact_max_n=100, n_anchors=45, device="cpu", verbose=False, kmeans_n_init=5
    ).fit([v.astype(np.float32) for v in views])
    assert auto.solver_ == "anchor"
    assert auto.approximation_ == (
        "landmark approximation (45 of 180 samples as landmarks; "
        "the exact solver runs up to exact_max_n = 100 samples)"
    )


def test_singular_value_threshold_truncated_equals_full():
    rng = np.random.default_rng(5)
    M = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 300)) + 1e-3 * rng.normal(size=(300, 300))
    full, auto = torch.tensor(M), torch.tensor(M)
    r_full = singular_value_threshold(full, 1.0, "full")
    torch.manual_seed(0)
    r_auto = singular_value_threshold(auto, 1.0, "auto", rank_guess=2, niter=4)
    assert r_full == r_auto == 8
    np.testing.assert_allclose(auto.numpy(), full.numpy(), atol=1e-8)


def test_singular_value_threshold_of_a_large_matrix_in_place(monkeypatch):
    """Large matrices go through LAPACK (SciPy) on M's own memory; lowered threshold here."""
    import mmclust.methods.multiview.lrssc as lrssc

    monkeypatch.setattr(lrssc, "_SCIPY_SVD_MIN", 50)
    rng = np.random.default_rng(6)
    M = rng.normal(size=(120, 150)).astype(np.float32)
    expected_s = np.linalg.svd(M.astype(np.float64), compute_uv=False)
    # between two singular values: at one of them, float32 rounding decides its side
    tau = float(expected_s[39] + expected_s[40]) / 2
    t = torch.from_numpy(M.copy())
    r = singular_value_threshold(t, tau, "full")
    assert r == int((expected_s > tau).sum())
    got = np.linalg.svd(t.numpy().astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(got[:r], expected_s[:r] - tau, rtol=1e-3, atol=1e-3)
    assert np.abs(got[r:]).max() < 1e-3


@pytest.mark.parametrize("shape", [(60, 90), (90, 60)])
def test_singular_value_threshold_through_the_gram_matrix(shape):
    rng = np.random.default_rng(7)
    M = rng.normal(size=shape).astype(np.float32)
    full, gram = torch.from_numpy(M.copy()), torch.from_numpy(M.copy())
    r_full = singular_value_threshold(full, 2.0, "full")
    r_gram = singular_value_threshold(gram, 2.0, "gram")
    assert r_full == r_gram > 0
    np.testing.assert_allclose(gram.numpy(), full.numpy(), atol=2e-5)


def test_lrssc_memory_of_the_exact_solver():
    assert exact_memory_bytes(23189, 2) > 16 * 2**30  # the JECL Coco-all size does not fit
    assert exact_memory_bytes(7429, 2) < 8 * 2**30


# -- BMVC ------------------------------------------------------------------------------


def test_balanced_sign_is_the_exact_balanced_binarisation():
    M = np.array([[3.0, 1.0, 2.0, 0.0, -1.0, 5.0]])
    np.testing.assert_array_equal(balanced_sign(M), [[1, -1, 1, -1, -1, 1]])
    # brute force over balanced codes
    rng = np.random.default_rng(0)
    m = rng.normal(size=6)
    best = max(
        (np.array(c) for c in np.ndindex(*(2,) * 6) if sum(c) == 3),
        key=lambda c: float((2 * c - 1) @ m),
    )
    np.testing.assert_array_equal(balanced_sign(m[None])[0], 2 * best - 1)


@pytest.mark.parametrize("n", [90, 91])
def test_bmvc_codes_are_binary_and_balanced(n):
    rng = np.random.default_rng(0)
    views = [
        rng.normal(size=(n, 10)).astype(np.float32),
        rng.normal(size=(n, 6)).astype(np.float32),
    ]
    model = BMVC(n_clusters=3, n_bits=16, n_anchors=30, max_iter=3, verbose=False).fit(views)
    B = model.codes_.astype(int)
    assert set(np.unique(B)) <= {-1, 1}
    # B 1 = 0: every bit splits the samples in halves (n odd: one more -1)
    assert np.all(np.abs(B.sum(axis=1)) <= n % 2)
    # C' 1 = 0: every centroid code is balanced (16 bits)
    assert np.all(model.centroids_.astype(int).sum(axis=0) == 0)
    np.testing.assert_array_equal(model.embedding_, B.T)
    assert model.view_weights_.sum() == pytest.approx(1.0)


# -- DMF-MVC -----------------------------------------------------------------------------


def small_views(n: int = 60, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    views = [
        (rng.normal(0, 4, (3, d))[y] + rng.normal(size=(n, d))).astype(np.float32) for d in (12, 9)
    ]
    return views, y


def test_seminmf_keeps_h_nonnegative():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 40))
    Z, H = seminmf(X, 4, 50, 0)
    assert H.min() >= 0
    assert np.linalg.norm(X - Z @ H) < np.linalg.norm(X)


@pytest.mark.parametrize("gamma", [0.1, 2.0])
def test_dmf_mvc_updates_decrease_the_objective(gamma):
    views, _ = small_views()
    model = DMFMVC(
        n_clusters=3, layers=(6, 3), gamma=gamma, pretrain_iter=20, max_iter=0, verbose=False
    )
    Xs = [v.astype(np.float64).T for v in views]
    Xs = [X / np.linalg.norm(X, axis=0) for X in Xs]
    graphs = [heat_graph(X.T, 5) for X in Xs]
    rng = np.random.default_rng(0)
    Zs = [[rng.normal(size=(X.shape[0], 6)), rng.normal(size=(6, 3))] for X in Xs]
    H = rng.uniform(0.1, 1.0, size=(3, Xs[0].shape[1]))
    alpha = np.array([0.5, 0.5])
    prev = model.objective(model.view_terms(Xs, Zs, H, graphs), alpha)
    for _ in range(15):
        for X, Z in zip(Xs, Zs, strict=True):
            model.update_z(X, Z, H)
            cur = model.objective(model.view_terms(Xs, Zs, H, graphs), alpha)
            assert cur <= prev * (1 + 1e-10)
            prev = cur
        H = model.update_h(Xs, Zs, H, graphs, alpha)
        assert H.min() >= 0
        cur = model.objective(model.view_terms(Xs, Zs, H, graphs), alpha)
        assert cur <= prev * (1 + 1e-10)
        prev = cur
        if gamma > 1:  # the closed form minimises over the simplex only when gamma > 1
            alpha = model.update_alpha(model.view_terms(Xs, Zs, H, graphs))
            cur = model.objective(model.view_terms(Xs, Zs, H, graphs), alpha)
            assert cur <= prev * (1 + 1e-10)
            prev = cur


def test_dmf_mvc_fit_objective_is_monotone_for_gamma_above_one():
    views, _ = small_views()
    model = DMFMVC(
        n_clusters=3,
        layers=(6, 3),
        gamma=2.0,
        pretrain_iter=20,
        max_iter=20,
        verbose=False,
        kmeans_n_init=3,
    ).fit(views)
    obj = np.array(model.objective_)
    assert np.all(np.diff(obj) <= 1e-10 * obj[:-1])
    assert model.embedding_.min() >= 0


# -- DAIMC -----------------------------------------------------------------------------


def test_daimc_u_step_solves_its_sylvester_equation():
    rng = np.random.default_rng(2)
    B, V = rng.normal(size=(9, 3)), rng.uniform(size=(20, 3))
    G = V.T @ V
    R = rng.normal(size=(9, 3))
    U = solve_u(0.7, B, G, R)
    np.testing.assert_allclose(0.7 * B @ B.T @ U + U @ G, R, atol=1e-10)


def incomplete(views: list[np.ndarray], seed: int = 0) -> tuple[list[np.ndarray], list]:
    """Drop about 30% of each view (every sample keeps one), masked rows set to NaN."""
    rng = np.random.default_rng(seed)
    n = views[0].shape[0]
    m0 = rng.random(n) > 0.3
    m1 = (rng.random(n) > 0.3) | ~m0
    out = [v.copy() for v in views]
    out[0][~m0] = np.nan
    out[1][~m1] = np.nan
    return out, [m0, m1]


def test_daimc_objective_decreases_and_v_stays_nonnegative():
    views, _ = small_views()
    views, masks = incomplete(views)
    model = DAIMC(
        n_clusters=3, normalize_v=False, max_iter=25, tol=0.0, verbose=False, kmeans_n_init=3
    ).fit(views, masks=masks)
    obj = np.array(model.objective_)
    assert len(obj) == 26
    assert np.all(np.diff(obj) <= 1e-10 * obj[:-1])
    assert model.embedding_.min() >= 0


def test_daimc_column_rescaling_keeps_the_reconstruction():
    views, _ = small_views()
    model = DAIMC(n_clusters=3, max_iter=5, verbose=False, kmeans_n_init=3).fit(views)
    V = model.embedding_.astype(np.float64)
    np.testing.assert_allclose(V.sum(axis=0), 1.0, rtol=1e-5)
    assert V.min() >= 0


# -- PIC -------------------------------------------------------------------------------


def test_simplex_qp_matches_a_grid_search():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3))
    H, f = A @ A.T, rng.normal(size=3)
    w = simplex_qp(H, f)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    grid = [
        np.array([a, b, 1 - a - b])
        for a in np.linspace(0, 1, 201)
        for b in np.linspace(0, 1, 201)
        if a + b <= 1
    ]
    best = min(0.5 * g @ H @ g + f @ g for g in grid)
    assert 0.5 * w @ H @ w + f @ w <= best + 1e-12


@pytest.mark.parametrize("cls", [PIC, DAIMC], ids=["PIC", "DAIMC"])
def test_incomplete_methods_never_read_masked_rows(cls):
    views, y = small_views(n=90, seed=4)
    nan_views, masks = incomplete(views, seed=5)
    assert (~masks[0]).sum() > 10 and (~masks[1]).sum() > 10
    model = cls(n_clusters=3, verbose=False, kmeans_n_init=5).fit(nan_views, masks=masks)
    assert np.isfinite(model.embedding_).all()
    assert adjusted_rand_score(y, model.labels_) > 0.9
    # the masked rows' values do not matter at all
    other = [v.copy() for v in nan_views]
    for v, m in zip(other, masks, strict=True):
        v[~m] = 1e6
    again = cls(n_clusters=3, verbose=False, kmeans_n_init=5).fit(other, masks=masks)
    np.testing.assert_array_equal(again.labels_, model.labels_)
    np.testing.assert_allclose(again.embedding_, model.embedding_, rtol=1e-5, atol=1e-6)


def test_pic_view_weights_lie_on_the_simplex():
    views, _ = small_views(n=60, seed=6)
    model = PIC(n_clusters=3, verbose=False, kmeans_n_init=3).fit(views)
    w = model.view_weights_
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)


def test_dcca_lbfgs_survives_a_nonfinite_trial_step(monkeypatch):
    """A line-search trial step where the objective fails is shortened, not fatal."""
    import mmclust.methods.deep.dcca as dcca_module

    real = dcca_module.cca_correlation
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] in (2, 3):
            raise torch.linalg.LinAlgError("trial step outside the finite region")
        if calls["n"] == 4:
            return real(*args, **kwargs) * float("nan")
        return real(*args, **kwargs)

    monkeypatch.setattr(dcca_module, "cca_correlation", flaky)
    model = DCCA(**{**DCCA_SMALL, "pretrain": False}, max_iter=10).fit(dcca_blobs())
    assert calls["n"] > 4
    assert np.isfinite(model.history_).all()
    assert model.history_[-1] >= model.history_[0] - 1e-6
