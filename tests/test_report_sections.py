"""The reproduction report's sections (src/mmclust/report/): scorecards, data sheet,
run health, what was not run, claims, t-SNE colours, sweep markers, honest cells."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mmclust.plan import Plan
from mmclust.report import claims_section, datasheet, health, notrun, scorecard
from mmclust.report.__main__ import main
from mmclust.report.figures import cluster_colours, match_clusters
from mmclust.report.sweeps import default_marker
from mmclust.report.tables import summarise, wide_table
from tests.helpers import TINY


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def summary_frame() -> pd.DataFrame:
    rows = [
        # dataset, input, method, metric, mean, std, n_seeds, paper
        ("d", "x", "a", "acc", 0.70, 0.05, 3, 0.78),  # |diff| 0.08 <= 0.10: within
        ("d", "x", "a", "nmi", 0.70, 0.01, 3, 0.60),  # ours higher by 0.10 > 0.02: above
        ("d", "x", "b", "acc", 0.50, 0.02, 3, 0.60),  # ours lower by 0.10 > 0.04: below
        ("d", "x", "b", "nmi", 0.50, 0.00, 1, 0.50),  # one seed, equal: within (abs 0)
        ("d", "x", "c", "acc", 0.40, 0.00, 1, 0.41),  # one seed: no spread, below
        ("d", "x", "c", "nmi", 0.40, 0.00, 1, np.nan),  # no paper value: not a cell
    ]
    cols = ["dataset", "input", "method", "metric", "mean", "std", "n_seeds", "paper"]
    df = pd.DataFrame(rows, columns=cols)
    df["diff"] = df["mean"] - df["paper"]
    return df


# -- scorecards -------------------------------------------------------------------------


def test_scorecard_classifies_against_two_seed_stds() -> None:
    cells = scorecard.classify(summary_frame())
    assert len(cells) == 5
    assert list(cells["status"]) == ["within", "above", "below", "within", "below"]
    assert cells["tolerance"].tolist() == pytest.approx([0.10, 0.02, 0.04, 0.0, 0.0])
    assert cells["one_seed"].tolist() == [False, False, False, True, True]
    # one-seed cells have no std (not 0)
    assert cells["std"].isna().tolist() == [False, False, False, True, True]


def test_scorecard_absolute_tolerance_applies_to_one_seed_cells() -> None:
    cells = scorecard.classify(summary_frame(), tolerance_sd=2, tolerance_abs=0.015)
    assert cells.loc[4, "status"] == "within"  # |0.40 - 0.41| <= 0.015
    assert cells.loc[1, "status"] == "above"  # max(0.02, 0.015) still excludes 0.10


def test_scorecard_counts_one_seed_cells_apart() -> None:
    counts = scorecard.summary_counts(scorecard.classify(summary_frame()))
    total = counts[counts["metric"] == "all"].set_index("one_seed")
    assert total.loc["no", ["cells", "within", "above", "below"]].tolist() == [3, 1, 1, 1]
    assert total.loc["yes", ["cells", "within", "above", "below"]].tolist() == [2, 1, 0, 1]


def test_scorecard_files(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    summary_frame().to_csv(table, index=False)
    out = {k: tmp_path / f"s.{k}" for k in ("png", "csv", "md")}
    code = main(
        ["scorecard", "--table", str(table), "--experiment", "t", "--spec",
         json.dumps({"labels": {"a": "Method A"}, "regenerates": "Table 1"}),
         "--settings", json.dumps({"tolerance_sd": 2, "tolerance_abs": 0}),
         *(f"--{k}={v}" for k, v in out.items())]
    )  # fmt: skip
    assert code == 0
    w, h = png_size(out["png"])
    assert w > 500 and h > 300
    cells = pd.read_csv(out["csv"])
    assert cells["status"].tolist() == ["within", "above", "below", "within", "below"]
    md = out["md"].read_text()
    assert "± max(2 × seed std, 0)" in md
    assert "| ACC | no | 2 | 1 | 0 | 1 |" in md


def test_scorecard_overview(tmp_path: Path) -> None:
    cells = scorecard.classify(summary_frame())
    cells.to_csv(tmp_path / "scorecard_t.csv", index=False)
    experiments = {
        "t": {"category": "JULE", "regenerates": "Table 1", "paper": "p.csv"},
        "offline": {"category": "JULE", "regenerates": "none", "paper": None},
    }
    out = {k: tmp_path / f"o.{k}" for k in ("csv", "md", "html")}
    code = main(
        ["scorecards", "--cells", str(tmp_path / "scorecard_t.csv"),
         "--spec", json.dumps({"experiments": experiments, "settings": {}}),
         *(f"--{k}={v}" for k, v in out.items())]
    )  # fmt: skip
    assert code == 0
    df = pd.read_csv(out["csv"]).set_index("experiment")
    counts = df.loc["t", ["cells", "within", "above", "below", "one_seed"]]
    assert counts.tolist() == [5, 1, 1, 1, 2]
    assert df.loc["t", ["within_one_seed", "below_one_seed"]].tolist() == [1, 1]
    assert df.loc["offline", "scorecard"] == "no paper values in this table"
    assert "1 table(s) with the paper's values, 5 cells" in out["md"].read_text()
    # a configuration without paper values says so
    scorecard.write_scorecard_overview({}, {"offline": experiments["offline"]}, {}, *out.values())
    assert "nothing to score" in out["md"].read_text()


def test_scorecard_of_a_table_without_paper_values(tmp_path: Path) -> None:
    df = summary_frame().assign(paper=np.nan)
    table = tmp_path / "t.csv"
    df.to_csv(table, index=False)
    cells = scorecard.write_scorecard(
        table, {}, tmp_path / "s.png", tmp_path / "s.csv", tmp_path / "s.md", experiment="t"
    )
    assert cells.empty
    assert "No cell" in (tmp_path / "s.md").read_text()
    assert png_size(tmp_path / "s.png")[0] > 100


# -- data sheet ---------------------------------------------------------------------------


def write_json(path: Path, obj: object) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return str(path)


def test_verification_words() -> None:
    marker = {
        "files": [
            {"name": "a.zip", "verified_by": "published sha256"},
            {"name": "b.zip", "verified_by": "checksum lock"},
        ],
        "manual": [{"path": "c.h5", "verified_by": "published checksum"}],
    }
    how, details = datasheet.verification(marker)
    assert how == "checksum + trust on first use + manual"
    assert "1 pinned in checksums.lock" in details and "1 with a published checksum" in details
    assert datasheet.verification(None)[0] == "not downloaded"
    tofu = {"files": [{"name": "x", "verified_by": "checksum lock"}], "manual": []}
    assert datasheet.verification(tofu)[0] == "trust on first use"


def test_datasheet_rows(tmp_path: Path) -> None:
    base = {
        "name": "digits", "n": 1797, "k": 10, "class_counts": [174, 183, 180],
        "source": "scikit-learn", "licence": "CC BY 4.0",
        "reference_counts": {"n": 1797, "k": 10},
    }  # fmt: skip
    synth = {
        "name": "cap", "n": 1797, "k": 10, "class_counts": [174, 183],
        "source": "digits images + synthetic captions", "synthetic_captions": True,
        "display_name": "cap (synthetic captions)", "reference_counts": None,
    }  # fmt: skip
    paper = {
        "name": "coil", "n": 1440, "k": 20, "class_counts": [72] * 20, "licence": "research",
        "reference_counts": {"n": 1440, "k": 20},
    }  # fmt: skip
    marker = {"files": [{"name": "coil.zip", "verified_by": "checksum lock"}], "manual": []}
    entries = [
        {"name": "digits", "meta": write_json(tmp_path / "d.json", base), "raw": None,
         "base": None},
        {"name": "cap", "meta": write_json(tmp_path / "c.json", synth), "raw": None,
         "base": "digits"},
        {"name": "coil", "meta": write_json(tmp_path / "coil.json", paper),
         "raw": write_json(tmp_path / "raw/.complete", marker), "base": None},
    ]  # fmt: skip
    df = datasheet.datasheet_rows(entries).set_index("kind")
    assert df.loc["package", "verified"] == "package"
    assert df.loc["package", ["n", "n_paper", "k", "k_paper"]].tolist() == [1797, 1797, 10, 10]
    assert df.loc["package", "balance"] == f"{183 / 174:.2f}"
    syn = df.loc["SYNTHETIC stand-in; derived from digits"]
    assert syn["dataset"] == "cap (SYNTHETIC)" and syn["verified"] == "package"
    assert syn["n_paper"] is None or pd.isna(syn["n_paper"])
    assert df.loc["downloaded", "verified"] == "trust on first use"
    assert df.loc["downloaded", "balance"] == "1.00"
    out = {k: tmp_path / f"sheet.{k}" for k in ("csv", "md", "html")}
    datasheet.write_datasheet(entries, *out.values())
    html = out["html"].read_text()
    assert "| data set |" not in html and html.count("<tr>") == 4  # head + 3 rows
    md = out["md"].read_text()
    assert "| cap (SYNTHETIC) | SYNTHETIC stand-in; derived from digits | 1797 | — |" in md
    assert "| coil | downloaded | 1440 | 1440 | 20 | 20 | 72–72 | 1.00 |" in md


def test_datasheet_entries_follow_the_lineage() -> None:
    plan = Plan(yaml.safe_load(TINY.read_text()))
    entries = datasheet.entries_from_plan(plan, ["mfeat-mixed", "captioned.missing-text-0"])
    assert [e["name"] for e in entries] == ["mfeat", "mfeat-mixed", "captioned"]
    assert entries[1]["base"] == "mfeat" and entries[0]["raw"] is None


# -- run health ---------------------------------------------------------------------------


def run_folder(tmp_path: Path, method: str, fit: dict | None) -> str:
    path = tmp_path / "results/runs/digits/pixels" / method / "seed0/fit.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fit is not None:
        path.write_text(json.dumps(fit))
    return str(path)


def test_run_health_reads_the_convergence_record(tmp_path: Path) -> None:
    files = [
        run_folder(tmp_path, "dec", {"estimator": "dec", "convergence": {
            "converged": True, "rule": "label change < tol", "final_label_change": 0.0004,
            "epochs": 12}}),
        run_folder(tmp_path, "dm2c", {"estimator": "dm2c", "convergence": {
            "converged": False, "rule": "epoch limit", "cycle_loss": 0.123456}}),
        run_folder(tmp_path, "idec", {"estimator": "idec", "stopped_early": False, "n_iter": 9}),
        run_folder(tmp_path, "kmeans", {"estimator": "kmeans", "inertia": 3.0}),
        run_folder(tmp_path, "jule", None),
    ]  # fmt: skip
    df = health.health_table(files).set_index("method")
    assert df.loc["dec", "status"] == "stopping rule fired"
    assert df.loc["dec", "final_label_change"] == pytest.approx(0.0004)
    assert df.loc["dec", "signals"] == "epochs=12"
    assert df.loc["dm2c", "converged"] is False or df.loc["dm2c", "converged"] == False  # noqa: E712
    assert df.loc["dm2c", "signals"] == "cycle_loss=0.1235"
    assert df.loc["idec", "status"].startswith("hit the limit")
    assert df.loc["kmeans", "status"] == health.NOT_RECORDED
    assert df.loc["jule", "status"] == "fit.json missing"
    assert df.loc["dec", "seed"] == 0 and df.loc["dec", "dataset"] == "digits"
    out = {k: tmp_path / f"health.{k}" for k in ("csv", "md", "html")}
    assert main(["health", "--fit", *files, *(f"--{k}={v}" for k, v in out.items())]) == 0
    md = out["md"].read_text()
    assert out["html"].read_text().count('class="bad"') == 2
    assert "2 did not converge" in md
    assert "- digits / pixels / dm2c / seed 0: hit the limit (cycle_loss=0.1235)" in md


def test_run_health_rejects_a_path_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a run"):
        health.run_of(tmp_path / "fit.json")


# -- what was not run ---------------------------------------------------------------------


def paper_plan() -> Plan:
    cfg = yaml.safe_load(TINY.read_text())
    cfg = copy.deepcopy(cfg)
    cfg["datasets"]["frgc"] = {"source": "jule_h5", "raw": "frgc", "options": {"reference": "FRGC"}}
    cfg["inputs"]["frgc"] = {"pixels": {"views": ["image"], "transform": "scale"}}
    cfg["experiments"]["faces"] = {
        "description": "needs FRGC",
        "regenerates": "JULE Table 1 (FRGC)",
        "category": "JULE",
        "seeds": [0],
        "runs": [{"dataset": "frgc", "input": "pixels", "methods": ["kmeans"]}],
    }
    return Plan(cfg)


def test_manual_download_blocks_its_experiments_only(tmp_path: Path) -> None:
    plan = paper_plan()
    blocked = notrun.blocked(plan, tmp_path)
    assert list(blocked) == ["faces"]
    assert "data4torch.h5" in blocked["faces"]["reason"]
    assert "resources/raw/frgc/" in blocked["faces"]["to_run"]
    # the hand-placed file in place: nothing blocks it any more
    folder = tmp_path / "resources/raw/frgc"
    folder.mkdir(parents=True)
    (folder / "data4torch.h5").write_bytes(b"x")
    assert notrun.blocked(plan, tmp_path) == {}


def test_blocking_reads_the_registry_the_downloads_read(tmp_path: Path) -> None:
    """With downloads.registry set (a data mirror's or the rehearsal's registry), a raw
    folder counts as complete by that registry's expectations, as in the download job."""
    from mmclust.data.registry import registry_path

    doc = yaml.safe_load(registry_path().read_text(encoding="utf-8"))
    doc["sources"]["frgc"]["manual"]["expect"] = [{"path": "staged.h5", "format": "hdf5"}]
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    folder = tmp_path / "resources/raw/frgc"
    folder.mkdir(parents=True)
    (folder / "staged.h5").write_bytes(b"x")
    plan = paper_plan()
    assert list(notrun.blocked(plan, tmp_path)) == ["faces"]  # the packaged registry
    plan.config["downloads"]["registry"] = "registry.yaml"  # relative to the working folder
    assert notrun.blocked(plan, tmp_path) == {}


