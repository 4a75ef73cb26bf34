"""Run collection, mean ± std summaries and the written tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmclust.report.tables import (
    approximations,
    collect_runs,
    reduced_precision,
    summarise,
    table_notes,
    wide_table,
    write_summary_tables,
)

# hand-built scores: (method, seed) -> (acc, nmi, ari)
SCORES = {
    ("dec", 0): (0.80, 0.60, 0.20),
    ("dec", 1): (0.90, 0.66, 0.40),
    ("dec", 2): (0.70, 0.75, 0.90),
    ("kmeans", 0): (0.50, 0.40, 0.30),
    ("kmeans", 1): (0.56, 0.40, 0.30),
    ("kmeans", 2): (0.62, 0.40, 0.30),
}
# means and sample standard deviations (ddof = 1), by hand:
#   dec acc    0.80 0.90 0.70: mean 0.80, deviations 0, .1, -.1  -> (0.02 / 2) ** .5 = 0.1
#   dec nmi    0.60 0.66 0.75: mean 0.67, deviations -.07 -.01 .08
#                              -> (0.0049 + 0.0001 + 0.0064) / 2 = 0.0057 -> std 0.075498
#   dec ari    0.20 0.40 0.90: mean 0.50, deviations -.3 -.1 .4
#                              -> (0.09 + 0.01 + 0.16) / 2 = 0.13 -> std 0.360555
#   kmeans acc 0.50 0.56 0.62: mean 0.56, deviations -.06 0 .06 -> (0.0072 / 2) ** .5 = 0.06
#   kmeans nmi, ari constant:  std 0
EXPECTED = {
    ("dec", "acc"): (0.80, 0.1),
    ("dec", "nmi"): (0.67, math.sqrt(0.0057)),
    ("dec", "ari"): (0.50, math.sqrt(0.13)),
    ("kmeans", "acc"): (0.56, 0.06),
    ("kmeans", "nmi"): (0.40, 0.0),
    ("kmeans", "ari"): (0.30, 0.0),
}
SPEC = {
    "metrics": ["acc", "nmi", "ari"],
    "runs": [{"dataset": "mnist5k", "input": "pixels", "methods": ["kmeans", "dec"]}],
    "labels": {"kmeans": "k-means", "dec": "DEC"},
}


def _write_runs(folder: Path, seeds=(0, 1, 2), extra=None) -> list[Path]:
    paths = []
    for (method, seed), (acc, nmi, ari) in SCORES.items():
        if seed not in seeds:
            continue
        record = {
            "dataset": "mnist5k",
            "input": "pixels",
            "method": method,
            "seed": seed,
            "acc": acc,
            "nmi": nmi,
            "ari": ari,
            "fscore": acc / 2,
            "fit_seconds": 1.5,
        }
        path = folder / f"{method}-{seed}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    for i, record in enumerate(extra or []):
        path = folder / f"extra-{i}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    # reversed so that the result's order cannot come from the file order
    return paths[::-1]


def test_collect_runs(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    assert len(runs) == 6
    assert runs[["method", "seed"]].values.tolist() == [
        ["dec", 0],
        ["dec", 1],
        ["dec", 2],
        ["kmeans", 0],
        ["kmeans", 1],
        ["kmeans", 2],
    ]
    assert {"acc", "nmi", "ari", "fscore", "fit_seconds"} <= set(runs.columns)


def test_collect_runs_needs_identifiers(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"dataset": "d", "method": "m", "acc": 0.5}))
    with pytest.raises(ValueError, match=r"lack the run identifiers \['input', 'seed'\]"):
        collect_runs([path])


def test_summarise_means_and_sample_std(tmp_path):
    summary = summarise(collect_runs(_write_runs(tmp_path)), SPEC)
    assert list(summary.columns) == [
        "dataset",
        "input",
        "method",
        "metric",
        "mean",
        "std",
        "n_seeds",
        "converged",
        "paper",
        "diff",
    ]
    assert len(summary) == 6
    # no method here keeps a convergence record: no count
    assert summary["converged"].isna().all()
    for row in summary.itertuples(index=False):
        mean, std = EXPECTED[(row.method, row.metric)]
        assert row.mean == pytest.approx(mean), (row.method, row.metric)
        assert row.std == pytest.approx(std, abs=1e-12), (row.method, row.metric)
        assert row.n_seeds == 3
    assert summary["paper"].isna().all() and summary["diff"].isna().all()
    # the hand values are the sample (ddof=1), not the population, deviation
    dec_acc = summary.query("method == 'dec' and metric == 'acc'")["std"].item()
    assert dec_acc == pytest.approx(np.std([0.8, 0.9, 0.7], ddof=1))
    assert dec_acc != pytest.approx(np.std([0.8, 0.9, 0.7], ddof=0))


def test_single_seed_has_zero_std(tmp_path):
    summary = summarise(collect_runs(_write_runs(tmp_path, seeds=(1,))), SPEC)
    assert (summary["std"] == 0.0).all()
    assert (summary["n_seeds"] == 1).all()
    dec = summary[summary["method"] == "dec"].set_index("metric")["mean"]
    assert dec.to_dict() == pytest.approx({"acc": 0.90, "nmi": 0.66, "ari": 0.40})
    wide = wide_table(summary, SPEC)
    # one seed: the value alone, no "± 0.000"
    assert wide.loc[wide["Method"] == "DEC", "ACC"].item() == "0.900"
    assert "±" not in "".join(wide[["ACC", "NMI", "ARI"]].to_numpy().ravel())
    assert wide["Seeds"].tolist() == [1, 1]
    # the experiment asked for three seeds: the rows say so
    short = wide_table(summary, {**SPEC, "seeds": [0, 1, 2]})
    assert short["Seeds"].tolist() == ["1 of 3", "1 of 3"]
    notes = table_notes(summary, {**SPEC, "seeds": [0, 1, 2]})
    assert notes[-1] == (
        "Fewer seeds than the experiment's 3: k-means on mnist5k / pixels (1); "
        "DEC on mnist5k / pixels (1)."
    )


def test_per_data_set_settings_are_named_under_the_table(tmp_path):
    summary = summarise(collect_runs(_write_runs(tmp_path)), SPEC)
    assert not any("method_overrides" in n for n in table_notes(summary, SPEC))
    spec = {
        **SPEC,
        "overrides": [
            {"dataset": "mnist5k", "method": "dec", "settings": {"lr": 0.1, "arch": "mnist"}}
        ],
    }
    notes = table_notes(summary, spec, dataset_names={"mnist5k": "MNIST (5k)"})
    assert notes[-1] == (
        "Per-data-set settings (method_overrides): DEC on MNIST (5k): lr = 0.1, arch = mnist."
    )


def test_an_approximation_a_row_used_is_said_under_the_table(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    assert approximations(runs) == {}
    runs["approximation"] = None
    runs.loc[runs["method"] == "dec", "approximation"] = "landmark approximation (2 of 9)"
    found = approximations(runs)
    assert found == {("mnist5k", "pixels", "dec"): "landmark approximation (2 of 9)"}
    notes = table_notes(summarise(runs, SPEC), SPEC, approximated=found)
    assert "DEC on mnist5k / pixels: landmark approximation (2 of 9)." in notes


def test_rows_trained_in_reduced_precision_get_a_note_through_the_same_path(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    assert reduced_precision(runs) == {}
    runs["numeric_precision"] = None  # fp32 runs record none
    runs.loc[runs["method"] == "dec", "numeric_precision"] = "bf16"
    runs.loc[(runs["method"] == "kmeans") & (runs["seed"] == 0), "numeric_precision"] = "tf32"
    found = approximations(runs)
    assert found == {
        ("mnist5k", "pixels", "dec"): "trained under bfloat16 autocast, losses and outputs in "
        "float32 (precision: bf16), not bit-identical to fp32",
        ("mnist5k", "pixels", "kmeans"): "trained with TensorFloat-32 matmuls and convolutions "
        "on CUDA (precision: tf32) in 1 of 3 seeds, not bit-identical to fp32",
    }
    # a row with an approximation of its own keeps both
    runs["approximation"] = None
    runs.loc[runs["method"] == "dec", "approximation"] = "landmarks"
    assert approximations(runs)[("mnist5k", "pixels", "dec")].startswith("landmarks; trained under")
    notes = table_notes(summarise(runs, SPEC), SPEC, approximated=found)
    assert any(n.startswith("DEC on mnist5k / pixels: trained under bfloat16") for n in notes)
    # and the written tables carry it
    runs_csv = tmp_path / "runs.csv"
    runs.to_csv(runs_csv, index=False)
    out = tmp_path / "out"
    out.mkdir()
    write_summary_tables(str(runs_csv), SPEC, *(str(out / f"t.{e}") for e in ("csv", "md", "tex")))
    assert "(precision: bf16), not bit-identical to fp32." in (out / "t.md").read_text()


def test_summarise_rows_follow_the_spec_order(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    # kmeans sorts after dec alphabetically, but the spec lists it first
    s1 = summarise(runs, SPEC)
    assert s1["method"].tolist() == ["kmeans"] * 3 + ["dec"] * 3
    assert s1["metric"].tolist() == ["acc", "nmi", "ari"] * 2

    spec2 = {
        **SPEC,
        "runs": [{"dataset": "mnist5k", "input": "pixels", "methods": ["dec", "kmeans"]}],
    }
    s2 = summarise(runs, {**spec2, "metrics": ["ari", "acc"]})
    assert s2["method"].tolist() == ["dec"] * 2 + ["kmeans"] * 2
    assert s2["metric"].tolist() == ["ari", "acc"] * 2

    wide = wide_table(s1, SPEC)
    assert wide["Method"].tolist() == ["k-means", "DEC"]
    assert list(wide.columns) == ["Data set", "Input", "Method", "ACC", "NMI", "ARI", "Seeds"]


def test_rows_missing_from_the_spec_come_last(tmp_path):
    extra = [
        {"dataset": "aaa", "input": "x", "method": "aaa", "seed": 0, "acc": 1, "nmi": 1, "ari": 1}
    ]
    summary = summarise(collect_runs(_write_runs(tmp_path, extra=extra)), SPEC)
    assert summary["method"].tolist() == ["kmeans"] * 3 + ["dec"] * 3 + ["aaa"] * 3


def test_summarise_unknown_metric(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    with pytest.raises(ValueError, match=r"metrics \['purity'\] are not in the run files"):
        summarise(runs, {**SPEC, "metrics": ["acc", "purity"]})


def _paper_file(tmp_path: Path) -> Path:
    path = tmp_path / "paper.csv"
    path.write_text(
        "dataset,method,metric,value\n"
        "mnist5k,dec,acc,0.843\n"
        "mnist5k,dec,nmi,0.800\n"
        "mnist5k,kmeans,acc,0.532\n"
        "usps,dec,acc,0.621\n"
    )
    return path


def test_paper_values_are_merged(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    spec = {**SPEC, "paper": str(_paper_file(tmp_path))}
    summary = summarise(runs, spec).set_index(["method", "metric"])
    assert len(summary) == 6
    assert summary.loc[("dec", "acc"), "paper"] == pytest.approx(0.843)
    assert summary.loc[("dec", "acc"), "diff"] == pytest.approx(0.80 - 0.843)
    assert summary.loc[("dec", "nmi"), "diff"] == pytest.approx(0.67 - 0.800)
    assert summary.loc[("kmeans", "acc"), "diff"] == pytest.approx(0.56 - 0.532)
    assert pd.isna(summary.loc[("dec", "ari"), "paper"])
    assert pd.isna(summary.loc[("kmeans", "nmi"), "diff"])

    wide = wide_table(summarise(runs, spec), spec).set_index("Method")
    assert list(wide.columns[:5]) == ["Data set", "Input", "ACC", "ACC paper", "ACC Δ"]
    assert wide.loc["DEC", "ACC"] == "0.800 ± 0.100"
    assert wide.loc["DEC", "ACC paper"] == "0.843"
    assert wide.loc["DEC", "ACC Δ"] == "-0.043"
    assert wide.loc["k-means", "ACC Δ"] == "+0.028"
    assert wide.loc["DEC", "ARI paper"] == "—"
    assert wide.loc["DEC", "ARI Δ"] == "—"


def test_paper_file_needs_its_columns(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    bad = tmp_path / "bad.csv"
    bad.write_text("dataset,method,score\nmnist5k,dec,0.8\n")
    with pytest.raises(ValueError, match="a paper-values file needs the columns"):
        summarise(runs, {**SPEC, "paper": str(bad)})


def test_wide_table_formats_mean_and_std(tmp_path):
    summary = summarise(collect_runs(_write_runs(tmp_path)), SPEC)
    wide = wide_table(summary, SPEC).set_index("Method")
    assert wide.loc["DEC", "NMI"] == "0.670 ± 0.075"
    assert wide.loc["DEC", "ARI"] == "0.500 ± 0.361"
    assert wide.loc["k-means", "ACC"] == "0.560 ± 0.060"
    assert wide.loc["k-means", "ARI"] == "0.300 ± 0.000"
    assert wide.loc["DEC", "Seeds"] == 3


def test_write_summary_tables(tmp_path):
    runs = collect_runs(_write_runs(tmp_path))
    runs_csv = tmp_path / "runs.csv"
    runs.to_csv(runs_csv, index=False)
    out = tmp_path / "tables"
    spec = {
        **SPEC,
        "paper": str(_paper_file(tmp_path)),
        "description": "DEC vs k-means on 100% of mnist_5k",
        "regenerates": "Table 2",
    }
    write_summary_tables(
        str(runs_csv), spec, str(out / "t.csv"), str(out / "t.md"), str(out / "t.tex")
    )
    assert sorted(p.name for p in out.iterdir()) == ["t.csv", "t.md", "t.tex"]

    table = pd.read_csv(out / "t.csv")
    assert len(table) == 6
    assert table["method"].tolist()[:3] == ["kmeans"] * 3
    dec_acc = table.query("method == 'dec' and metric == 'acc'")
    assert dec_acc["mean"].item() == pytest.approx(0.8)
    assert dec_acc["std"].item() == pytest.approx(0.1)
    assert dec_acc["paper"].item() == pytest.approx(0.843)

    md = (out / "t.md").read_text()
    assert "±" in md
    assert md.startswith("DEC vs k-means on 100% of mnist_5k Regenerates: Table 2.\n\n")
    assert "| mnist5k | pixels | DEC | 0.800 ± 0.100 | 0.843 | -0.043 |" in md
    assert md.rstrip().endswith("Mean ± standard deviation over seeds (the value alone: one seed).")
    assert "†" not in md

    tex = (out / "t.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\end{table}" in tex
    assert r"0.800 $\pm$ 0.100" in tex
    assert r"100\% of mnist\_5k" in tex
    assert r"ACC $\Delta$" in tex
    assert "±" not in tex


RULE = "converged when fewer than 0.1 % of the labels change between two target refreshes"


def _with_convergence(folder: Path) -> list[Path]:
    """The hand-built runs, DEC's carrying a convergence record (seed 1 did not converge)."""
    paths = _write_runs(folder)
    for path in paths:
        record = json.loads(path.read_text())
        if record["method"] == "dec":
            record.update(converged=record["seed"] != 1, convergence_rule=RULE)
            path.write_text(json.dumps(record))
    return paths


