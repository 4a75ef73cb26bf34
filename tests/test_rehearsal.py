"""The rehearsal of the full reproduction: raw files in the real formats from 127.0.0.1.

Fast tests: every downloaded data set of the default configuration is fetched
from a local server and built from small files in its real format
(tests/fixtures_rehearsal.py), and each fix the rehearsal needed is tested on
its own.  The slow test runs a slice of the rehearsal through Snakemake
(tests/rehearsal.py; ``make rehearsal`` runs all of it).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmclust.data import builders
from mmclust.data.builders._common import class_shares, count_differences, words_per_item
from mmclust.data.download import ManualDownloadRequired, ensure_source
from mmclust.data.lockfile import LOCK_NAME, ChecksumLock
from mmclust.plan import Plan, load_files
from tests.fixtures_http import FileServer
from tests.fixtures_rehearsal import NUS_10K, build_rehearsal_data
from tests.helpers import REPO
from tests.rehearsal import MANUAL_SOURCES, manual_folder

DEFAULT = load_files([REPO / "config" / "config.yaml"])  # with its include: files
RAW_DATASETS = {name: d for name, d in DEFAULT["datasets"].items() if d.get("raw")}
FAST = {"progress": False, "timeout": 5, "retries": 1, "backoff": 0.0}


@pytest.fixture(scope="module")
def rehearsal_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rehearsal")
    build_rehearsal_data(out)
    return out


@pytest.fixture(scope="module")
def raw_folders(rehearsal_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every raw source of the default config fetched from a local server, manual files placed."""
    raw = tmp_path_factory.mktemp("raw")
    registry = rehearsal_data / "registry.yaml"
    with FileServer() as server:
        base = server.add_folder(rehearsal_data / "mirror")
        for source in sorted({d["raw"] for d in RAW_DATASETS.values()}):
            kwargs = {"mirror": base, "mirror_only": True, "registry": registry, **FAST}
            try:
                ensure_source(source, raw / source, **kwargs)
            except ManualDownloadRequired as exc:
                assert source in MANUAL_SOURCES, f"{source} stopped for manual files: {exc}"
                assert exc.folder == (raw / source).resolve()
                shutil.copytree(rehearsal_data / "manual" / source, exc.folder, dirs_exist_ok=True)
                ensure_source(source, raw / source, **kwargs)
            else:
                assert source not in MANUAL_SOURCES, f"{source} did not ask for its manual files"
    return raw


def test_every_downloaded_data_set_has_fixture_files(rehearsal_data: Path) -> None:
    counts = json.loads((rehearsal_data / "counts.json").read_text())
    assert set(counts) == set(RAW_DATASETS)
    served = {p.name for p in (rehearsal_data / "mirror").iterdir()}
    assert {d["raw"] for d in RAW_DATASETS.values()} <= served | set(MANUAL_SOURCES)


def test_rehearsal_registry_pins_the_fixtures_only_where_checksums_are_published(
    rehearsal_data: Path,
) -> None:
    from mmclust.data.registry import load_registry

    real, rehearsal = load_registry(), load_registry(rehearsal_data / "registry.yaml")
    assert set(real) == set(rehearsal)
    for name, spec in real.items():
        for f, g in zip(spec.files, rehearsal[name].files, strict=True):
            assert f.urls == g.urls and f.format == g.format
            assert bool(f.sha256 or f.md5) == bool(g.sha256 or g.md5), (name, f.name)


@pytest.mark.parametrize("dataset", sorted(RAW_DATASETS))
def test_builder_reads_the_real_format(dataset: str, raw_folders: Path, rehearsal_data) -> None:
    spec = RAW_DATASETS[dataset]
    options = {**(spec.get("options") or {}), "raw_dir": raw_folders / spec["raw"]}
    if dataset == "coco-all":
        options["min_per_class"] = 3  # as config/rehearsal.yaml: the fixture is small
    ds = builders.build(spec["source"], dataset, options)
    expected = json.loads((rehearsal_data / "counts.json").read_text())[dataset]
    labels = np.asarray(ds.labels)
    assert (labels.size, np.unique(labels).size) == (expected["n"], expected["k"])
    assert ds.meta["obtained_counts"]["n"] == expected["n"]
    assert ds.meta["reference_counts"]["n"] > expected["n"]
    assert "n" in ds.meta["count_differences"]  # the fixture is smaller than the paper's set
    if "text" in ds.views:
        texts = np.asarray(ds.views["text"])[np.asarray(ds.masks["text"])]
        assert texts.size and all(len(t.split()) >= 3 for t in texts)
    if ds.split is not None:
        assert int((np.asarray(ds.split) == "train").sum()) == expected["train"]


