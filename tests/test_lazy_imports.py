"""Commands that do not train never import torch, torchvision or gensim.

Every workflow job is a fresh interpreter: a job that scores, tabulates, draws or
prepares data pays the import of whatever its command loads (torch alone takes
seconds).  Each check runs in a subprocess so that the test session's own imports
do not hide an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def _heavy_after(code: str) -> list[str]:
    """The heavy packages loaded after running ``code`` in a fresh interpreter."""
    loaded = f"sorted(m for m in {HEAVY!r} if m in sys.modules)"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({loaded}))\n"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=REPO,
        timeout=300, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


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
