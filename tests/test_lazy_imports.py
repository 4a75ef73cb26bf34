"""Commands that do not train never import torch, torchvision or gensim.

Every workflow job is a fresh interpreter: a job that scores, tabulates, draws or
prepares data pays the import of whatever its command loads (torch alone takes
seconds).  A cluster job imports torch only for a method that computes with it
(``registry.TORCH_FREE`` lists the others).  Each check runs in a subprocess so
that the test session's own imports do not hide an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmclust.data import MultiViewDataset

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "gensim")

#: the sub-commands of ``python -m mmclust`` that never train
LIGHT_COMMANDS = [
    "prepare", "download", "evaluate", "score", "aggregate", "table", "tsne", "sweep",
    "plan", "claims",
]  # fmt: skip

#: the modules those commands (and ``python -m mmclust.report``) import when they run
LIGHT_MODULES = [
    "mmclust.cli", "mmclust.report.__main__", "mmclust.scoring", "mmclust.metrics",
    "mmclust.io", "mmclust.validation", "mmclust.data", "mmclust.data.download",
    "mmclust.data.derive", "mmclust.data.mixed", "mmclust.features.build",
    "mmclust.features.extract", "mmclust.features.text", "mmclust.features.combine",
    "mmclust.features.reduce", "mmclust.report.tables", "mmclust.report.figures",
    "mmclust.report.sweeps", "mmclust.report.claims", "mmclust.report.scorecard",
    "mmclust.report.datasheet", "mmclust.report.health", "mmclust.report.notrun",
    "mmclust.report.claims_section", "mmclust.report.html", "mmclust.plan",
    "mmclust.plan.show", "mmclust.methods.registry",
]  # fmt: skip


#: the expression that lists the heavy packages loaded so far
LOADED = f"sorted(m for m in {HEAVY!r} if m in sys.modules)"


def _fresh_json(code: str, timeout: int) -> Any:
    """Run ``code`` in a fresh interpreter (the source tree first on its path) and
    return the JSON its last output line prints."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _heavy_after(code: str) -> list[str]:
    """The heavy packages loaded after running ``code`` in a fresh interpreter."""
    return _fresh_json(f"{code}\nimport json, sys\nprint(json.dumps({LOADED}))\n", timeout=300)


def test_cli_and_light_modules_do_not_import_torch() -> None:
    code = "\n".join(
        [
            "import importlib, contextlib, io",
            f"for name in {LIGHT_MODULES!r}:",
            "    importlib.import_module(name)",
            "from mmclust.cli import main",
            f"for cmd in {LIGHT_COMMANDS!r}:",
            "    with contextlib.redirect_stdout(io.StringIO()):",
            "        try:",
            "            main([cmd, '--help'])",
            "        except SystemExit:",
            "            pass",
        ]
    )
    assert _heavy_after(code) == []


@pytest.fixture
def captioned(tmp_path: Path) -> Path:
    n = 40
    rng = np.random.default_rng(0)
    words = np.array(["red", "blue", "digit", "seven", "café", "two", "dogs", "a"])
    texts = np.array([" ".join(rng.choice(words, 4)) for _ in range(n)])
    ds = MultiViewDataset(
        name="toy",
        views={"pixels": rng.normal(size=(n, 5)), "text": texts},
        labels=np.arange(n) % 2,
    )
    ds.save(tmp_path / "ds")
    for seed in (0, 1):
        run = tmp_path / f"run{seed}"
        run.mkdir()
        np.save(run / "labels.npy", rng.integers(0, 2, n))
        (run / "fit.json").write_text(json.dumps({"fit_seconds": 0.1}))
    return tmp_path


def test_scoring_and_the_bag_of_words_run_without_torch(captioned: Path) -> None:
    """The scoring of a cell and a bag-of-words input, run for real, load none of them."""
    t = captioned
    ids = [{"dataset": "toy", "input": "pixels", "method": "m", "seed": s} for s in (0, 1)]
    score = [
        "score", "--dataset", str(t / "ds"),
        "--labels", str(t / "run0/labels.npy"), str(t / "run1/labels.npy"),
        "--fit-info", str(t / "run0/fit.json"), str(t / "run1/fit.json"),
        "--runs", json.dumps(ids), "--out", str(t / "m0.json"), str(t / "m1.json"),
    ]  # fmt: skip
    bow = {"kind": "extractor", "spec": {"views": ["text"], "extractor": "bow"}}
    features = [
        "features", "--data", str(t / "ds/data.npz"), "--settings", json.dumps(bow),
        "--out", str(t / "bow.npz"),
    ]  # fmt: skip
    code = "\n".join(
        [
            "from mmclust.cli import main",
            f"assert main({score!r}) == 0",
            f"assert main({features!r}) == 0",
        ]
    )
    assert _heavy_after(code) == []
    assert json.loads((t / "m1.json").read_text())["seed"] == 1
    assert (t / "bow.npz").exists()


# -- cluster jobs: torch only for the methods that compute with it -----------------------