def test_trust_on_first_use_files_are_locked(raw_folders: Path) -> None:
    lock = ChecksumLock(raw_folders / LOCK_NAME)
    for source, name in [
        ("wikipedia", "wikipedia_dataset.zip"),
        ("coil-20", "coil-20-proc.zip"),
        ("umist", "umist_cropped.mat"),
        ("usps-11k", "usps_all.mat"),
    ]:
        entry = lock.get(source, name)
        assert entry is not None and entry.url.startswith("http://127.0.0.1:"), (source, name)


def test_manual_message_names_the_folder() -> None:
    log = (
        "ERROR ...\nPut the files into this folder (paths relative to it):\n"
        "    /data/resources/raw/nus-wide\n\nExpected there:\n"
    )
    assert manual_folder(log) == Path("/data/resources/raw/nus-wide")
    assert manual_folder("no message") is None


# -- the fixes --------------------------------------------------------------------------------


def test_nus_wide_default_is_the_published_concept_list(raw_folders: Path) -> None:
    ds = builders.build("nus_wide_10k", "nus", {"raw_dir": raw_folders / "nus-wide"})
    assert sorted(ds.class_names) == sorted(NUS_10K)
    selection = ds.meta["selection"]
    assert selection["published_list"] and not selection["auto_selected"]
    auto = builders.build(
        "nus_wide_10k", "nus", {"raw_dir": raw_folders / "nus-wide", "concepts": None}
    )
    assert auto.meta["selection"]["auto_selected"]


def test_wikipedia_without_categories_list(raw_folders: Path, tmp_path: Path) -> None:
    copy = tmp_path / "wikipedia"
    shutil.copytree(raw_folders / "wikipedia", copy)
    (copy / "wikipedia_dataset" / "categories.list").unlink()
    ds = builders.build("wikipedia", "wiki", {"raw_dir": copy})
    assert ds.class_names[:2] == ["art", "biology"] and len(ds.class_names) == 10
    assert np.asarray(ds.labels).size == 50


def test_class_shares_and_count_differences() -> None:
    shares = class_shares(np.array([0, 0, 0, 1, 2, 2, 2, 2]))
    assert shares == {"largest_class_share": 0.5, "smallest_class_share": 0.125}
    paper = {"n": 8, "k": 3, "largest_class_share": 0.499, "smallest_class_share": 0.2}
    got = {"n": 8, "k": 3, **shares}
    assert count_differences(got, paper) == {
        "smallest_class_share": {"obtained": 0.125, "paper": 0.2}
    }
    assert count_differences(got, None) == {}
    # words per item at the paper's precision (one decimal)
    assert count_differences({"words_per_item": 50.46}, {"words_per_item": 50.5}) == {}
    assert count_differences({"words_per_item": 49.0}, {"words_per_item": 50.5}) == {
        "words_per_item": {"obtained": 49.0, "paper": 50.5}
    }
    assert words_per_item(np.array(["a b c", "", "d e"]), np.array([True, False, True])) == {
        "words_per_item": 2.5
    }


def test_random_weights_are_the_real_architecture_and_seeded(caplog) -> None:
    import torch

    from mmclust.features.image import RANDOM_WEIGHTS, load_feature_model, resolve_weights

    a = resolve_weights("resnet50", RANDOM_WEIGHTS)
    b = resolve_weights("resnet50", RANDOM_WEIGHTS)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "RANDOMLY INITIALISED" in caplog.text
    net = load_feature_model("resnet50", RANDOM_WEIGHTS)
    with torch.inference_mode():
        out = net(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 2048)


def test_registry_key_reaches_the_download_command(tmp_path: Path) -> None:
    from mmclust.cli import build_parser

    cfg = load_files([REPO / "config" / "rehearsal.yaml"])
    cfg["downloads"] = {
        "mirror": "http://127.0.0.1:1/",
        "mirror_only": True,
        "registry": "r y.yaml",
    }
    flags = Plan(cfg).download_flags()
    assert flags.endswith("--registry 'r y.yaml'") and "--mirror-only" in flags
    args = build_parser().parse_args(["download", "mnist", "raw", "--registry", "r.yaml"])
    assert args.registry == Path("r.yaml")


