"""End-to-end tests of the Snakemake workflow on the tiny configuration."""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mmclust.plan import load_files
from tests.helpers import REPO, TINY, planned_jobs, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("tiny")
    res = snakemake(work, "--cores", "2", "--configfile", str(TINY))
    assert res.returncode == 0, res.stderr[-4000:]
    return work


def rule_of(rule: str) -> str:
    """A job's rule, the scoring rules (one per seed list: score_runs_seeds_...) as one."""
    return "score_runs" if rule.startswith("score_runs_") else rule


def cell_of(wc: dict[str, str]) -> dict[str, str]:
    """A job's data set, input and method: a scoring job names them in one wildcard."""
    if "cell" not in wc:
        return wc
    dataset, input, method = wc["cell"].split("/")
    return {**wc, "dataset": dataset, "input": input, "method": method}


def tiny_config() -> dict:
    return yaml.safe_load(TINY.read_text())


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_outputs_complete(tiny_run: Path) -> None:
    cfg = tiny_config()
    exp = cfg["experiments"]["tiny"]
    for ext in ("csv", "md", "tex"):
        assert (tiny_run / f"results/tables/tiny.{ext}").stat().st_size > 0
    summary = pd.read_csv(tiny_run / "results/tables/tiny.csv")
    expected = {(r["dataset"], r["input"], m) for r in exp["runs"] for m in r["methods"]}
    got = set(summary[["dataset", "input", "method"]].itertuples(index=False, name=None))
    assert got == expected
    assert (summary["n_seeds"] == len(exp["seeds"])).all()
    assert summary["mean"].between(0, 1).all()
    runs = pd.read_csv(tiny_run / "results/tables/tiny_runs.csv")
    assert len(runs) == len(expected) * len(exp["seeds"])
    png = tiny_run / "results/figures/tsne_digits_pixels_dec_seed0.png"
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width > 600 and height > 300
    md = (tiny_run / "results/tables/tiny.md").read_text()
    # (DEC runs 2 epochs here: its row is marked † as not converged)
    assert "±" in md and "| digits | pixels | dec" in md
    # a data set with generated captions says so in every table
    assert "| captioned (synthetic captions) | efficientnet |" in md


def test_every_job_logged_and_benchmarked(tiny_run: Path) -> None:
    for rule in [
        "prepare_dataset",
        "build_input",
        "pretrain_autoencoder",
        "cluster",
        "score_runs",
        "aggregate_runs",
        "summary_table",
        "tsne_figure",
        "sweep_figure",
        "claims_table",
        "scorecard",
        "scorecard_summary",
        "data_sheet",
        "run_health",
        "not_run",
        "claims_section",
    ]:
        assert list((tiny_run / "logs" / rule).rglob("*.log")), rule
        assert list((tiny_run / "benchmarks/rules" / rule).rglob("*.tsv")), rule


def test_run_folder_contents(tiny_run: Path) -> None:
    run = tiny_run / "results/runs/digits/pixels/idec/seed1"
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"dataset", "input", "method", "seed", "acc", "nmi", "ari"} <= set(metrics)
    assert metrics["method"] == "idec" and metrics["seed"] == 1
    import numpy as np

    labels = np.load(run / "labels.npy")
    emb = np.load(run / "embedding.npy")
    assert labels.shape == (1797,) and emb.shape == (1797, 8)
    # what the run used: fitted parameters, settings with their sources, versions, inputs
    params = json.loads((run / "params.json").read_text())
    assert params["estimator"] == "idec" and params["params"]["random_state"] == 1
    assert params["params"]["update_every_epochs"] == 0.5
    assert params["run"]["settings"]["max_epochs"] == {"value": 2, "from": "methods.idec"}
    assert params["run"]["lineage"][0]["name"] == "digits"
    assert params["versions"]["torch"] and params["versions"]["numpy"]
    features = params["inputs"]["features"][0]
    assert features["path"] == "resources/features/digits/pixels.npz"
    assert len(features["sha256"]) == 64
    assert params["inputs"]["autoencoder"][0]["path"].endswith("seed1/autoencoder.pt")
    # no leftover temporary files anywhere
    assert not [p for p in tiny_run.rglob("*.part*")]


def test_second_run_does_nothing(tiny_run: Path) -> None:
    assert planned_jobs(tiny_run, "--configfile", str(TINY)) == []


