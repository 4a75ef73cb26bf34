"""The papers' claims: the claims file, the checker on hand-made tables, the paper's own numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mmclust.cli import main
from mmclust.report import claims as cl
from mmclust.report.tables import METRIC_NAMES, summarise

REPO = Path(__file__).resolve().parents[1]
CLAIMS = REPO / "config/papers/claims.yaml"


def resolved_experiments(config: Path) -> dict:
    """A configuration's experiments as the workflow sees them: includes merged, method
    groups and data-set lists written out as plain runs."""
    from mmclust.plan import Plan, load_files

    return Plan(load_files([config])).experiments


def table(*rows: tuple) -> pd.DataFrame:
    """A summary table from (dataset, input, method, metric, mean, std, n_seeds[, paper])."""
    cols = ["dataset", "input", "method", "metric", "mean", "std", "n_seeds", "paper"]
    return pd.DataFrame([(*r, math.nan) if len(r) == 7 else r for r in rows], columns=cols)


def claim(**kw) -> dict:
    base = {
        "id": "a-beats-b",
        "paper": "JECL",
        "where": "somewhere",
        "statement": "A beats B.",
        "relation": ">",
        "metrics": ["acc"],
        "left": {"input": "x", "method": "a"},
        "right": {"input": "x", "method": "b"},
    }
    return {**base, **kw}


def vague() -> dict:
    """A claim without a machine-checkable form."""
    return {
        "id": "vague",
        "paper": "JULE",
        "where": "a figure",
        "statement": "Robust.",
        "relation": "none",
        "why": "no tolerance",
    }


def check(claims: list[dict], tables: dict, experiments: dict) -> pd.DataFrame:
    parsed = cl.parse_claims({"claims": claims})
    return cl.check_claims(parsed, {"experiments": experiments, "order": list(experiments)}, tables)


def one(claim_kw: dict, rows: list[tuple], **exp) -> pd.Series:
    got = check(
        [claim(**claim_kw)], {"e": table(*rows)}, {"e": {"claims": {"ids": ["a-beats-b"]}, **exp}}
    )
    assert len(got) == 1, got
    return got.iloc[0]


# -- the claims file ----------------------------------------------------------------------


def test_the_claims_file_is_valid_and_covers_the_three_papers():
    claims = cl.load_claims(CLAIMS)
    assert {c.paper for c in claims.values()} == {"JECL", "DM2C", "JULE"}
    assert len(claims) >= 25
    # every metric a claim may name is a metric of the tables
    assert set(cl.METRICS) <= set(METRIC_NAMES)
    # the brief's examples are there
    for cid in [
        "jecl-beats-concat-km", "jecl-beats-single-view", "jecl-beats-ablations",
        "dm2c-unification-helps", "dm2c-adversarial-helps", "dm2c-beats-baselines",
        "jule-rc-beats-ac-gdl", "jule-rc-beats-sf", "jule-representation-helps-every-baseline",
        "jule-transfer-beats-data", "jecl-missing-beats-daimc",
    ]:  # fmt: skip
        assert cid in claims, cid
    assert all(c.why for c in claims.values() if not c.checkable)


@pytest.mark.parametrize("config", sorted((REPO / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_every_configs_claims_refer_to_the_file(config):
    claims = cl.load_claims(CLAIMS)
    cl.check_experiment_entries(claims, resolved_experiments(config))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("where"), r"claims\[0\] \(a-beats-b\): 'where' is a required property"),
        (
            lambda c: c.update(relation="<"),
            r"claims\[0\] \(a-beats-b\)\.relation: '<' is not one of",
        ),
        (
            lambda c: c.update(metrics=["speed"]),
            r"\(a-beats-b\)\.metrics\.0: 'speed' is not one of",
        ),
        (lambda c: c.update(left={"model": "a"}), r"\(a-beats-b\)\.left: Additional properties"),
        (lambda c: c.update(id="A B"), r"claims\[0\] \(A B\)\.id: 'A B' does not match"),
        (lambda c: c.pop("left"), r"relation '>' needs \['left'\]"),
        (lambda c: c.update(relation="none"), r"relation 'none' needs 'why'"),
        (
            lambda c: c.update(right={"method": "{method}"}),
            r"names the left row: needs 'each: true'",
        ),
        (
            lambda c: c.update(each=True, right={"method": "{model}"}),
            r"only \{input\} and \{method\}",
        ),
    ],
)
def test_a_bad_claim_is_a_clear_error(edit, message):
    bad = claim()
    edit(bad)
    with pytest.raises(cl.ClaimsError, match=message):
        cl.parse_claims({"claims": [bad]}, "claims.yaml")


def test_duplicate_ids_and_bad_experiment_entries_are_errors(tmp_path):
    with pytest.raises(cl.ClaimsError, match="the id 'a-beats-b' is used twice"):
        cl.parse_claims({"claims": [claim(), claim()]})
    path = tmp_path / "claims.yaml"
    path.write_text("claims: [ {id: x\n")
    with pytest.raises(cl.ClaimsError, match="not valid YAML"):
        cl.load_claims(path)
    claims = cl.parse_claims({"claims": [claim(), vague()]})
    exps = {"e": {"runs": [{"dataset": "d", "input": "x", "methods": ["a"]}]}}
    for entry, message in [
        ({"ids": ["nope"]}, r"experiments\.e\.claims\.ids: unknown claim 'nope'"),
        ({"ids": ["vague"]}, r"claim 'vague' has no machine-checkable form"),
        (
            {"ids": ["a-beats-b"], "with": ["f"]},
            r"experiments\.e\.claims\.with: no other experiment 'f'",
        ),
        (
            {"ids": ["a-beats-b"], "inputs": {"x": {"z": "y"}}},
            r"inputs\.x: data sets \['z'\] are not",
        ),
    ]:
        with pytest.raises(cl.ClaimsError, match=message):
            cl.check_experiment_entries(claims, {"e": {**exps["e"], "claims": entry}})


# -- the checker on hand-made tables ------------------------------------------------------


def test_holds_with_the_numbers_on_both_sides():
    r = one({}, [("d", "x", "a", "acc", 0.80, 0.01, 3), ("d", "x", "b", "acc", 0.70, 0.02, 3)])
    assert r["status"] == cl.HOLDS and r["beyond_spread"] == "yes"
    assert (r["left_mean"], r["left_std"], r["left_seeds"]) == (0.80, 0.01, 3)
    assert (r["right_mean"], r["right_std"], r["right_seeds"]) == (0.70, 0.02, 3)
    assert r["diff"] == pytest.approx(0.10) and r["dataset"] == "d" and r["experiment"] == "e"
    assert r["left"] == "a [x]" and r["right"] == "b [x]"


def test_does_not_hold_and_overlapping_spreads():
    r = one({}, [("d", "x", "a", "acc", 0.60, 0.01, 3), ("d", "x", "b", "acc", 0.70, 0.02, 3)])
    assert r["status"] == cl.FAILS and r["beyond_spread"] == "yes"
    # better, but within the seed spread (0.02 < 0.03 + 0.03)
    r = one({}, [("d", "x", "a", "acc", 0.72, 0.03, 3), ("d", "x", "b", "acc", 0.70, 0.03, 3)])
    assert r["status"] == cl.HOLDS and r["beyond_spread"] == "no"


def test_ties():
    rows = [("d", "x", "a", "acc", 0.7, 0.0, 3), ("d", "x", "b", "acc", 0.7 + 1e-9, 0.0, 3)]
    r = one({}, rows)
    assert r["status"] == cl.FAILS and r["note"] == "tie"  # '>' needs a positive difference
    assert one({"relation": ">="}, rows)["status"] == cl.HOLDS
    assert one({"relation": "~"}, rows)["status"] == cl.HOLDS


def test_competitive_allows_the_seed_spread():
    rows = [("d", "x", "a", "acc", 0.68, 0.02, 3), ("d", "x", "b", "acc", 0.70, 0.01, 3)]
    assert one({"relation": "~"}, rows)["status"] == cl.HOLDS  # -0.02 >= -(0.02 + 0.01)
    assert one({"relation": ">="}, rows)["status"] == cl.FAILS
    rows[0] = ("d", "x", "a", "acc", 0.66, 0.02, 3)
    assert one({"relation": "~"}, rows)["status"] == cl.FAILS  # -0.04 < -0.03


def test_not_run():
    # the right side's method did not run
    r = one({}, [("d", "x", "a", "acc", 0.8, 0.0, 3)])
    assert r["status"] == cl.NOT_RUN and "right side (input=x method=b)" in r["note"]
    assert math.isnan(r["diff"]) and r["left"] == "a [x]"
    # nor the left
    r = one({}, [("d", "x", "b", "acc", 0.8, 0.0, 3)])
    assert r["status"] == cl.NOT_RUN and "left side" in r["note"]
    # a metric the table does not have
    r = one(
        {"metrics": ["nmi"]}, [("d", "x", "a", "acc", 0.8, 0, 3), ("d", "x", "b", "acc", 0.7, 0, 3)]
    )
    assert r["status"] == cl.NOT_RUN and r["metric"] == "nmi"
    # no experiment lists the claim; a claim without a form is listed, unchecked
    got = check([claim(), vague()], {}, {})
    assert list(got["status"]) == [cl.NOT_RUN, cl.UNCHECKABLE]
    assert "no experiment of this configuration" in got.iloc[0]["note"]
    assert got.iloc[1]["note"] == "no tolerance"
    # an experiment that lists it but has no table
    got = check([claim()], {}, {"e": {"claims": {"ids": ["a-beats-b"]}}})
    assert got.iloc[0]["status"] == cl.NOT_RUN and "table is missing" in got.iloc[0]["note"]


def test_one_seed_has_no_spread():
    r = one({}, [("d", "x", "a", "acc", 0.8, 0.0, 1), ("d", "x", "b", "acc", 0.7, 0.0, 1)])
    assert r["status"] == cl.HOLDS and r["beyond_spread"] == "n/a (one seed)"


def test_the_right_side_is_the_best_of_its_rows_and_notes_the_missing():
    kw = {"right": [{"method": "b"}, {"method": "c"}, {"method": "z"}]}
    rows = [
        ("d", "x", "a", "acc", 0.8, 0.0, 3),
        ("d", "x", "b", "acc", 0.7, 0.0, 3),
        ("d", "y", "c", "acc", 0.85, 0.0, 3),
    ]
    r = one(kw, rows)
    assert r["status"] == cl.FAILS and r["right_mean"] == 0.85
    assert r["right"] == "c [y] (best of 2)" and r["note"] == "not run: method=z"


def test_per_data_set_and_metric_with_paper_numbers():
    rows = [
        ("d1", "x", "a", "acc", 0.8, 0.0, 3, 0.9),
        ("d1", "x", "b", "acc", 0.7, 0.0, 3, 0.95),
        ("d1", "x", "a", "nmi", 0.8, 0.0, 3, math.nan),
        ("d1", "x", "b", "nmi", 0.9, 0.0, 3, math.nan),
        ("d2", "x", "a", "acc", 0.5, 0.0, 3, 0.9),
        ("d2", "x", "b", "acc", 0.4, 0.0, 3, 0.8),
    ]
    got = check(
        [claim(metrics=["acc", "nmi"])],
        {"e": table(*rows)},
        {"e": {"claims": {"ids": ["a-beats-b"]}}},
    )
    cols = [got[k] for k in ("dataset", "metric", "status", "paper_status")]
    assert list(zip(*cols, strict=True)) == [
        ("d1", "acc", cl.HOLDS, cl.FAILS),  # ours holds; the paper's own numbers do not
        ("d1", "nmi", cl.FAILS, ""),
        ("d2", "acc", cl.HOLDS, cl.HOLDS),
        ("d2", "nmi", cl.NOT_RUN, ""),  # d2 has no NMI rows
    ]  # fmt: skip
    v = cl.verdicts(got)
    assert list(zip(v["dataset"], v["verdict"], v["held"], strict=True)) == [
        ("d1", cl.FAILS, "1/2"),
        ("d2", cl.HOLDS, "1/1 (1 not run)"),
    ]


def test_names_are_mapped_per_experiment_and_data_set():
    kw = {
        "left": {"input": "pair", "method": "jecl"},
        "right": {"input": "resnet50", "method": "kmeans"},
    }
    rows = [
        ("mfeat", "pair", "jecl", "acc", 0.8, 0.0, 3),
        ("mfeat", "pix", "kmeans", "acc", 0.7, 0.0, 3),
        ("digits", "pair", "jecl", "acc", 0.8, 0.0, 3),
        ("digits", "efficientnet", "kmeans", "acc", 0.9, 0.0, 3),
    ]
    entry = {
        "ids": ["a-beats-b"],
        "inputs": {"resnet50": {"mfeat": "pix", "digits": "efficientnet"}},
    }
    got = check([claim(**kw)], {"e": table(*rows)}, {"e": {"claims": entry}})
    assert list(got["status"]) == [cl.HOLDS, cl.FAILS]
    # methods: the experiment's paper_names (config -> paper) read backwards, or claims.methods
    rows = [
        ("w", "pair", "dm2c-wiki", "acc", 0.3, 0, 3),
        ("w", "pooled", "kmeans", "acc", 0.2, 0, 3),
    ]
    kw = {"left": {"method": "dm2c"}, "right": {"method": "kmeans"}}
    exp = {"claims": {"ids": ["a-beats-b"]}, "paper_names": {"dm2c-wiki": "dm2c"}}
    assert check([claim(**kw)], {"e": table(*rows)}, {"e": exp}).iloc[0]["status"] == cl.HOLDS
    exp = {"claims": {"ids": ["a-beats-b"], "methods": {"dm2c": "dm2c-wiki"}}}
    assert check([claim(**kw)], {"e": table(*rows)}, {"e": exp}).iloc[0]["status"] == cl.HOLDS


def test_each_left_row_against_its_own_right_row_from_another_table():
    kw = {
        "each": True,
        "left": {"input": "jule"},
        "right": {"input": "pixels", "method": "{method}"},
    }
    t2 = table(("d", "jule", "kmeans", "acc", 0.9, 0, 3), ("d", "jule", "ac-gdl", "acc", 0.8, 0, 3))
    t1 = table(
        ("d", "pixels", "kmeans", "acc", 0.5, 0, 3),
        ("d", "pixels", "ac-gdl", "acc", 0.85, 0, 3),
        ("d", "pixels", "jule-rc", "acc", 0.99, 0, 3),
    )
    exps = {"t2": {"claims": {"ids": ["a-beats-b"], "with": ["t1"]}}, "t1": {}}
    got = check([claim(**kw)], {"t2": t2, "t1": t1}, exps)
    assert list(zip(got["left"], got["right"], got["status"], strict=True)) == [
        ("kmeans [jule]", "kmeans [pixels]", cl.HOLDS),
        ("ac-gdl [jule]", "ac-gdl [pixels]", cl.FAILS),
    ]
    # without 'with' the right side is not run
    exps = {"t2": {"claims": {"ids": ["a-beats-b"]}}}
    got = check([claim(**kw)], {"t2": t2}, exps)
    assert set(got["status"]) == {cl.NOT_RUN}


def _sweep(method_param: bool = False) -> tuple[pd.DataFrame, dict]:
    rows, points = [], []
    for x, (a, b) in {0.0: (0.9, 0.5), 0.5: (0.8, 0.6), 0.9: (0.5, 0.7)}.items():
        for m, v in (("a", a), ("b", b)):
            ds = "d" if method_param else f"d.missing-text-{x:g}"
            name = f"{m}.gamma-{x:g}" if method_param else m
            rows.append((ds, "x", name, "acc", v, 0.01, 2))
            points.append({"dataset": ds, "input": "x", "method": name, "x": x})
    param = "gamma" if method_param else "missing_rate"
    return table(*rows), {"sweep": {"parameter": param}, "points": points}


def test_a_sweep_is_compared_at_every_value():
    t, spec = _sweep()
    got = check([claim()], {"s": t}, {"s": {"claims": {"ids": ["a-beats-b"]}, **spec}})
    assert list(got["dataset"]) == ["d"] * 3
    assert list(zip(got["scope"], got["status"], strict=True)) == [
        ("missing_rate = 0", cl.HOLDS),
        ("missing_rate = 0.5", cl.HOLDS),
        ("missing_rate = 0.9", cl.FAILS),
    ]
    assert cl.verdicts(got).iloc[0]["verdict"] == cl.FAILS


def test_sweep_values_named_in_a_selector():
    t, spec = _sweep(method_param=True)
    exp = {"s": {"claims": {"ids": ["a-beats-b"]}, **spec}}
    # a at gamma = 0 against a at every other gamma: 0.9 >= max(0.8, 0.5)
    kw = {"relation": ">=", "left": {"method": "a", "x": 0}, "right": {"method": "a"}}
    r = check([claim(**kw)], {"s": t}, exp).iloc[0]
    assert r["status"] == cl.HOLDS and r["right_mean"] == 0.8 and r["scope"] == ""
    assert r["left"] == "a [x] at gamma = 0" and r["right"] == "a [x] at gamma = 0.5 (best of 2)"
    # the largest value against the smallest
    kw = {"left": {"method": "b", "x": "max"}, "right": {"method": "b", "x": "min"}}
    r = check([claim(**kw)], {"s": t}, exp).iloc[0]
    assert (r["left_mean"], r["right_mean"], r["status"]) == (0.7, 0.5, cl.HOLDS)


def test_the_cli_writes_the_csv_and_markdown(tmp_path):
    claims = tmp_path / "claims.yaml"
    claims.write_text(yaml.safe_dump({"claims": [claim(), claim(id="unlisted"), vague()]}))
    tab = tmp_path / "e.csv"
    table(("d", "x", "a", "acc", 0.8, 0.01, 3), ("d", "x", "b", "acc", 0.7, 0.01, 3)).to_csv(tab)
    spec = '{"experiments": {"e": {"claims": {"ids": ["a-beats-b"]}}}, "order": ["e"]}'
    csv, md = tmp_path / "claims.csv", tmp_path / "claims.md"
    argv = ["claims", "--claims", str(claims), "--spec", spec, "--csv", str(csv), "--md", str(md)]
    assert main([*argv, "--tables", str(tab)]) == 0
    got = pd.read_csv(csv)
    assert list(got["status"]) == [cl.HOLDS, cl.NOT_RUN, cl.UNCHECKABLE]
    text = md.read_text()
    assert "| a-beats-b | JECL | A beats B. | e | d | holds | 1/1 | 1/1 |" in text
    assert "## Not run: no experiment" in text and "| unlisted |" in text
    assert "## Claims without a machine-checkable form" in text and "no tolerance" in text
    assert "a [x]: 0.800 ± 0.010 (3)" in text
    # a bad claims file stops the command with the claim named
    claims.write_text(yaml.safe_dump({"claims": [claim(relation="<")]}))
    with pytest.raises(SystemExit, match=r"\(a-beats-b\)\.relation"):
        main([*argv, "--tables", str(tab)])


# -- the claims on the paper's own numbers ------------------------------------------------

# Where the papers' own tables contradict (part of) a claim; each is in the claim's note.
PAPER_CONTRADICTIONS = {
    ("jecl-beats-single-view", "coco-all", "nmi"),
    ("jecl-beats-single-view", "pascal", "acc"),
    ("jecl-beats-multiview", "coco-all", "nmi"),
    ("jecl-beats-multiview", "pascal", "acc"),
    ("jecl-beats-ablations", "pascal", "acc"),
    ("jecl-beats-ablations", "rgbd", "ari"),  # a tie
    ("jecl-regularizer-helps", "pascal", "acc"),
    ("dm2c-adversarial-helps", "wikipedia-mixed", "ari"),
    ("dm2c-adversarial-helps", "wikipedia-mixed", "fscore"),
    ("dm2c-adversarial-helps", "nus-wide-10k-mixed", "nmi"),
    ("jule-rc-beats-sf", "umist", "nmi_geometric"),
}


def _paper_tables(cfg: dict) -> tuple[dict, dict]:
    """Summary tables of the paper-scale experiments filled with the papers' values."""
    exps = cfg["experiments"]
    names = [n for n, e in exps.items() if e.get("claims") and e.get("paper")]
    names += [w for n in names for w in exps[n]["claims"].get("with", [])]
    tables = {}
    for name in dict.fromkeys(names):
        exp = exps[name]
        paper = pd.read_csv(REPO / exp["paper"])
        aliases = exp.get("paper_names", {})
        rows = []
        for run in exp["runs"]:
            for m in run["methods"]:
                sel = paper[
                    (paper["dataset"] == run["dataset"]) & (paper["method"] == aliases.get(m, m))
                ]
                if "input" in paper:
                    sel = sel[sel["input"] == run["input"]]
                if not sel.empty:
                    values = dict(zip(sel["metric"], sel["value"], strict=True))
                    rows.append({**run, "method": m, "seed": 0, **values})
        if rows:
            runs = pd.DataFrame(rows)
            metrics = [m for m in exp.get("metrics", ["acc", "nmi", "ari"]) if m in runs]
            tables[name] = summarise(
                runs, {**exp, "metrics": metrics, "paper": REPO / exp["paper"]}
            )
    order = [n for n in dict.fromkeys(names) if n in tables]
    return tables, {"experiments": {n: exps[n] for n in order}, "order": order}