def test_rehearsal_overlay_keeps_the_default_experiments() -> None:
    cfg = load_files([REPO / "config" / "rehearsal.yaml"])
    paper = {
        name
        for name, exp in DEFAULT["experiments"].items()
        if not str(exp.get("regenerates", "")).startswith("none") and name != "baselines"
    }
    assert set(cfg["targets"]) == paper
    for name in paper:
        assert cfg["experiments"][name]["runs"] == DEFAULT["experiments"][name]["runs"], name
    assert set(cfg["datasets"]) == set(DEFAULT["datasets"])


@pytest.mark.slow
def test_rehearsal_slice_through_snakemake(tmp_path: Path) -> None:
    """Downloads from 127.0.0.1 -> prepare -> features -> pretrain -> cluster -> tables."""
    from tests.rehearsal import SLICE, run

    lines: list[str] = []
    assert run(tmp_path, cores=2, slice_=True, out=lines.append) == 0, (
        "\n".join(lines) + (tmp_path / "rehearsal.log").read_text()[-5000:]
    )
    assert any("nus-wide: files placed" in line for line in lines)
    for name in SLICE["targets"]:
        assert (tmp_path / "results" / "tables" / f"{name}.md").is_file(), name
    assert (tmp_path / "results" / "figures" / "jule-robustness-eta.png").is_file()
    # the report agrees: every table of the slice ran, none is reported blocked
    with open(tmp_path / "results" / "report" / "not_run.csv", newline="") as fh:
        status = {r["experiment"]: r["status"] for r in csv.DictReader(fh)}
    assert {status[name] for name in SLICE["targets"]} == {"ran"}, status
    assert set(status.values()) <= {"ran", "not selected"}, status
    assert list((tmp_path / "results" / "figures").glob("tsne_*.png"))
    counts = json.loads((tmp_path / "fixtures" / "counts.json").read_text())
    for dataset, expected in counts.items():
        meta = json.loads((tmp_path / "resources" / "datasets" / dataset / "meta.json").read_text())
        assert meta["obtained_counts"]["n"] == expected["n"], dataset
    features = (tmp_path / "logs" / "build_input" / "coco-cross" / "resnet50.log").read_text()
    assert "RANDOMLY INITIALISED" in features


def test_tsne_of_fewer_points_than_pca_dimensions() -> None:
    from mmclust.report.figures import tsne_points

    emb = np.random.default_rng(0).normal(size=(40, 160))
    xy, idx = tsne_points(emb, max_points=5000, perplexity=30, random_state=0)
    assert xy.shape == (40, 2) and idx.tolist() == list(range(40))
    assert np.isfinite(xy).all()


def test_ccal_with_fewer_pairs_than_code_dimensions() -> None:
    """A mini-batch of at most out_dim pairs made CCAL's gradient non-finite (NaN at n = 51)."""
    from mmclust.methods.deep.ccal import CCAL

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    a = (rng.normal(size=(60, 12)) + y[:, None]).astype(np.float32)
    b = (rng.normal(size=(60, 6)) + y[:, None]).astype(np.float32)
    small = {"hidden_dims": (16,), "max_epochs": 2, "kmeans_n_init": 2, "verbose": False}
    with pytest.raises(ValueError, match="more than out_dim=64 complete pairs"):
        CCAL(n_clusters=3, out_dim=64, device="cpu", **small).fit([a, b])
    with pytest.raises(ValueError, match="batch_size=8 must exceed out_dim=8"):
        CCAL(n_clusters=3, out_dim=8, batch_size=8, device="cpu", **small).fit([a, b])
    # a trailing batch of 60 - 50 = 10 <= out_dim pairs is skipped, not trained on
    model = CCAL(n_clusters=3, out_dim=16, batch_size=50, device="cpu", **small).fit([a, b])
    assert np.isfinite(model.embedding_).all()


def test_fixtures_are_the_same_bytes_on_every_build(rehearsal_data: Path, tmp_path: Path) -> None:
    """A rebuilt rehearsal folder must not contradict the lock of its first downloads."""
    build_rehearsal_data(tmp_path)
    first = (rehearsal_data / "registry.yaml").read_text()
    assert (tmp_path / "registry.yaml").read_text() == first
    for path in (rehearsal_data / "mirror").rglob("*"):
        if path.is_file():
            again = tmp_path / "mirror" / path.relative_to(rehearsal_data / "mirror")
            assert again.read_bytes() == path.read_bytes(), path.name