def test_changing_dec_reruns_only_dec(tiny_run: Path, tmp_path: Path) -> None:
    cfg = tiny_config()
    cfg["methods"]["dec"]["lr"] = 0.02
    jobs = planned_jobs(tiny_run, "--configfile", str(write_config(tmp_path / "c.yaml", cfg)))
    jobs = [(rule_of(r), cell_of(wc)) for r, wc in jobs]
    rules = {r for r, _ in jobs}
    assert rules == {
        "cluster",
        "score_runs",
        "aggregate_runs",
        "summary_table",
        "tsne_figure",
        # the report's sections that read every run and every table (no paper values
        # in the tiny table: no scorecard)
        "run_health",
        "not_run",
        "all",
    }
    for rule, wc in jobs:
        if rule in {"cluster", "score_runs", "tsne_figure"}:
            assert wc["method"] == "dec", (rule, wc)
    n_dec_runs = 2 * 2  # (digits, mfeat) x 2 seeds
    assert sum(r == "cluster" for r, _ in jobs) == n_dec_runs
    # one scoring job per cell: both seeds of DEC on digits and on mfeat
    assert sum(r == "score_runs" for r, _ in jobs) == 2


def test_changing_a_feature_setting_reruns_downstream(tiny_run: Path, tmp_path: Path) -> None:
    cfg = tiny_config()
    cfg["inputs"]["mfeat"]["both"]["transform"] = "none"
    jobs = planned_jobs(tiny_run, "--configfile", str(write_config(tmp_path / "c.yaml", cfg)))
    jobs = [(rule_of(r), cell_of(wc)) for r, wc in jobs]
    rules = {r for r, _ in jobs}
    assert "prepare_dataset" not in rules
    assert {"build_input", "pretrain_autoencoder", "cluster", "score_runs"} <= rules
    for rule, wc in jobs:
        if "dataset" in wc:
            assert wc["dataset"] == "mfeat", (rule, wc)
    # the t-SNE figure shows a digits run only: untouched
    assert "tsne_figure" not in rules


def test_changing_a_plot_setting_reruns_only_plots(tiny_run: Path, tmp_path: Path) -> None:
    cfg = tiny_config()
    cfg["plots"]["tsne"]["perplexity"] = 12
    jobs = planned_jobs(tiny_run, "--configfile", str(write_config(tmp_path / "c.yaml", cfg)))
    # not_run: its commands name the config file, here another one (a second's job)
    assert {r for r, _ in jobs} == {"tsne_figure", "not_run", "all"}


def test_pretrain_override_reruns_that_dataset_only(tiny_run: Path, tmp_path: Path) -> None:
    """A data set's pretraining override reaches it and the data sets made from it
    (mfeat-mixed is mixed_from mfeat), nothing else."""
    cfg = tiny_config()
    cfg["pretrain"]["overrides"]["mfeat"]["epochs"] = 3
    jobs = planned_jobs(tiny_run, "--configfile", str(write_config(tmp_path / "c.yaml", cfg)))
    pre = [wc for r, wc in jobs if r == "pretrain_autoencoder"]
    assert pre and {wc["dataset"] for wc in pre} == {"mfeat", "mfeat-mixed"}
    clusters = [wc for r, wc in jobs if r == "cluster"]
    # k-means needs no pretraining; JECL fine-tunes the per-view autoencoders
    assert {(wc["dataset"], wc["method"]) for wc in clusters} == {
        ("mfeat", m) for m in ("dec", "jecl", "jecl-no-align", "jecl.gamma-0", "jecl.gamma-0.5")
    } | {("mfeat-mixed", "dkm")}  # fmt: skip