def test_a_cuda_device_without_gpu_blocks_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = yaml.safe_load(TINY.read_text())
    cfg["device"] = "cuda"
    # jobs that ask the scheduler for a GPU: the plan accepts them on a machine without one
    cfg.setdefault("resources", {}).setdefault("train", {})["gpu"] = 1
    monkeypatch.setattr(notrun, "gpu_available", lambda: False)
    blocked = notrun.blocked(Plan(cfg))
    assert set(blocked) == set(cfg["experiments"])
    assert "device=auto" in blocked["tiny"]["to_run"]
    monkeypatch.setattr(notrun, "gpu_available", lambda: True)
    assert notrun.blocked(Plan(cfg)) == {}


def test_not_run_table(tmp_path: Path) -> None:
    (tmp_path / "results/tables").mkdir(parents=True)
    (tmp_path / "results/tables/a.csv").write_text("x\n")
    experiments = {n: {"category": "JULE", "regenerates": n} for n in "abcd"}
    blocked = {"b": {"reason": "manual download pending", "to_run": "put x into y/"}}
    df = notrun.not_run_table(
        experiments, ["a", "b", "c"], blocked, ["config/c.yaml"], tmp_path
    ).set_index("experiment")
    assert df["status"].tolist() == ["ran", "blocked", "not run yet", "not selected"]
    assert df.loc["b", "to_run"].startswith("put x into y/; then `snakemake")
    assert "--configfile config/c.yaml results/tables/b.csv" in df.loc["b", "to_run"]
    md = notrun.to_markdown(df.reset_index())
    assert "1 of 4 tables of the configuration ran; 1 are blocked" in md