@pytest.fixture
def cluster_inputs(tmp_path: Path) -> Path:
    """A single input, a two-view composite and one with a missing view, 3 blobs of 30."""
    from mmclust.features import FeatureSet

    n = 90
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), n // 3)
    a = (rng.normal(size=(n, 6)) + 4.0 * y[:, None]).astype(np.float32)
    b = (np.abs(rng.normal(size=(n, 5))) + 3.0 * y[:, None]).astype(np.float32)
    every, some = np.ones(n, bool), np.arange(n) % 5 != 0
    FeatureSet(X=a, mask=every).save(tmp_path / "single.npz")
    both = {"parts": {"a": a, "b": b}, "part_masks": {"a": every, "b": every}}
    FeatureSet(X=np.hstack([a, b]), mask=every, **both).save(tmp_path / "multi.npz")
    b_some = b * some[:, None]
    FeatureSet(
        X=np.hstack([a, b_some]), mask=some, parts={"a": a, "b": b_some},
        part_masks={"a": every, "b": some},
    ).save(tmp_path / "incomplete.npz")  # fmt: skip
    (tmp_path / "meta.json").write_text(json.dumps({"k": 3, "views": {}}))
    return tmp_path


def _cluster_args(
    t: Path, params: dict[str, object], features: str, *extra: str, threads: int = 1
) -> list[str]:
    out = t / "runs" / str(params["estimator"])
    return [
        "cluster", "--features", str(t / f"{features}.npz"), "--meta", str(t / "meta.json"),
        "--params", json.dumps(params), "--seed", "0", "--out", str(out),
        "--device", "cpu", "--threads", str(threads), *extra,
    ]  # fmt: skip


def _run_and_report(commands: list[list[str]]) -> dict[str, object]:
    """Run ``mmclust`` commands in a fresh interpreter; the heavy packages loaded and
    torch's thread count (None without torch)."""
    threads = "sys.modules['torch'].get_num_threads() if 'torch' in sys.modules else None"
    code = "\n".join(
        [
            "import json, sys",
            "from mmclust.cli import main",
            f"for argv in {commands!r}:",
            "    assert main(argv) == 0, argv",
            f"print(json.dumps({{'loaded': {LOADED}, 'threads': {threads}}}))",
        ]
    )
    return _fresh_json(code, timeout=600)


def test_cluster_jobs_of_methods_without_torch_never_import_it(cluster_inputs: Path) -> None:
    """Every estimator the registry lists as torch-free fits, writes its run folder (its
    model.pt as JSON) and loads neither torch, torchvision nor gensim."""
    from mmclust.methods.registry import ESTIMATORS, MULTIVIEW, TORCH_FREE

    t = cluster_inputs
    assert TORCH_FREE <= set(ESTIMATORS)
    # k-means, the spectral and agglomerative baselines, the shallow multi-view ones
    assert {"kmeans", "sc-njw", "n-cuts", "ac-link", "ac-pic", "bmvc", "pic"} <= TORCH_FREE
    features = {"daimc": "incomplete"} | {m: "multi" for m in MULTIVIEW - {"daimc"}}
    commands = [
        _cluster_args(t, {"estimator": m}, features.get(m, "single")) for m in sorted(TORCH_FREE)
    ]
    assert _run_and_report(commands) == {"loaded": [], "threads": None}
    for m in TORCH_FREE:
        run = t / "runs" / m
        assert np.load(run / "labels.npy").shape == (90,)
        assert json.loads((run / "model.pt").read_text())["estimator"] == m


def test_cluster_jobs_that_compute_with_torch_set_its_threads(cluster_inputs: Path) -> None:
    """A deep method from a pretrained autoencoder and a classical method that computes
    with torch (AC-GDL's kNN search) still run, each with torch limited to its --threads."""
    t = cluster_inputs
    gdl = _cluster_args(t, {"estimator": "ac-gdl"}, "single", threads=3)
    assert _run_and_report([gdl]) == {"loaded": ["torch"], "threads": 3}
    ae = {"hidden_dims": [8, 3], "epochs": 2, "batch_size": 32, "verbose": False}
    pretrain = [
        "pretrain", "--features", str(t / "single.npz"), "--params", json.dumps(ae),
        "--seed", "0", "--embedding", str(t / "ae.npy"), "--model", str(t / "ae.pt"),
        "--device", "cpu", "--threads", "2",
    ]  # fmt: skip
    dec = {"estimator": "dec", "max_epochs": 2, "verbose": False}
    dec_job = _cluster_args(t, dec, "single", "--autoencoder", str(t / "ae.pt"), threads=1)
    report = _run_and_report([pretrain, dec_job])
    assert "torch" in report["loaded"] and report["threads"] == 1
    for m in ("dec", "ac-gdl"):
        assert np.load(t / "runs" / m / "labels.npy").shape == (90,)
        assert json.loads((t / "runs" / m / "model.pt").read_text())["estimator"] == m
