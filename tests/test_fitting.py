"""fit_run / write_run (one clustering run) and build_feature_set (one input of any kind)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mmclust.data import MultiViewDataset
from mmclust.features import FeatureSet
from mmclust.features.build import build_feature_set
from mmclust.fitting import RunError, fit_run, read_model, save_model, train_rows, write_run


def blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    X = rng.normal(size=(n, 4)).astype(np.float32) + 6.0 * y[:, None]
    return X, y


META = {"k": 3, "views": {"v": {"kind": "vector", "shape": [4]}}}


def test_fit_run_k_means_on_all_samples() -> None:
    X, y = blobs()
    res = fit_run(FeatureSet(X=X, mask=np.ones(len(X), bool)), {"estimator": "kmeans"}, META, 0)
    assert res.labels.shape == (60,) and res.labels.dtype == np.int64
    assert len(set(zip(res.labels, y, strict=True))) == 3  # the three blobs found
    assert res.info["estimator"] == "kmeans" and res.info["seed"] == 0
    assert res.model.get_params()["n_clusters"] == 3  # k from meta.json


def test_fit_run_with_a_split_fits_on_train_and_predicts_every_sample() -> None:
    X, _ = blobs()
    train = np.zeros(60, bool)
    train[::2] = True
    res = fit_run(
        FeatureSet(X=X, mask=np.ones(60, bool)), {"estimator": "kmeans"}, META, 1, train=train
    )
    assert res.labels.shape == (60,) and res.info["fitted_on"] == {"split": "train", "n": 30}


def test_fit_run_refuses_what_a_method_cannot_take() -> None:
    X, _ = blobs()
    partial = FeatureSet(X=X, mask=np.arange(60) % 5 != 0)
    with pytest.raises(RunError, match="12 samples lack a view of this input"):
        fit_run(partial, {"estimator": "kmeans"}, META, 0)
    with pytest.raises(RunError, match="is multi-view: give it a composite input"):
        fit_run(FeatureSet(X=X, mask=np.ones(60, bool)), {"estimator": "pic"}, META, 0)
    with pytest.raises(RunError, match="needs a pretrained autoencoder"):
        fit_run(FeatureSet(X=X, mask=np.ones(60, bool)), {"estimator": "dec"}, META, 0)
    with pytest.raises(RunError, match="learns from images"):
        fit_run(FeatureSet(X=X, mask=np.ones(60, bool)), {"estimator": "jule"}, META, 0)


def test_train_rows_reads_only_the_split(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", labels=np.zeros(4), split=np.array(["train", "test"] * 2))
    np.savez(tmp_path / "b.npz", labels=np.zeros(4))
    assert train_rows(tmp_path / "a.npz", 4).tolist() == [True, False, True, False]
    assert train_rows(tmp_path / "b.npz", 4) is None and train_rows(None, 4) is None
    with pytest.raises(RunError, match="split has 4 rows, the input 5"):
        train_rows(tmp_path / "a.npz", 5)


def test_write_run_records_what_the_run_used(tmp_path: Path) -> None:
    X, _ = blobs()
    features = tmp_path / "f.npz"
    FeatureSet(X=X, mask=np.ones(60, bool)).save(features)
    res = fit_run(FeatureSet.load(features), {"estimator": "kmeans", "n_init": 2}, META, 3)
    provenance = {"settings": {"n_init": {"value": 2, "from": "methods.kmeans"}}}
    write_run(tmp_path / "run", res, provenance, {"features": str(features), "autoencoder": None})
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} == {
        "labels.npy", "embedding.npy", "fit.json", "params.json", "model.pt"
    }  # fmt: skip
    params = json.loads((run / "params.json").read_text())
    assert params["params"]["n_init"] == 2 and params["params"]["random_state"] == 3
    assert params["run"] == provenance
    digest = hashlib.sha256(features.read_bytes()).hexdigest()
    assert params["inputs"] == {"features": [{"path": str(features), "sha256": digest}]}
    assert params["versions"]["numpy"] == np.__version__
    # labels come last: a finished run is one whose labels exist
    assert (run / "labels.npy").stat().st_mtime_ns >= (run / "model.pt").stat().st_mtime_ns


def test_model_file_without_a_network_is_json_and_old_files_stay_readable(
    tmp_path: Path,
) -> None:
    X, _ = blobs()
    res = fit_run(FeatureSet(X=X, mask=np.ones(60, bool)), {"estimator": "kmeans"}, META, 3)
    save_model(tmp_path / "model.pt", "kmeans", res.model)
    state = json.loads((tmp_path / "model.pt").read_text())
    assert state["format"] == 1 and state["estimator"] == "kmeans" and state["network"] is None
    assert state["params"]["random_state"] == 3 and state["params"]["n_clusters"] == 3
    assert read_model(tmp_path / "model.pt") == state
    # a run's model.pt as torch.save wrote it before: read the same way
    import torch

    torch.save(state, tmp_path / "old.pt")
    assert read_model(tmp_path / "old.pt") == state


def _dataset(tmp_path: Path) -> Path:
    X, y = blobs()
    ds = MultiViewDataset(
        "toy",
        {"a": X, "b": X[:, :2] * 10},
        y,
        masks={"a": np.ones(60, bool), "b": np.arange(60) % 4 != 0},
    )
    ds.save(tmp_path / "toy")
    return tmp_path / "toy"


def test_build_feature_set_of_each_kind(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    files = {"data": str(folder / "data.npz")}
    a = build_feature_set({"kind": "plain", "spec": {"views": ["a"]}}, files)
    np.testing.assert_allclose(a.X.mean(0), 0, atol=1e-5)  # standardised by default
    b = build_feature_set({"kind": "plain", "spec": {"views": ["b"], "transform": "none"}}, files)
    assert b.mask.sum() == 45
    a.save(tmp_path / "a.npz")
    b.save(tmp_path / "b.npz")
    pair = build_feature_set(
        {"kind": "combine", "spec": {"combine": ["a", "b"]}},
        {"parts": [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]},
    )
    assert list(pair.parts) == ["a", "b"] and pair.X.shape == (60, 6) and pair.mask.sum() == 45
    np.save(tmp_path / "emb.npy", np.ones((60, 3)))
    emb = build_feature_set(
        {"kind": "from_run", "spec": {"from_run": {}}}, {"embedding": str(tmp_path / "emb.npy")}
    )
    assert emb.X.dtype == np.float32 and emb.mask.all()
    derive = {"derived_from": "toy", "per_class": 5, "seed": 0}
    sub = build_feature_set(
        {"kind": "derived", "spec": {"views": ["a"]}, "derive": derive},
        {"base_features": str(tmp_path / "a.npz"), "base": str(folder / "data.npz")},
    )
    assert sub.X.shape == (15, 4)
    with pytest.raises(ValueError, match="unknown input kind 'magic'"):
        build_feature_set({"kind": "magic", "spec": {}}, files)