# -- claims -------------------------------------------------------------------------------


def test_best_method_checks() -> None:
    rows = [
        # the paper's winner is ours too
        ("d1", "x", "a", "acc", 0.9, 0.01, 3, 0.8),
        ("d1", "x", "b", "acc", 0.7, 0.01, 3, 0.7),
        # another method beats the paper's winner, beyond the spread
        ("d2", "x", "a", "acc", 0.5, 0.01, 3, 0.8),
        ("d2", "x", "b", "acc", 0.7, 0.01, 3, 0.7),
        # within the spread
        ("d3", "x", "a", "acc", 0.69, 0.02, 3, 0.8),
        ("d3", "x", "b", "acc", 0.70, 0.02, 3, 0.7),
        # a single paper value: nothing to compare
        ("d4", "x", "a", "acc", 0.5, 0.01, 3, 0.8),
    ]
    cols = ["dataset", "input", "method", "metric", "mean", "std", "n_seeds", "paper"]
    checks = claims_section.best_method_checks(
        pd.DataFrame(rows, columns=cols), "t", {"a": "Method A"}
    ).set_index("dataset")
    assert list(checks.index) == ["d1", "d2", "d3"]
    assert checks.loc["d1", "verdict"].startswith("holds")
    assert checks.loc["d1", "paper_best"] == "Method A (x)"
    assert checks.loc["d2", "verdict"].startswith("does not hold")
    assert checks.loc["d3", "verdict"].startswith("tie within spread")


