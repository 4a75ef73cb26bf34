"""JULE's transfer table: model.pt of a cluster run, inputs made with from_model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mmclust.cli import main
from mmclust.data import MultiViewDataset
from mmclust.data.builders.digits import digits as load_digits_dataset
from mmclust.features import FeatureSet
from mmclust.fitting import read_model
from tests.helpers import TINY, planned_jobs, snakemake

torch.set_num_threads(1)

JULE_PARAMS = {"estimator": "jule", "arch": "usps", "epochs_per_period": 1, "verbose": False}
N = 300


@pytest.fixture(scope="module")
def source_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """300 scikit-learn digits (8x8), their pixels input and a JULE run on it, via the CLI."""
    root = tmp_path_factory.mktemp("transfer")
    ds = load_digits_dataset().subset(np.arange(N))
    ds.save(root / "digits")
    # the same digits, 16x16 in colour: another size and channel count
    big = torch.nn.functional.interpolate(
        torch.from_numpy(ds.views["image"][:, None].astype(np.float32)), size=(16, 16)
    )
    rgb = big[:, 0, :, :, None].repeat(1, 1, 1, 3).numpy().astype(np.uint8)
    MultiViewDataset("big", {"image": rgb}, ds.labels, kinds={"image": "image"}).save(root / "big")
    pixels_spec = {"views": ["image"], "transform": "scale", "factor": 0.02}
    features = root / "pixels.npz"
    cli(
        "features", "--data", str(root / "digits/data.npz"),
        "--settings", json.dumps({"kind": "plain", "spec": pixels_spec}), "--out", str(features),
    )  # fmt: skip
    run = root / "run"
    cli(
        "cluster", "--features", str(features), "--meta", str(root / "digits/meta.json"),
        "--params", json.dumps(JULE_PARAMS), "--seed", "0", "--out", str(run),
        "--device", "cpu",
    )  # fmt: skip
    return {"root": root, "run": run, "pixels_spec": pixels_spec, "features": features}


def cli(*argv: str) -> None:
    assert main(list(argv)) == 0


def transfer(source_run, dataset: str, layer: str, out: Path) -> FeatureSet:
    spec = {"from_model": {"dataset": "digits", "input": "pixels", "method": "jule", "seed": 0}}
    spec["from_model"]["layer"] = layer
    settings = {"kind": "from_model", "spec": spec, "source_spec": source_run["pixels_spec"]}
    cli(
        "features", "--data", str(source_run["root"] / dataset / "data.npz"),
        "--settings", json.dumps(settings), "--model", str(source_run["run"] / "model.pt"),
        "--device", "cpu", "--out", str(out),
    )  # fmt: skip
    return FeatureSet.load(out)


# -- model.pt and the features command -----------------------------------------------------


def test_cluster_writes_a_small_model_file(source_run, tmp_path):
    state = torch.load(source_run["run"] / "model.pt", weights_only=True)
    assert state["estimator"] == "jule" and state["params"]["arch"] == "usps"
    assert state["params"]["image_shape"] == [1, 8, 8]
    net = state["network"]
    assert net["class"] == "JuleCNN" and net["config"]["image_shape"] == (1, 8, 8)
    assert (source_run["run"] / "model.pt").stat().st_size < 1_000_000
    assert not list(source_run["run"].glob("*.part*"))
    # an estimator without a network: its name and parameters only
    cli(
        "cluster", "--features", str(source_run["features"]),
        "--meta", str(source_run["root"] / "digits/meta.json"),
        "--params", json.dumps({"estimator": "kmeans", "n_init": 1}), "--seed", "0",
        "--out", str(tmp_path / "km"),
    )  # fmt: skip
    # written as JSON (no torch needed), read by read_model like torch.save's files
    km_file = tmp_path / "km/model.pt"
    km = json.loads(km_file.read_text())
    assert km["estimator"] == "kmeans" and km["network"] is None and km["params"]["n_init"] == 1
    assert read_model(km_file) == km
    assert read_model(source_run["run"] / "model.pt")["network"]["class"] == "JuleCNN"


def test_from_model_on_its_own_data_set_gives_the_runs_embedding(source_run, tmp_path):
    fs = transfer(source_run, "digits", "top", tmp_path / "top.npz")
    emb = np.load(source_run["run"] / "embedding.npy")
    np.testing.assert_allclose(fs.X, emb, rtol=1e-5, atol=1e-6)
    assert fs.mask.all() and fs.X.dtype == np.float32


def test_from_model_resizes_and_converts_other_images(source_run, tmp_path):
    for layer, dim in [("top", 160), ("top-1", 200)]:
        fs = transfer(source_run, "big", layer, tmp_path / f"{layer}.npz")
        assert fs.X.shape == (N, dim)
        np.testing.assert_allclose(np.linalg.norm(fs.X, axis=1), 1.0, rtol=1e-5)
    # 16x16 RGB copies shrunk back to 8x8 grey: close to the originals' representation
    own = np.load(source_run["run"] / "embedding.npy")
    top = FeatureSet.load(tmp_path / "top.npz").X
    assert np.mean(np.sum(top * own, axis=1)) > 0.9
    with pytest.raises(ValueError, match="does not exist in a CNN of 1 block"):
        transfer(source_run, "big", "top-2", tmp_path / "top-2.npz")


# -- the workflow: planning and config checks ------------------------------------------------


def tiny_config() -> dict:
    return yaml.safe_load(TINY.read_text())


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_from_model_plans_the_source_run_and_a_transfer_job(tmp_path: Path) -> None:
    cfg = tiny_config()
    spec = cfg["inputs"]["captioned"]["from-digits-top-1"]["from_model"]
    assert spec == {"dataset": "digits", "input": "pixels", "method": "jule", "seed": 0,
                    "layer": "top-1"}  # fmt: skip
    target = "resources/features/captioned/from-digits-top-1.npz"
    jobs = planned_jobs(tmp_path, target, "--configfile", str(TINY))
    assert (
        "cluster",
        {"dataset": "digits", "input": "pixels", "method": "jule", "seed": "0"},
    ) in jobs
    assert ("build_input", {"dataset": "captioned", "input": "from-digits-top-1"}) in jobs
    assert ("build_input", {"dataset": "digits", "input": "pixels"}) in jobs
    prepared = {wc["dataset"] for r, wc in jobs if r == "prepare_dataset"}
    assert prepared == {"digits", "captioned"}
    # the captioned set's other inputs are not needed
    assert {wc["input"] for r, wc in jobs if r == "build_input"} == {"pixels", "from-digits-top-1"}
    res = snakemake(tmp_path, target, "--dry-run", "--printshellcmds", "--configfile", str(TINY))
    shell = res.stdout + res.stderr
    assert "--model results/runs/digits/pixels/jule/seed0/model.pt" in shell
    assert '"kind":"from_model"' in shell and '"source_spec":' in shell
    assert "--data resources/datasets/captioned/data.npz" in shell