def test_changing_gamma_reruns_only_that_jecl(tiny_run: Path, tmp_path: Path) -> None:
    cfg = tiny_config()
    cfg["methods"]["jecl"]["gamma"] = 0.3
    jobs = planned_jobs(tiny_run, "--configfile", str(write_config(tmp_path / "c.yaml", cfg)))
    assert {rule_of(r) for r, _ in jobs} == {
        "cluster", "score_runs", "aggregate_runs", "summary_table", "sweep_figure",
        "claims_table", "all",
        # the report: tiny-jecl has paper values
        "scorecard", "scorecard_summary", "claims_section", "run_health", "not_run",
    }  # fmt: skip
    runs = [wc for r, wc in jobs if r == "cluster"]
    # the method named jecl only: not its ablation, nor the gamma sweep (which sets gamma)
    assert {wc["method"] for wc in runs} == {"jecl"}
    assert {(wc["dataset"], wc["input"]) for wc in runs} == {
        ("mfeat", "pair"), ("captioned", "pair"),
        ("captioned.missing-text-0", "pair"), ("captioned.missing-text-0.5", "pair"),
    }  # fmt: skip
    assert {wc["experiment"] for r, wc in jobs if r == "aggregate_runs"} == {
        "tiny-jecl", "tiny-missing"
    }  # fmt: skip


def test_jecl_tables_and_sweeps(tiny_run: Path) -> None:
    summary = pd.read_csv(tiny_run / "results/tables/tiny-jecl.csv")
    by = summary.set_index(["dataset", "input", "method", "metric"])
    # the paper file is keyed by input too: k-means on fou and on the pair differ
    assert by.loc[("mfeat", "fou", "kmeans", "acc"), "paper"] == 0.5
    assert by.loc[("mfeat", "pair", "kmeans", "acc"), "paper"] == 0.6
    assert by.loc[("mfeat", "pair", "jecl", "nmi"), "paper"] == 0.8
    md = (tiny_run / "results/tables/tiny-jecl.md").read_text()
    assert "| mfeat | pair | w/o alignment" in md
    sweep = pd.read_csv(tiny_run / "results/tables/tiny-missing_sweep.csv")
    assert sorted(sweep["x"].unique()) == [0.0, 0.5]
    assert set(sweep["metric"]) == {"acc", "nmi"}
    assert (tiny_run / "results/figures/tiny-missing.png").read_bytes()[:4] == b"\x89PNG"
    gamma = pd.read_csv(tiny_run / "results/tables/tiny-gamma_sweep.csv")
    assert sorted(gamma["x"].unique()) == [0.0, 0.5]
    # half the captions removed, the images kept
    meta = json.loads(
        (tiny_run / "resources/datasets/captioned.missing-text-0.5/meta.json").read_text()
    )
    base = json.loads((tiny_run / "resources/datasets/captioned/meta.json").read_text())
    had = base["views"]["text"]["present"]
    assert meta["views"]["text"]["present"] == had - int(0.5 * had + 0.5)
    assert meta["views"]["image"]["present"] == meta["n"] == base["n"]
    # the image autoencoder is the base data set's: removing captions does not change it
    # (the composite standardises its parts: the autoencoders are pretrained on them)
    pre = tiny_run / "results/pretrain"
    assert not (pre / "captioned.missing-text-0.5/pair.efficientnet").exists()
    assert (pre / "captioned.missing-text-0.5/pair.doc2vec/seed0/autoencoder.pt").exists()
    runs = pd.read_csv(tiny_run / "results/tables/tiny-jecl_runs.csv")
    assert runs["acc"].between(0, 1).all()