def test_claims_section_includes_the_claims_table_when_given(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    summary_frame().to_csv(table, index=False)
    claims = tmp_path / "claims.csv"
    claims.write_text("claim,verdict\nJECL > k-means,holds\n")
    out = tmp_path / "claims.html"
    claims_section.write_claims_section(
        [table], ["t"], {}, tmp_path / "c.csv", out, claims_files=[claims]
    )
    html = out.read_text()
    assert "JECL &gt; k-means" in html and "claims.csv" in html
    claims_section.write_claims_section([table], ["t"], {}, tmp_path / "c.csv", out)
    assert "No claims table in this workflow yet" in out.read_text()
    claims_section.write_claims_section([], [], {}, tmp_path / "c.csv", out)
    assert "the tables allow no comparison" in out.read_text()


# -- figures people compare -------------------------------------------------------------


def test_clusters_take_the_colour_of_their_matched_class() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    pred = np.array([5, 5, 3, 3, 3, 3, 7, 7, 7])  # 5 -> 0, 3 -> 1, 7 -> 2
    assert match_clusters(pred, labels) == {5: 0, 3: 1, 7: 2}
    # four clusters, three classes: the unmatched one gets the first colour after the classes
    pred4 = np.array([5, 5, 9, 3, 3, 3, 7, 7, 7])
    colours = cluster_colours(pred4, labels, 3)
    assert colours[3] == 1 and colours[7] == 2 and {colours[5], colours[9]} == {0, 3}


def test_sweep_marker() -> None:
    spec = {"sweep": {"parameter": "gamma", "values": [0, 1], "default": 0.1}}
    assert default_marker(spec) == {"value": 0.1, "label": "paper's default (0.1)"}
    spec = {"sweep": {"parameter": "gamma", "values": [0, 1]},
            "marker": {"value": 0.5, "label": "configured value (methods.jecl: 0.5)"}}  # fmt: skip
    assert default_marker(spec)["value"] == 0.5
    assert default_marker({"sweep": {"parameter": "missing_rate"}}) is None


# -- honest cells ---------------------------------------------------------------------------


def test_a_one_seed_row_shows_no_spread_and_missing_seeds_are_said() -> None:
    runs = pd.DataFrame(
        [
            {"dataset": "d", "input": "x", "method": "a", "seed": 0, "acc": 0.5},
            {"dataset": "d", "input": "x", "method": "b", "seed": 0, "acc": 0.6},
            {"dataset": "d", "input": "x", "method": "b", "seed": 1, "acc": 0.8},
        ]
    )
    spec = {"metrics": ["acc"], "seeds": [0, 1]}
    wide = wide_table(summarise(runs, spec), spec).set_index("Method")
    assert wide.loc["a", "ACC"] == "0.500"
    assert wide.loc["a", "Seeds"] == "1 of 2"
    assert wide.loc["b", "ACC"].startswith("0.700 ± 0.14")
    assert wide.loc["b", "Seeds"] == 2
