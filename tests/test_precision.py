"""The ``precision`` setting (src/mmclust/nn/precision.py) and every deep loop under it.

fp32 (the default) must not change a single bit; tf32 must equal fp32 on the CPU; bf16
must run every loop on the CPU with float32, finite outputs that cluster well-separated
blobs as fp32 does.  The CUDA side of the helper (the TF32 flags) is exercised on the CPU
through the same code with a "cuda" device object; no GPU is needed.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from mmclust.features import FeatureSet
from mmclust.fitting import fit_run
from mmclust.methods.deep.ccal import CCAL
from mmclust.methods.deep.dcn import DCN
from mmclust.methods.deep.dec import DEC, IDEC
from mmclust.methods.deep.dkm import DKM
from mmclust.methods.deep.imsat import IMSAT
from mmclust.methods.deep.vse import VSE
from mmclust.methods.dm2c import DM2C
from mmclust.methods.jecl import JECL
from mmclust.methods.jule import JULE
from mmclust.nn import DenoisingAutoencoder
from mmclust.nn.precision import (
    PRECISIONS,
    Precision,
    allow_tf32,
    check_precision,
    effective_precision,
    to_float32,
)

# -- data: three well-separated blobs and a second view of them ---------------------------


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = make_blobs(240, n_features=16, centers=3, cluster_std=1.0, random_state=3)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    V = (X @ np.random.default_rng(0).normal(size=(16, 8)) / 4).astype(np.float32)
    return X, V, y


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def ari(a: np.ndarray, b: np.ndarray) -> float:
    return float(adjusted_rand_score(a, b))


KW = {"device": "cpu", "verbose": False, "random_state": 0}


def autoencoder(Z: np.ndarray, **kw) -> DenoisingAutoencoder:
    return DenoisingAutoencoder(hidden_dims=[32, 8], epochs=30, batch_size=32, **KW, **kw).fit(Z)


def fit_loop(name: str, data: tuple, precision: str | None) -> object:
    """One small fit of a deep loop; ``precision=None`` leaves the parameter out."""
    X, V, _ = data
    kw = {} if precision is None else {"precision": precision}
    if name in ("dec", "idec", "dkm", "dcn"):
        cls = {"dec": DEC, "idec": IDEC, "dkm": DKM, "dcn": DCN}[name]
        epochs = {"dkm": {"n_alphas": 3, "epochs_per_alpha": 1}, "dcn": {"epochs": 3}}
        extra = epochs.get(name, {"max_epochs": 5})
        return cls(
            n_clusters=3, autoencoder=autoencoder(X, **kw), batch_size=32, n_init=3,
            **extra, **KW, **kw,
        ).fit(X)  # fmt: skip
    if name == "imsat":
        est = IMSAT(n_clusters=3, hidden_dims=(32, 32), epochs=20, batch_size=40, **KW, **kw)
        return est.fit(X)
    if name == "jule":
        return JULE(
            n_clusters=3, image_shape=(1, 4, 4), arch=None, n_blocks=1, padding=2,
            epochs_per_period=2, batch_size=40, **KW, **kw,
        ).fit(X)  # fmt: skip
    if name == "jecl":
        aes = [autoencoder(X, **kw), autoencoder(V, **kw)]
        return JECL(
            n_clusters=3, autoencoders=aes, max_epochs=5, batch_size=32, n_init=3, **KW, **kw
        ).fit([X, V])
    if name == "vse":
        return VSE(n_clusters=3, embed_dim=8, max_epochs=5, batch_size=32, **KW, **kw).fit([X, V])
    if name == "ccal":
        return CCAL(
            n_clusters=3, hidden_dims=(16,), out_dim=4, max_epochs=5, batch_size=60, **KW, **kw
        ).fit([X, V])
    if name == "dm2c":
        first = np.arange(len(X)) % 2 == 0
        return DM2C(
            n_clusters=3, hidden_dims_a=(16, 4), hidden_dims_b=(16, 4),
            generator_hidden_dims=(8,), epochs=3, pretrain_epochs=20, batch_size=32, **KW, **kw,
        ).fit([X, V], masks=[first, ~first])  # fmt: skip
    raise ValueError(name)


LOOPS = ["dec", "idec", "dkm", "dcn", "imsat", "jule", "jecl", "vse", "ccal", "dm2c"]
# on these blobs every loop but DM2C finds the three clusters (ARI >= 0.9 in fp32): DM2C
# sees each sample in one modality only, its second modality a random projection
FINDS_THE_BLOBS = set(LOOPS) - {"dm2c"}


@pytest.fixture(autouse=True)
def quiet(caplog):
    caplog.set_level(logging.ERROR)


# -- the helper ---------------------------------------------------------------------------


def test_only_the_three_precisions_are_accepted() -> None:
    assert PRECISIONS == ("fp32", "tf32", "bf16")
    for p in PRECISIONS:
        assert check_precision(p) == p
    with pytest.raises(ValueError, match=r"precision: 'fp16' is not one of: fp32, tf32, bf16"):
        check_precision("fp16")
    with pytest.raises(ValueError, match="precision: 'half'"):
        DEC(precision="half", **KW).fit(np.zeros((20, 3), np.float32))


def test_tf32_is_fp32_off_cuda() -> None:
    assert effective_precision("tf32", "cpu") == "fp32"
    assert effective_precision("tf32", torch.device("cuda")) == "tf32"
    assert effective_precision("bf16", "cpu") == "bf16"
    assert effective_precision("fp32", "cuda:1") == "fp32"
    assert Precision("tf32", "cpu").used == "fp32"


def _autocast_on() -> bool:
    return torch.is_autocast_enabled("cpu")


def test_fp32_and_tf32_on_the_cpu_enter_no_context_and_change_nothing() -> None:
    seen = []

    def fn(x):
        seen.append(_autocast_on())
        return x * 2

    for p in ("fp32", "tf32"):
        prec = Precision(p, "cpu")
        x = torch.ones(3)
        assert prec.run(fn, x).dtype == torch.float32
        assert prec.wrap(fn) is fn  # the function itself: nothing wrapped around it
    assert seen == [False, False]


def test_bf16_runs_the_forward_under_autocast_and_returns_float32() -> None:
    lin = torch.nn.Linear(4, 3)
    prec = Precision("bf16", "cpu")

    def forward(x):
        h = lin(x)
        assert _autocast_on() and h.dtype == torch.bfloat16  # the matmul is bf16
        return h, {"h": h, "n": torch.arange(3)}

    h, extra = prec.run(forward, torch.randn(5, 4))
    assert not _autocast_on()  # the context is left
    assert h.dtype == extra["h"].dtype == torch.float32
    assert extra["n"].dtype == torch.int64  # integers are left alone
    # parameters and their gradients stay float32; the loss is computed in float32
    loss = (prec.wrap(lin)(torch.randn(5, 4)) ** 2).mean()
    assert loss.dtype == torch.float32
    prec.backward(loss)
    assert lin.weight.dtype == lin.weight.grad.dtype == torch.float32


def test_to_float32_casts_only_reduced_precision_floats() -> None:
    out = to_float32([torch.zeros(2, dtype=torch.bfloat16), torch.zeros(2, dtype=torch.float64)])
    assert [t.dtype for t in out] == [torch.float32, torch.float64]
    assert to_float32("text") == "text"


needs_fp32_precision_api = pytest.mark.skipif(
    not hasattr(torch.backends.cuda.matmul, "fp32_precision"), reason="torch < 2.9"
)


@needs_fp32_precision_api
def test_tf32_on_cuda_sets_the_cuda_flags_for_a_pass_and_restores_them() -> None:
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    before = (matmul.fp32_precision, conv.fp32_precision)
    with allow_tf32():
        assert matmul.fp32_precision == conv.fp32_precision == "tf32"
    assert (matmul.fp32_precision, conv.fp32_precision) == before
    # the same code path the estimators take on a GPU, with a CUDA device object
    prec = Precision("tf32", torch.device("cuda"))
    assert prec.used == "tf32"
    seen = []
    prec.run(lambda: seen.append(matmul.fp32_precision))
    with prec.backward_context():
        seen.append(matmul.fp32_precision)
    loss = (torch.ones(2, requires_grad=True) * 3).sum()
    prec.backward(loss)
    assert seen == ["tf32", "tf32"]
    assert (matmul.fp32_precision, conv.fp32_precision) == before
    # fp32 and bf16 never touch the flags, and tf32 on the CPU neither (oneDNN's are not set)
    cpu_flag = torch.backends.mkldnn.matmul.fp32_precision
    for p, dev in (("fp32", "cuda"), ("tf32", "cpu")):
        Precision(p, dev).run(lambda: seen.append(matmul.fp32_precision))
    assert seen[-2:] == [before[0], before[0]]
    assert torch.backends.mkldnn.matmul.fp32_precision == cpu_flag
    with pytest.raises(RuntimeError):
        with allow_tf32():
            raise RuntimeError("restored on errors too")
    assert (matmul.fp32_precision, conv.fp32_precision) == before


def test_the_log_says_what_each_precision_does(caplog) -> None:
    assert "no effect on cpu" in Precision("tf32", "cpu").describe()
    assert "bfloat16 autocast" in Precision("bf16", "cpu").describe()
    with caplog.at_level(logging.INFO, logger="mmclust.nn.precision"):
        Precision("fp32", "cpu").log("DEC")
        Precision("tf32", "cpu").log("DEC")
    assert [r.getMessage() for r in caplog.records] == [
        "DEC: precision tf32 has no effect on cpu (a CUDA mode): float32 throughout"
    ]


# -- the loops ----------------------------------------------------------------------------


def test_fp32_is_the_default_and_changes_nothing(blobs) -> None:
    """Same seed: the key absent and precision=fp32 give the same bits."""
    X = blobs[0]
    a = fit_loop("dec", blobs, None)
    b = fit_loop("dec", blobs, "fp32")
    assert a.get_params()["precision"] == "fp32"
    assert np.array_equal(a.labels_, b.labels_)
    assert np.array_equal(a.embedding_, b.embedding_)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    ae_a, ae_b = autoencoder(X), autoencoder(X, precision="fp32")
    assert ae_a.loss_history_ == ae_b.loss_history_


@pytest.mark.parametrize("name", ["dec", "jecl", "jule"])
def test_tf32_on_the_cpu_equals_fp32_exactly(blobs, name) -> None:
    a, b = fit_loop(name, blobs, "fp32"), fit_loop(name, blobs, "tf32")
    assert np.array_equal(a.labels_, b.labels_)
    assert np.array_equal(a.embedding_, b.embedding_)


def test_bf16_autoencoder_reconstructs_as_well_as_fp32(blobs) -> None:
    X = blobs[0]
    fp32, bf16 = autoencoder(X), autoencoder(X, precision="bf16")
    codes = bf16.transform(X)
    assert codes.dtype == np.float32 and np.isfinite(codes).all()
    # the same training within bfloat16's rounding (8-bit mantissa): the final losses
    # agree to 2 %, and the codes differ from fp32's by a small fraction of their spread
    assert bf16.loss_history_[-1] == pytest.approx(fp32.loss_history_[-1], rel=0.02)
    assert bf16.reconstruction_error(X) == pytest.approx(fp32.reconstruction_error(X), rel=0.05)
    assert np.abs(codes - fp32.transform(X)).max() < 0.1 * codes.std()
    assert bf16.get_params()["precision"] == "bf16"


@pytest.mark.parametrize("name", LOOPS)
def test_bf16_on_the_cpu_gives_float32_finite_outputs_and_the_fp32_clusters(blobs, name) -> None:
    y = blobs[2]
    fp32, bf16 = fit_loop(name, blobs, "fp32"), fit_loop(name, blobs, "bf16")
    emb = bf16.embedding_
    assert emb.dtype == np.float32 and np.isfinite(emb).all()
    if name in ("dec", "idec", "dkm", "dcn", "jecl"):  # centres learned with the network
        centers = bf16.cluster_centers_
        for c in centers if isinstance(centers, list) else [centers]:
            assert c.dtype == np.float32 and np.isfinite(c).all()
    if name in ("dec", "idec"):
        q = bf16.predict_proba(blobs[0])
        assert q.dtype == np.float32 and np.allclose(q.sum(1), 1.0, atol=1e-5)
    if name == "jecl":
        assert bf16.target_.dtype == np.float32 and np.allclose(bf16.target_.sum(1), 1, atol=1e-5)
    assert ari(fp32.labels_, bf16.labels_) >= 0.9
    if name in FINDS_THE_BLOBS:
        assert ari(y, fp32.labels_) >= 0.9 and ari(y, bf16.labels_) >= 0.9
    # predict / transform after the fit use the fit's precision: they give the fit's result
    if name in ("dec", "dcn"):
        assert np.array_equal(bf16.predict(blobs[0]), bf16.labels_)
        assert np.array_equal(bf16.transform(blobs[0]), emb)


def test_bf16_is_deterministic_on_the_cpu(blobs) -> None:
    a, b = fit_loop("jecl", blobs, "bf16"), fit_loop("jecl", blobs, "bf16")
    assert np.array_equal(a.labels_, b.labels_) and np.array_equal(a.embedding_, b.embedding_)


# -- the run record -----------------------------------------------------------------------

META = {"k": 3, "views": {"v": {"kind": "vector", "shape": [16]}}}


def test_fit_run_passes_the_precision_and_records_what_was_used(blobs) -> None:
    X, y = blobs[0], blobs[2]
    fs = FeatureSet(X=X, mask=np.ones(len(X), bool))
    ae = autoencoder(X)
    settings = {"estimator": "dec", "max_epochs": 3, "batch_size": 32, "n_init": 2}
    absent = fit_run(fs, settings, META, 0, autoencoders=[ae], device="cpu")
    fp32 = fit_run(fs, settings, META, 0, autoencoders=[ae], device="cpu", precision="fp32")
    assert absent.info["precision"] == fp32.info["precision"] == "fp32"
    assert "precision_requested" not in fp32.info
    assert np.array_equal(absent.labels, fp32.labels)
    tf32 = fit_run(fs, settings, META, 0, autoencoders=[ae], device="cpu", precision="tf32")
    assert tf32.info["precision"] == "fp32" and tf32.info["precision_requested"] == "tf32"
    assert np.array_equal(tf32.labels, fp32.labels)
    bf16 = fit_run(fs, settings, META, 0, autoencoders=[ae], device="cpu", precision="bf16")
    assert bf16.info["precision"] == "bf16" and bf16.model.get_params()["precision"] == "bf16"
    assert bf16.embedding.dtype == np.float32 and ari(y, bf16.labels) >= 0.9
    # an estimator without a reduced-precision mode runs as always and records none
    km = fit_run(fs, {"estimator": "kmeans"}, META, 0, device="cpu", precision="bf16")
    assert "precision" not in km.info