def test_convergence_reaches_fit_metrics_and_tables(tiny_run: Path) -> None:
    run = tiny_run / "results/runs/mfeat/pair/jecl/seed0"
    fit = json.loads((run / "fit.json").read_text())
    record = fit["convergence"]
    assert isinstance(record["converged"], bool) and "labels change" in record["rule"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["converged"] == record["converged"]
    summary = pd.read_csv(tiny_run / "results/tables/tiny-jecl.csv")
    counts = summary.drop_duplicates(["input", "method"]).set_index(["input", "method"])
    assert pd.isna(counts.loc[("fou", "kmeans"), "converged"])
    assert counts.loc[("pair", "jecl"), "converged"] in (0, 1)
    md = (tiny_run / "results/tables/tiny-jecl.md").read_text()
    if not record["converged"]:
        assert "| mfeat | pair | JECL † |" in md
        assert "† JECL on mfeat / pair: 1 of 1 seed did not converge (rule:" in md
    # one seed: the values alone
    assert "±" not in md.split("Mean ±")[0]


def test_composite_transform_pretrains_on_its_parts(tmp_path: Path) -> None:
    """JECL on a composite whose parts it standardises gets autoencoders of those parts."""
    jobs = planned_jobs(tmp_path, "--configfile", str(TINY))
    built = {(wc["dataset"], wc["input"]) for r, wc in jobs if r == "build_input"}
    pre = {(wc["dataset"], wc["input"]) for r, wc in jobs if r == "pretrain_autoencoder"}
    assert {("captioned", "pair.efficientnet"), ("captioned", "pair.doc2vec")} <= built & pre
    # the untransformed part inputs themselves are never pretrained (nothing fine-tunes them)
    assert ("captioned", "efficientnet") not in pre and ("captioned", "doc2vec") not in pre
    # a composite without a transform: its parts' own autoencoders
    assert {("mfeat", "fou"), ("mfeat", "kar")} <= pre
    assert not [i for d, i in built if d == "mfeat" and "." in i]


def test_same_seed_same_metrics(tiny_run: Path, tmp_path: Path) -> None:
    """Recomputing a deep run from scratch gives identical metrics on CPU."""
    work = tmp_path / "again"
    work.mkdir()
    shutil.copytree(tiny_run / "resources", work / "resources")
    target = "results/runs/digits/pixels/idec/seed0/metrics.json"
    res = snakemake(work, target, "--cores", "2", "--configfile", str(TINY))
    assert res.returncode == 0, res.stderr[-3000:]
    first = json.loads((tiny_run / target).read_text())
    second = json.loads((work / target).read_text())
    first.pop("fit_seconds")
    second.pop("fit_seconds")
    assert first == second


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # every check is unit-tested in tests/test_plan.py; these prove the wiring
        (lambda c: c["methods"]["dec"].update(learning_rate=0.1), r"learning_rate"),
        (lambda c: c.update(seeds=[0]), r"seeds: unknown key"),
        (
            lambda c: c["experiments"]["tiny"]["runs"][0]["methods"].append("jecl"),
            r"method 'jecl' is multi-view and needs a composite input",
        ),
        (
            lambda c: c["experiments"]["tiny-jecl"]["claims"]["ids"].append("jecl-wins"),
            r"experiments\.tiny-jecl\.claims\.ids: unknown claim 'jecl-wins'",
        ),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path: Path, edit, message: str) -> None:
    cfg = tiny_config()
    edit(cfg)
    path = write_config(tmp_path / "bad.yaml", cfg)
    work = tmp_path / "work"
    work.mkdir()
    res = snakemake(work, "--cores", "1", "--configfile", str(path))
    assert res.returncode != 0
    assert re.search(message, res.stdout + res.stderr), (res.stdout + res.stderr)[-3000:]
    assert not (work / "resources").exists() and not (work / "results").exists()


def test_claims_table(tiny_run: Path) -> None:
    got = pd.read_csv(tiny_run / "results/tables/claims.csv", keep_default_na=False)
    listed = got[got["experiment"] != ""]
    assert set(listed["experiment"]) == {"tiny-jecl", "tiny-dm2c"}
    # full JECL against its one ablation that ran, on mfeat (one seed: no spread)
    mfeat = listed[(listed["claim"] == "jecl-beats-ablations") & (listed["dataset"] == "mfeat")]
    assert list(mfeat["metric"]) == ["acc", "nmi", "ari"]
    assert set(mfeat["status"]) <= {"holds", "does not hold"}
    assert set(mfeat["beyond_spread"]) == {"n/a (one seed)"}
    assert mfeat["right"].str.startswith("w/o alignment [pair]").all()
    assert mfeat["note"].str.contains("not run: input=pair method=jecl-no-reg").all()
    summary = pd.read_csv(tiny_run / "results/tables/tiny-jecl.csv")
    jecl = summary.set_index(["dataset", "input", "method", "metric"])["mean"]
    for r in mfeat.itertuples():
        assert float(r.left_mean) == pytest.approx(jecl[("mfeat", "pair", "jecl", r.metric)])
        assert float(r.diff) == pytest.approx(float(r.left_mean) - float(r.right_mean))
    # no ablation ran on the captioned digits
    assert set(listed.loc[listed["dataset"] == "captioned", "status"]) == {"not run"}
    # k-means against DKM on the mixed-modal data: ARI is not among tiny-dm2c's metrics
    dm2c = listed[listed["claim"] == "dm2c-kmeans-matches-deep"].set_index("metric")
    assert list(dm2c.index) == ["acc", "ari", "fscore"] and dm2c.loc["ari", "status"] == "not run"
    assert set(dm2c.loc[["acc", "fscore"], "status"]) <= {"holds", "does not hold"}
    assert set(dm2c.loc[["acc", "fscore"], "right"]) == {"dkm [pooled]"}
    # every claim of the file is in the table; those no experiment lists are not run
    claims = yaml.safe_load((REPO / "config/papers/claims.yaml").read_text())["claims"]
    assert set(got["claim"]) == {c["id"] for c in claims}
    assert set(got.loc[got["experiment"] == "", "status"]) == {"not run", "not machine-checkable"}
    md = (tiny_run / "results/tables/claims.md").read_text()
    assert "## Verdicts" in md and "| jecl-beats-ablations | JECL |" in md