def test_the_claims_hold_on_the_papers_own_numbers_except_where_they_say():
    claims = cl.load_claims(CLAIMS)
    tables, spec = _paper_tables({"experiments": resolved_experiments(REPO / "config/config.yaml")})
    got = cl.check_claims(claims, spec, tables)
    run = got[got["status"].isin([cl.HOLDS, cl.FAILS])]
    assert len(run) > 150
    # our numbers are the paper's here: both columns agree
    assert (run["status"] == run["paper_status"]).all()
    failing = set(
        zip(
            *(run.loc[run["status"] == cl.FAILS, k] for k in ("claim", "dataset", "metric")),
            strict=True,
        )
    )
    assert failing == PAPER_CONTRADICTIONS
    for cid in {c for c, _, _ in failing}:
        assert "contradicts" in claims[cid].note, cid
    # every table claim of the paper-scale configuration is tested on some data set
    tested = set(run["claim"])
    for cid in ["jecl-beats-concat-km", "dm2c-unification-helps", "dm2c-nus-beats-baselines",
                "jule-beats-baselines", "jule-representation-helps-every-baseline",
                "jule-transfer-top1-beats-top", "dm2c-kmeans-matches-deep"]:  # fmt: skip
        assert cid in tested, cid


def test_with_every_run_of_the_full_configuration_no_claim_is_left_unrun():
    """The claim names and the experiments' maps resolve: every comparison finds its rows."""
    cfg = {"experiments": resolved_experiments(REPO / "config/config.yaml")}
    exps = {n: e for n, e in cfg["experiments"].items() if e.get("claims") and not e.get("sweep")}
    names = list(exps) + [w for e in exps.values() for w in e["claims"].get("with", [])]
    tables = {}
    for i, name in enumerate(dict.fromkeys(names)):
        exp = cfg["experiments"][name]
        rows = [
            (run["dataset"], run["input"], m, metric, 0.5 + 0.01 * i, 0.01, 3)
            for run in exp["runs"]
            for m in run["methods"]
            for metric in exp.get("metrics", ["acc", "nmi", "ari"])
        ]
        tables[name] = table(*rows)
    spec = {"experiments": {n: cfg["experiments"][n] for n in tables}, "order": list(tables)}
    got = cl.check_claims(cl.load_claims(CLAIMS), spec, tables)
    listed = got[got["experiment"] != ""]
    assert set(listed["experiment"]) == set(exps)
    assert (listed["status"] != cl.NOT_RUN).all(), listed[listed["status"] == cl.NOT_RUN]
