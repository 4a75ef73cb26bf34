"""What a multi-view method reads from a composite input, and how a run's convergence
record travels: estimator -> fit.json -> metrics.json -> the runs table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from mmclust import cli
from mmclust.data.dataset import MultiViewDataset
from mmclust.features.combine import combine_inputs
from mmclust.features.inputs import FeatureSet
from mmclust.methods import registry
from mmclust.report.tables import collect_runs

RULE = "converged when fewer than 0.1 % of the labels change between two target refreshes"


class Recorder:
    """A multi-view estimator that keeps what it was given and reports a convergence record."""

    multiview = True
    seen: ClassVar[list[np.ndarray]] = []

    def __init__(self, n_clusters: int = 2, random_state: int = 0) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def get_params(self, deep: bool = False) -> dict:
        return {"n_clusters": self.n_clusters, "random_state": self.random_state}

    def fit(self, views, masks=None) -> Recorder:
        Recorder.seen = [np.array(v) for v in views]
        n = views[0].shape[0]
        self.labels_ = np.arange(n) % self.n_clusters
        self.embedding_ = np.concatenate(views, axis=1)
        self.n_iter_ = 12
        self.convergence_ = {"converged": False, "rule": RULE, "last_label_change": 0.05}
        return self


@pytest.fixture
def recorder(monkeypatch):
    monkeypatch.setattr(registry, "load", lambda name: Recorder)
    monkeypatch.setattr(registry, "parameters", lambda name: {"n_clusters": 2, "random_state": 0})
    monkeypatch.setattr(registry, "MULTIVIEW", frozenset({*registry.MULTIVIEW, "recorder"}))
    return Recorder


def _power(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float(np.mean(np.sum(x * x, axis=1)) / x.shape[1])


def test_multi_view_method_reads_normalised_parts_and_its_record_reaches_the_table(
    tmp_path: Path, recorder
) -> None:
    rng = np.random.default_rng(0)
    n = 40
    ds = MultiViewDataset(
        name="toy",
        views={"image": rng.normal(size=(n, 3)), "text": rng.normal(size=(n, 2))},
        labels=np.arange(n) % 2,
    )
    ds.save(tmp_path / "ds")
    pixels = FeatureSet(X=(rng.random((n, 6)) * 255).astype(np.float32), mask=np.ones(n, bool))
    codes = FeatureSet(X=(rng.normal(size=(n, 4)) * 0.1).astype(np.float32), mask=np.ones(n, bool))
    pair = combine_inputs([pixels, codes], ["pixels", "doc2vec"], transform="unit_power")
    pair.save(tmp_path / "pair.npz")

    run = tmp_path / "run"
    code = cli.main(
        [
            "cluster",
            "--features", str(tmp_path / "pair.npz"),
            "--params", json.dumps({"estimator": "recorder"}),
            "--meta", str(tmp_path / "ds" / "meta.json"),
            "--seed", "0",
            "--out", str(run),
            "--device", "cpu",
        ]
    )  # fmt: skip
    assert code == 0
    # the method was given the normalised parts, not the parts as extracted
    assert len(recorder.seen) == 2
    assert _power(recorder.seen[0]) == pytest.approx(1.0, rel=1e-5)
    assert _power(recorder.seen[1]) == pytest.approx(1.0, rel=1e-5)
    assert _power(pixels.X) > 1e3 and _power(codes.X) < 0.1

    fit = json.loads((run / "fit.json").read_text())
    assert fit["convergence"] == {"converged": False, "rule": RULE, "last_label_change": 0.05}
    assert fit["n_iter"] == 12

    metrics = tmp_path / "metrics.json"
    ident = {"dataset": "toy", "input": "pair", "method": "rec", "seed": 0}
    code = cli.main(
        [
            "evaluate",
            "--dataset", str(tmp_path / "ds"),
            "--labels", str(run / "labels.npy"),
            "--fit-info", str(run / "fit.json"),
            "--run", json.dumps(ident),
            "--out", str(metrics),
        ]
    )  # fmt: skip
    assert code == 0
    record = json.loads(metrics.read_text())
    assert record["converged"] is False and record["convergence_rule"] == RULE
    runs = collect_runs([metrics])
    assert runs["converged"].tolist() == [False]


def test_a_run_without_a_record_gets_no_converged_field(tmp_path: Path) -> None:
    n = 30
    rng = np.random.default_rng(1)
    ds = MultiViewDataset(name="toy", views={"a": rng.normal(size=(n, 3))}, labels=np.arange(n) % 3)
    ds.save(tmp_path / "ds")
    FeatureSet(X=ds.views["a"].astype(np.float32), mask=np.ones(n, bool)).save(tmp_path / "a.npz")
    run = tmp_path / "run"
    args = ["--features", str(tmp_path / "a.npz"), "--meta", str(tmp_path / "ds" / "meta.json")]
    params = json.dumps({"estimator": "kmeans", "n_init": 2})
    assert cli.main(["cluster", *args, "--params", params, "--seed", "0", "--out", str(run)]) == 0
    assert "convergence" not in json.loads((run / "fit.json").read_text())
    out = tmp_path / "m.json"
    ident = json.dumps({"dataset": "toy", "input": "a", "method": "kmeans", "seed": 0})
    evaluate = [
        "evaluate",
        "--dataset", str(tmp_path / "ds"),
        "--labels", str(run / "labels.npy"),
        "--fit-info", str(run / "fit.json"),
        "--run", ident,
        "--out", str(out),
    ]  # fmt: skip
    assert cli.main(evaluate) == 0
    assert "converged" not in json.loads(out.read_text())