def test_lint_is_clean() -> None:
    for cfg in [REPO / "config/config.yaml", *sorted(REPO.glob("config/demo*.yaml")), TINY]:
        res = snakemake(REPO, "--lint", "--configfile", str(cfg))
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Lints for" not in res.stdout + res.stderr


def test_default_and_demo_configs_plan(tmp_path: Path) -> None:
    for cfg in [REPO / "config/config.yaml", *sorted(REPO.glob("config/demo*.yaml"))]:
        res = snakemake(tmp_path, "-n", "--configfile", str(cfg))
        assert res.returncode == 0, res.stderr[-3000:]
        assert "Job stats" in res.stdout + res.stderr
        assert re.search(r"^claims_table\s+1$", res.stdout + res.stderr, re.M), cfg


def test_report_lists_every_table_and_figure(tiny_run: Path) -> None:
    report = tiny_run / "results/report.html"
    res = snakemake(tiny_run, "--configfile", str(TINY), "--report", str(report))
    assert res.returncode == 0, res.stderr[-3000:]
    html = report.read_text()
    cfg = tiny_config()
    outputs = [
        *(tiny_run / "results/tables").glob("tiny*.[cmt][sde]*"),
        *(tiny_run / "results/figures").glob("*.png"),
    ]
    tables = [p for p in outputs if p.suffix in (".csv", ".md", ".tex") and "_" not in p.name]
    assert len(tables) == 3 * len(cfg["experiments"])
    n_figures = sum(
        len(e.get("tsne", [])) + bool(e.get("sweep")) for e in cfg["experiments"].values()
    )
    assert len(outputs) - len(tables) >= n_figures
    for path in [*tables, *(tiny_run / "results/figures").glob("*.png")]:
        assert path.name in html, path.name
    assert "Shared baselines" in html  # the experiment's report category
    assert "claims.csv" in html and "claims.md" in html and "Claims" in html
    assert "Tiny end-to-end check." in html  # the table caption renders the config


def test_given_config_replaces_the_default(tmp_path: Path) -> None:
    """--configfile replaces config/config.yaml instead of being merged into it."""
    jobs = planned_jobs(tmp_path, "--configfile", str(TINY))
    datasets = {wc["dataset"] for _, wc in jobs if "dataset" in wc}
    configured = set(tiny_config()["datasets"])
    # besides the configured data sets, only the sweep points derived from them
    assert {d for d in datasets if "." not in d} == configured
    assert all(d.split(".")[0] in configured for d in datasets)
    assert not [r for r, _ in jobs if r == "download_raw"]


def test_default_config_plans_every_download_and_feature(tmp_path: Path) -> None:
    cfg = load_files([REPO / "config/config.yaml"])  # with its include: files
    jobs = planned_jobs(tmp_path)
    raws = {wc["raw"] for r, wc in jobs if r == "download_raw"}
    assert raws == {d["raw"] for d in cfg["datasets"].values() if "raw" in d}
    features = {(wc["dataset"], wc["input"]) for r, wc in jobs if r == "build_input"}
    configured = {(d, i) for d, inputs in cfg["inputs"].items() for i in inputs}
    assert {(d, i) for d, i in features if "." not in d} == configured
    # the sweeps' derived data sets restrict the base data set's inputs
    assert all((d.split(".")[0], i) in configured for d, i in features)