def test_converged_counts_marker_and_footnote(tmp_path):
    runs = collect_runs(_with_convergence(tmp_path))
    summary = summarise(runs, SPEC)
    counts = summary.drop_duplicates("method").set_index("method")["converged"]
    assert counts["dec"] == 2 and pd.isna(counts["kmeans"])
    wide = wide_table(summary, SPEC)
    assert wide["Method"].tolist() == ["k-means", "DEC †"]

    runs_csv = tmp_path / "runs.csv"
    runs.to_csv(runs_csv, index=False)
    out = tmp_path / "tables"
    spec = {**SPEC, "seeds": [0, 1, 2]}
    write_summary_tables(
        str(runs_csv), spec, str(out / "t.csv"), str(out / "t.md"), str(out / "t.tex")
    )
    table = pd.read_csv(out / "t.csv")
    by = table.drop_duplicates("method").set_index("method")["converged"]
    assert by["dec"] == 2 and pd.isna(by["kmeans"])
    md = (out / "t.md").read_text()
    assert "| mnist5k | pixels | DEC † | 0.800 ± 0.100 |" in md
    assert f"† DEC on mnist5k / pixels: 1 of 3 seeds did not converge (rule: {RULE})." in md
    assert "k-means †" not in md and "Fewer seeds" not in md
    tex = (out / "t.tex").read_text()
    assert r"DEC \dag{}" in tex and r"0.1 \% of the labels" in tex
    assert "†" not in tex


def test_all_seeds_converged_leaves_the_row_unmarked(tmp_path):
    paths = _with_convergence(tmp_path)
    for path in paths:
        record = json.loads(path.read_text())
        if record["method"] == "dec":
            record["converged"] = True
            path.write_text(json.dumps(record))
    summary = summarise(collect_runs(paths), SPEC)
    assert summary.query("method == 'dec'")["converged"].eq(3).all()
    assert wide_table(summary, SPEC)["Method"].tolist() == ["k-means", "DEC"]
    assert len(table_notes(summary, SPEC)) == 1


def test_a_derived_data_set_shows_its_own_name(tmp_path):
    from mmclust.report.tables import dataset_display_names

    base = {"name": "cap", "display_name": "cap (synthetic captions)"}
    derived = {
        "name": "cap-2k",
        "display_name": "cap (synthetic captions)",
        "derived": {"from": "cap", "per_class": 200},
    }
    paths = []
    for meta in (base, derived, {"name": "mfeat"}):
        paths.append(tmp_path / f"{meta['name']}.json")
        paths[-1].write_text(json.dumps(meta))
    assert dataset_display_names(paths) == {
        "cap": "cap (synthetic captions)",
        "cap-2k": "cap-2k (synthetic captions)",
    }
