"""Scoring a table cell's runs in one process writes what scoring each run alone writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmclust import cli
from mmclust.data import MultiViewDataset
from mmclust.data.mixed import make_mixed_modal
from mmclust.metrics import evaluate, mixed_modal_scores
from mmclust.scoring import load_truth

N = 60


def _runs(folder: Path, n: int, seeds: tuple[int, ...]) -> list[Path]:
    rng = np.random.default_rng(7)
    out = []
    for seed in seeds:
        run = folder / f"seed{seed}"
        run.mkdir(parents=True)
        np.save(run / "labels.npy", rng.integers(0, 3, n))
        fit = {"fit_seconds": 0.5 + seed, "convergence": {"converged": seed == 0, "rule": "r"}}
        (run / "fit.json").write_text(json.dumps(fit))
        out.append(run)
    return out


def _score(ds: Path, runs: list[Path], ident: dict, out: Path) -> list[dict]:
    ids = [{**ident, "seed": int(r.name[4:])} for r in runs]
    outs = [out / f"{r.name}.json" for r in runs]
    args = [
        "score", "--dataset", str(ds),
        "--labels", *(str(r / "labels.npy") for r in runs),
        "--fit-info", *(str(r / "fit.json") for r in runs),
        "--runs", json.dumps(ids), "--out", *map(str, outs),
    ]  # fmt: skip
    assert cli.main(args) == 0
    return [json.loads(p.read_text()) for p in outs]


def _evaluate(ds: Path, run: Path, ident: dict, out: Path) -> dict:
    args = [
        "evaluate", "--dataset", str(ds), "--labels", str(run / "labels.npy"),
        "--fit-info", str(run / "fit.json"), "--run", json.dumps(ident), "--out", str(out),
    ]  # fmt: skip
    assert cli.main(args) == 0
    return json.loads(out.read_text())


def test_score_equals_evaluate_and_the_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    split = np.where(np.arange(N) % 4 == 0, "test", "train")
    ds = MultiViewDataset(
        name="toy", views={"a": rng.normal(size=(N, 3))}, labels=np.arange(N) % 3, split=split
    )
    ds.save(tmp_path / "ds")
    runs = _runs(tmp_path / "runs", N, (0, 1, 2))
    ident = {"dataset": "toy", "input": "a", "method": "m"}
    records = _score(tmp_path / "ds", runs, ident, tmp_path)
    for run, record in zip(runs, records, strict=True):
        seed = int(run.name[4:])
        alone = _evaluate(tmp_path / "ds", run, {**ident, "seed": seed}, tmp_path / "alone.json")
        assert record == alone
        # by hand: the test split only, every metric, the fit's time and convergence
        pred = np.load(run / "labels.npy")
        test = split == "test"
        expected = {**ident, "seed": seed, **evaluate(ds.labels[test], pred[test])}
        expected.update(scored_on="test", n_scored=int(test.sum()), fit_seconds=0.5 + seed)
        expected.update(converged=seed == 0, convergence_rule="r")
        assert record == pytest.approx(expected)
        assert set(record) == set(expected)


def test_score_on_mixed_modal_data_adds_the_modality_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    paired = MultiViewDataset(
        name="p",
        views={"x": rng.normal(size=(N, 2)), "y": rng.normal(size=(N, 4))},
        labels=np.arange(N) % 3,
    )
    mixed = make_mixed_modal(paired, views=("x", "y"), test_fraction=0.25, seed=0, name="m")
    mixed.save(tmp_path / "ds")
    runs = _runs(tmp_path / "runs", N, (0,))
    (record,) = _score(
        tmp_path / "ds", runs, {"dataset": "m", "input": "i", "method": "k"}, tmp_path
    )
    truth = load_truth(tmp_path / "ds")
    test = truth.split == "test"
    pred = np.load(runs[0] / "labels.npy")
    modal = mixed_modal_scores(truth.labels[test], pred[test], truth.masks["x"][test])
    assert modal and all(record[k] == pytest.approx(v) for k, v in modal.items())
    # the truth read without the views is the data set's
    assert np.array_equal(truth.labels, mixed.labels)
    assert all(np.array_equal(truth.masks[v], mixed.masks[v]) for v in mixed.views)


def test_score_needs_one_file_of_each_per_run(tmp_path: Path) -> None:
    ds = MultiViewDataset(name="toy", views={"a": np.zeros((N, 2))}, labels=np.arange(N) % 3)
    ds.save(tmp_path / "ds")
    runs = _runs(tmp_path / "runs", N, (0, 1))
    args = [
        "score", "--dataset", str(tmp_path / "ds"),
        "--labels", *(str(r / "labels.npy") for r in runs),
        "--runs", json.dumps([{"seed": 0}, {"seed": 1}]), "--out", str(tmp_path / "one.json"),
    ]  # fmt: skip
    with pytest.raises(SystemExit, match="give one of each per run"):
        cli.main(args)
    # predictions of another data set's size: the run must be redone
    np.save(runs[0] / "labels.npy", np.zeros(N - 1, dtype=int))
    with pytest.raises(SystemExit, match="rerun the clustering job"):
        _score(tmp_path / "ds", runs[:1], {"dataset": "toy"}, tmp_path)


def test_an_approximation_the_fit_reports_reaches_the_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ds = MultiViewDataset(name="toy", views={"a": rng.normal(size=(N, 3))}, labels=np.arange(N) % 3)
    ds.save(tmp_path / "ds")
    (run,) = _runs(tmp_path / "runs", N, (0,))
    fit = json.loads((run / "fit.json").read_text())
    (run / "fit.json").write_text(json.dumps({**fit, "approximation": "landmarks"}))
    ident = {"dataset": "toy", "input": "a", "method": "m"}
    (record,) = _score(tmp_path / "ds", [run], ident, tmp_path)
    assert record["approximation"] == "landmarks"


@pytest.mark.parametrize(("used", "recorded"), [("bf16", "bf16"), ("fp32", None), (None, None)])
def test_a_reduced_precision_reaches_the_metrics_beside_the_precision_metric(
    tmp_path: Path, used, recorded
) -> None:
    rng = np.random.default_rng(1)
    ds = MultiViewDataset(name="toy", views={"a": rng.normal(size=(N, 3))}, labels=np.arange(N) % 3)
    ds.save(tmp_path / "ds")
    (run,) = _runs(tmp_path / "runs", N, (0,))
    fit = json.loads((run / "fit.json").read_text())
    if used is not None:
        fit["precision"] = used
    (run / "fit.json").write_text(json.dumps(fit))
    ident = {"dataset": "toy", "input": "a", "method": "m"}
    (record,) = _score(tmp_path / "ds", [run], ident, tmp_path)
    assert record.get("numeric_precision") == recorded
    assert isinstance(record["precision"], float)  # the pairwise precision metric, untouched