def test_report_sections(tiny_run: Path) -> None:
    """Scorecards, data sheet, run health, not run and claims agree with the tables."""
    report = tiny_run / "results/report"
    cells = pd.read_csv(report / "scorecard_tiny-jecl.csv")
    table = pd.read_csv(tiny_run / "results/tables/tiny-jecl.csv")
    with_paper = table[table["paper"].notna()]
    assert len(cells) == len(with_paper) == 4
    assert cells["mean"].tolist() == pytest.approx(with_paper["mean"].tolist())
    assert cells["one_seed"].all()  # tiny-jecl runs one seed: no "within" by spread
    assert "# Scorecard: tiny-jecl" in (report / "scorecard_tiny-jecl.md").read_text()
    # only experiments with paper values have a scorecard
    assert [p.name for p in report.glob("scorecard_*.png")] == ["scorecard_tiny-jecl.png"]
    sheet = pd.read_csv(report / "datasheet.csv").set_index("dataset")
    assert sheet.loc["digits", ["n", "n_paper", "k"]].tolist() == [1797, 1797, 10]
    assert sheet.loc["digits", "verified"] == "package"
    assert sheet.loc["captioned (SYNTHETIC)", "kind"].startswith("SYNTHETIC")
    # the configured data sets the experiments use; sweep points are not listed
    assert set(sheet.index) == {"digits", "mfeat", "captioned (SYNTHETIC)", "mfeat-mixed"}
    assert "mfeat-mixed" in sheet.index and "derived from mfeat" in sheet.loc["mfeat-mixed", "kind"]
    health = pd.read_csv(report / "health.csv")
    runs = sum(len(pd.read_csv(p)) for p in (tiny_run / "results/tables").glob("*_runs.csv"))
    assert len(health) == runs
    dec = health[(health["method"] == "dec") & (health["dataset"] == "digits")]
    assert dec["status"].str.contains("hit the limit|stopping rule fired").all()
    assert (health[health["method"] == "kmeans"]["status"] == "not recorded").all()
    not_run = pd.read_csv(report / "not_run.csv")
    assert (not_run["status"] == "ran").all() and len(not_run) == len(tiny_config()["experiments"])
    # the claims table (claims_table rule) is shown as a table, once
    claims_html = (report / "claims.html").read_text()
    assert claims_html.count("claims checked (claims.csv)") == 1
    assert claims_html.count("claims checked (") == 1
    overview = pd.read_csv(report / "scorecards.csv").set_index("experiment")
    assert overview.loc["tiny-jecl", "cells"] == 4 and overview.loc["tiny-jecl", "one_seed"] == 4
    assert overview.loc["tiny", "scorecard"] == "no paper values in this table"


def test_report_in_a_browser(tiny_run: Path, tmp_path: Path) -> None:
    """The report opens in headless Chromium without errors and every figure decodes;
    a broken figure makes the same check fail."""
    from tests.browser import find_chromium, inspect_report

    if find_chromium() is None:
        pytest.fail("no Chromium: install Debian's chromium package (.ci/run does)")
    html = tmp_path / "report.html"
    res = snakemake(tiny_run, "--configfile", str(TINY), "--report", str(html))
    assert res.returncode == 0, res.stderr[-3000:]
    shot = tmp_path / "report.png"
    page = inspect_report(html, shot, show="scorecard_tiny-jecl.png")
    assert page.errors == []
    assert page.broken_figures == []
    figures = {Path(f).name for f in page.figures}
    assert "scorecard_tiny-jecl.png" in figures
    assert "tsne_digits_pixels_dec_seed0.png" in figures
    assert page.shown_figure_width > 300  # the scorecard as the report shows it
    assert "Scorecards" in page.categories["JECL"]
    assert "Claims" in page.categories
    assert {"Data sheet", "Run health", "Not run"} <= set(page.categories["Reproduction"])
    assert shot.stat().st_size > 10_000

    # break one figure on purpose: the same check must catch it
    figure = tiny_run / "results/report/scorecard_tiny-jecl.png"
    good = figure.read_bytes()
    try:
        figure.write_bytes(good[: len(good) // 3])
        broken_html = tmp_path / "broken.html"
        res = snakemake(tiny_run, "--configfile", str(TINY), "--report", str(broken_html))
        assert res.returncode == 0, res.stderr[-3000:]
        broken = inspect_report(broken_html, tmp_path / "broken.png")
        assert [Path(f.split(":")[0]).name for f in broken.broken_figures] == [figure.name]
    finally:
        figure.write_bytes(good)
