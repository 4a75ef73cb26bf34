"""The plan layer (src/mmclust/plan): loading, validation, resolution and every check.

These are unit tests on configuration dictionaries: milliseconds each, no
Snakemake.  tests/test_workflow.py proves the wiring end to end.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmclust.plan import ConfigError, Plan, Run, load_files, merge
from mmclust.plan.show import show
from tests.helpers import REPO, TINY


def tiny() -> dict:
    return yaml.safe_load(TINY.read_text())


def plan_of(cfg: dict) -> Plan:
    return Plan(cfg)


def fails(cfg: dict, message: str) -> str:
    with pytest.raises(ConfigError) as err:
        Plan(cfg)
    assert re.search(message, str(err.value)), str(err.value)
    return str(err.value)


# -- loading ----------------------------------------------------------------------------------


def test_merge_is_key_by_key_and_copies() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    out = merge(base, {"a": {"y": [3]}, "c": 2})
    assert out == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    out["a"]["x"] = 5
    assert base["a"]["x"] == 1


def test_include_is_read_first_and_the_including_file_wins(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base/a.yaml").write_text("x: 1\nm: {k: 1, j: 2}\n")
    (tmp_path / "base/b.yaml").write_text("include: [a.yaml]\ny: 2\nm: {j: 3}\n")
    (tmp_path / "top.yaml").write_text("include: [base/b.yaml]\nm: {k: 9}\n")
    cfg = load_files([tmp_path / "top.yaml"])
    sources = cfg.pop("_configfiles")
    assert cfg == {"x": 1, "y": 2, "m": {"k": 9, "j": 3}}
    assert [Path(s).name for s in sources] == ["a.yaml", "b.yaml", "top.yaml"]


def test_include_cycle_and_missing_file_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("include: [b.yaml]\n")
    (tmp_path / "b.yaml").write_text("include: [a.yaml]\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_files([tmp_path / "a.yaml"])
    (tmp_path / "c.yaml").write_text("include: [nowhere.yaml]\n")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml does not exist"):
        load_files([tmp_path / "c.yaml"])


# -- the schema ----------------------------------------------------------------------------


def test_unknown_top_level_key_names_it_and_the_allowed_keys_briefly() -> None:
    cfg = tiny()
    cfg["seeds"] = [0]
    msg = fails(cfg, r"^seeds: unknown key; the keys allowed here are: .*datasets.*experiments")
    assert len(msg) < 400  # never the whole schema


def test_unknown_nested_key_and_wrong_value() -> None:
    cfg = tiny()
    cfg["datasets"]["digits"]["option"] = {}
    fails(cfg, r"datasets\.digits(\.option)?: ")
    cfg = tiny()
    cfg["experiments"]["tiny"]["metrics"] = ["acc", "accuracy"]
    fails(cfg, r"experiments\.tiny\.metrics\[1\]: 'accuracy' is not one of: acc, nmi")


def test_schema_defaults_are_filled_without_sharing() -> None:
    plan = Plan(tiny())
    a, b = plan.experiments["tiny"], plan.experiments["tiny-jecl"]
    assert a["metrics"] == ["acc", "nmi", "ari"] and a["tsne"]
    # a generated sweep label never leaks into another experiment's labels
    assert not any("." in k for k in b["labels"]) and not any("." in k for k in a["labels"])


# -- the bad configurations a user writes (each before any job) -------------------------------


def _cases():
    return [
        (lambda c: c["methods"]["dec"].update(lr="fast"), r"'fast' is not of type 'number'"),
        (lambda c: c["methods"]["dec"].update(learning_rate=0.1), r"methods\.dec.*learning_rate"),
        (lambda c: c["pretrain"]["default"].update(epochs=-1), r"pretrain\.default\.epochs"),
        (lambda c: c["pretrain"]["overrides"]["mfeat"].update(epoch=3), r"epoch"),
        (
            lambda c: c["experiments"]["tiny"]["runs"][0]["methods"].append("sec"),
            r"experiments\.tiny\.runs\[0\]\.methods: unknown method 'sec'",
        ),
        (
            lambda c: c["experiments"]["tiny"]["runs"][0]["methods"].append("jecl"),
            r"method 'jecl' is multi-view and needs a composite input",
        ),
        (
            lambda c: c["experiments"]["tiny-gamma"]["sweep"].update(parameter="n_clusters"),
            r"tiny-gamma\.sweep \(n_clusters = 0 of method 'jecl'\)",
        ),
        (
            lambda c: c["experiments"]["tiny-gamma"]["sweep"].update(values=[-1, 0.5]),
            r"gamma = -1 of method 'jecl'\)\.gamma: -1 is less than the minimum of 0",
        ),
        (
            lambda c: c["experiments"]["tiny-missing"]["sweep"].update(
                parameter="per_class", values=[2.5]
            ),
            r"tiny-missing\.sweep\.values: per_class takes whole numbers",
        ),
        (
            lambda c: c["inputs"]["mfeat"]["pair"].update(combine=["fou", "zer"]),
            r"inputs\.mfeat\.pair\.combine: data set 'mfeat' has no input 'zer'",
        ),
        (
            lambda c: c["inputs"]["mfeat"].update(pair2={"combine": ["pair", "fou"]}),
            r"inputs\.mfeat\.pair2\.combine: 'pair' is itself composite",
        ),
        (
            lambda c: c["experiments"]["tiny"]["runs"][0].update(input="raw"),
            r"experiments\.tiny\.runs\[0\]\.input: data set 'digits' has no input 'raw'",
        ),
        (
            lambda c: c["experiments"]["tiny"]["runs"][0].update(dataset="usps"),
            r"experiments\.tiny\.runs\[0\]\.dataset: unknown data set 'usps'",
        ),
        (
            lambda c: c["experiments"]["tiny"]["runs"][0].update(datasets=["digits"]),
            r"experiments\.tiny\.runs\[0\]: give either dataset or datasets",
        ),
        (
            lambda c: c["experiments"]["tiny"].update(metrics=["acc", "acc_b_via_a"]),
            r"experiments\.tiny\.metrics: \['acc_b_via_a'\] score mixed-modal data sets only",
        ),
        (
            lambda c: c["experiments"]["tiny"]["tsne"].append(
                {"dataset": "digits", "input": "pixels", "method": "jecl"}
            ),
            r"experiments\.tiny\.tsne\[1\]: \('digits', 'pixels', 'jecl'\) is not among",
        ),
        (
            lambda c: c["experiments"]["tiny"]["tsne"][0].update(seed=7),
            r"experiments\.tiny\.tsne\[0\]\.seed: 7 is not in its seeds",
        ),
        (
            lambda c: c["datasets"]["captioned-mixed"].update(mixed_from="nothing"),
            r"datasets\.captioned-mixed\.mixed_from: no data set 'nothing'",
        ),
        (
            lambda c: c["datasets"].update(
                a={"derived_from": "b", "per_class": 2}, b={"derived_from": "a", "per_class": 2}
            ),
            r"bases form a cycle",
        ),
        (
            lambda c: (
                c["datasets"].update(sub={"derived_from": "digits", "per_class": 5})
                or c["inputs"].update(sub={"x": {"views": ["image"]}})
            ),
            r"inputs\.sub: a derived data set uses the inputs of 'digits'",
        ),
        (
            lambda c: c.update(method_overrides={"usps": {"jule": {"arch": "usps"}}}),
            r"method_overrides\.usps: no data set 'usps'",
        ),
        (
            lambda c: c.update(method_overrides={"digits": {"jule": {"archi": "usps"}}}),
            r"method_overrides\.digits\.jule\.archi: estimator 'jule' has no parameter",
        ),
        (
            lambda c: c["pretrain"]["overrides"].update(usps={"epochs": 1}),
            r"pretrain\.overrides\.usps: no data set 'usps'",
        ),
        (
            lambda c: c["inputs"]["digits"].update(
                emb={"from_run": {"input": "pixels", "method": "nope", "seed": 0}}
            ),
            r"inputs\.digits\.emb\.from_run: data set 'digits' needs an input 'pixels' "
            r"and a method 'nope'",
        ),
        (lambda c: c.update(targets=["nothing"]), r"targets: no experiment 'nothing'"),
        (
            lambda c: c.update(downloads={"allow_unverified": True}),
            r"downloads\.allow_unverified: obsolete\. .*trusted on first use",
        ),
        (
            lambda c: c.update(downloads={"mirror_only": True}),
            r"downloads\.mirror_only: true, but no downloads\.mirror is given",
        ),
        (
            lambda c: c["datasets"]["digits"].update(options={"size": 8}),
            r"datasets\.digits\.options: data source 'digits' has no option\(s\) \['size'\]",
        ),
        (
            lambda c: c["inputs"]["digits"]["pixels"].update(views=["images"]),
            r"inputs\.digits\.pixels\.views: data set 'digits' has no view 'images'; "
            r"its views are \['image'\]",
        ),
        (
            lambda c: c["datasets"]["mfeat-mixed"].update(views=["fou", "zer"]),
            r"datasets\.mfeat-mixed\.views: 'mfeat' has no view 'zer'; its views are "
            r"\['fou', 'kar'\]",
        ),
        (
            lambda c: c["experiments"]["tiny-missing"]["sweep"].update(view="caption"),
            r"tiny-missing\.sweep\.view: data set 'captioned' has no view 'caption'",
        ),
        (
            lambda c: c.update(device="gpu"),
            r"device: 'gpu' is not allowed here; expected torch device for training: auto",
        ),
        (
            lambda c: c.update(method_groups={"dec": ["kmeans"]}),
            r"method_groups\.dec: a method has the same name",
        ),
        (
            lambda c: c.update(method_groups={"g": ["kmeans", "nope"]}),
            r"method_groups\.g: unknown method 'nope'",
        ),
        # every kind of input takes its own keys; an unused key is an error naming it
        (
            lambda c: c["inputs"]["mfeat"]["pair"].update(options={"vector_size": 3}),
            r"inputs\.mfeat\.pair\.options: an input made with combine does not use 'options' "
            r"\(it takes: combine, mode, transform, factor\)",
        ),
        (
            lambda c: c["inputs"]["captioned"]["doc2vec"].update(mode="pool"),
            r"inputs\.captioned\.doc2vec\.mode: an input made with extractor does not use 'mode'",
        ),
        (
            lambda c: c["inputs"]["mfeat"]["fou"].update(options={}),
            r"inputs\.mfeat\.fou\.options: an input made with raw views does not use 'options'",
        ),
        (
            lambda c: c["inputs"]["mfeat"]["fou"].update(factor=0.5),
            r"inputs\.mfeat\.fou\.factor: 'factor' applies to transform: scale only",
        ),
        (
            lambda c: c["inputs"]["captioned"]["doc2vec"].update(transform="whiten"),
            r"inputs\.captioned\.doc2vec\.transform: 'whiten' is not one of: scale, "
            r"standardize, unit_power, none",
        ),
        (
            lambda c: c["inputs"]["captioned"]["pair"].update(part_of="pair"),
            r"inputs\.captioned\.pair\.part_of: unknown key",
        ),
        (
            lambda c: c["methods"]["dec"].update(update_every_epochs=0),
            r"methods\.dec\.update_every_epochs: 0 is less than or equal to the minimum of 0",
        ),
        (
            lambda c: c["methods"]["jecl"].update(update_interval=0.5),
            r"methods\.jecl\.update_interval: 0\.5 is not of type 'integer', 'null'",
        ),
    ]


def _claims_cases():
    def claims(c: dict, exp: str = "tiny-jecl") -> dict:
        return c["experiments"][exp].setdefault("claims", {"ids": []})

    return [
        (
            lambda c: claims(c)["ids"].append("jecl-wins"),
            r"^experiments\.tiny-jecl\.claims\.ids: unknown claim 'jecl-wins' \(the claims file",
        ),
        (
            lambda c: claims(c)["ids"].append("jecl-robust-missing"),
            r"claims\.ids: claim 'jecl-robust-missing' has no machine-checkable form",
        ),
        (
            lambda c: claims(c).update(with_=["tiny"]),
            r"experiments\.tiny-jecl\.claims\.with_: unknown key",
        ),
        (lambda c: claims(c).update({"with": ["nothing"]}), r"claims\.with: no other experiment"),
        # names a method / input the experiment does not run
        (
            lambda c: claims(c)["ids"].append("jecl-missing-beats-daimc"),
            r"^experiments\.tiny-jecl\.claims\.ids: claim 'jecl-missing-beats-daimc': the "
            r"experiment runs nothing its right side names \(input=pair method=daimc\)",
        ),
        (
            lambda c: claims(c, "tiny")["ids"].append("jecl-beats-concat-km"),
            r"^experiments\.tiny\.claims\.ids: claim 'jecl-beats-concat-km': the experiment "
            r"runs nothing its left side names \(input=pair method=jecl\) on any of its data "
            r"sets \['digits', 'mfeat', 'captioned'\]",
        ),
        (
            lambda c: claims(c).update(methods={"jecl-no-align": "jecl-no-reg"}),
            r"^experiments\.tiny-jecl\.claims\.methods\.jecl-no-align: the experiment runs no "
            r"method 'jecl-no-reg' on any of its data sets",
        ),
        (
            lambda c: claims(c).update(inputs={"pair": {"mfeat": "both"}}),
            r"claims\.inputs\.pair: the experiment runs no input 'both' on data set 'mfeat' "
            r"\(its inputs there: \['fou', 'pair'\]\)",
        ),
        (
            lambda c: claims(c).update(inputs={"pair": {"digits": "pixels"}}),
            r"claims\.inputs\.pair: data sets \['digits'\] are not among the experiment's",
        ),
        # a sweep claim on a table without a sweep, or at a value the sweep lacks
        (
            lambda c: claims(c)["ids"].append("jecl-gamma-default-top"),
            r"claim 'jecl-gamma-default-top' compares swept values \(x\), and the experiment is "
            r"not a sweep",
        ),
        (
            lambda c: claims(c, "tiny-gamma")["ids"].append("jecl-gamma-default-top"),
            r"tiny-gamma\.claims\.ids: claim 'jecl-gamma-default-top': the experiment runs "
            r"nothing its left side names \(input=pair method=jecl x=0\.1\)",
        ),
        (
            lambda c: c["experiments"]["tiny-dm2c"].update(metrics=["nmi", "purity"]),
            r"tiny-dm2c\.claims\.ids: claim 'dm2c-kmeans-matches-deep' compares \['acc', 'ari', "
            r"'fscore'\], none of which the experiment computes",
        ),
        (
            lambda c: c["experiments"].update(claims=c["experiments"]["tiny"]),
            r"^experiments\.claims: this name is reserved for the claims table",
        ),
        (lambda c: c.update(claims_file="no/such/claims.yaml"), r"^claims_file: no file .*no/such"),
    ]


@pytest.mark.parametrize(("edit", "message"), _claims_cases())
def test_bad_claims_entry(edit, message: str) -> None:
    cfg = tiny()
    edit(cfg)
    fails(cfg, message)


def test_a_bad_claims_file_names_the_claim_and_key(tmp_path: Path) -> None:
    claims = yaml.safe_load((REPO / "config/papers/claims.yaml").read_text())
    claims["claims"][0]["relation"] = "beats"
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump(claims))
    cfg = tiny()
    cfg["claims_file"] = "claims.yaml"  # relative to the workflow's folder
    with pytest.raises(ConfigError, match=r"claims\.yaml: claims\[0\] \(jecl-beats-concat-km\)"
                       r"\.relation: 'beats' is not one of"):  # fmt: skip
        Plan(cfg, basedir=tmp_path)


def test_a_sweep_claim_is_checked_on_the_sweep_points() -> None:
    cfg = tiny()
    cfg["experiments"]["tiny-gamma"]["sweep"]["values"] = [0, 0.1, 0.5]
    cfg["experiments"]["tiny-gamma"]["claims"] = {"ids": ["jecl-gamma-default-top"]}
    plan = Plan(cfg)
    assert "tiny-gamma" in plan.claims_experiments()
    spec = plan.claims_spec()["experiments"]["tiny-gamma"]
    assert {p["x"] for p in spec["points"]} == {0, 0.1, 0.5}
    assert spec["sweep"]["parameter"] == "gamma"


def test_claims_targets_tables_and_spec() -> None:
    cfg = tiny()
    plan = Plan(cfg)
    # sorted: a configuration's key order (YAML dumps sort keys) never reruns the table
    assert plan.claims_experiments() == ["tiny-dm2c", "tiny-jecl"]
    assert plan.claims_tables() == ["results/tables/tiny-dm2c.csv", "results/tables/tiny-jecl.csv"]
    assert plan.claims_path() == str(REPO / "config/papers/claims.yaml")
    assert {"results/tables/claims.csv", "results/tables/claims.md"} <= set(plan.targets())
    spec = plan.claims_spec()
    assert spec["order"] == ["tiny-dm2c", "tiny-jecl"]
    shuffled = dict(reversed(list(cfg["experiments"].items())))
    assert Plan({**cfg, "experiments": shuffled}).claims_spec() == spec
    assert spec["experiments"]["tiny-jecl"]["claims"] == {"ids": ["jecl-beats-ablations"]}
    assert "runs" not in spec["experiments"]["tiny-jecl"]  # rerun the check on claims only
    # another experiment's table the claims compare against is read too
    cfg["experiments"]["tiny-dm2c"]["claims"]["with"] = ["tiny"]
    assert Plan(cfg).claims_experiments() == ["tiny", "tiny-dm2c", "tiny-jecl"]
    # selected experiments only; the table (every claim not run) is still made
    cfg["targets"] = ["tiny-jule"]
    chosen = Plan(cfg)
    assert chosen.claims_experiments() == [] and chosen.claims_tables() == []
    assert "results/tables/claims.csv" in chosen.targets()


@pytest.mark.parametrize(("edit", "message"), _cases())
def test_bad_config(edit, message: str) -> None:
    cfg = tiny()
    edit(cfg)
    fails(cfg, message)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"dataset": "usps"}, r"from-digits-top-1\.from_model\.dataset: no data set 'usps'"),
        ({"input": "raw"}, r"from_model\.input: data set 'digits' has no input 'raw' \(define"),
        (
            {"dataset": "captioned", "input": "efficientnet"},
            r"from_model\.input: inputs\.captioned\.efficientnet must be raw pixels",
        ),
        ({"method": "jule-rc"}, r"from_model\.method: unknown method 'jule-rc'"),
        (
            {"method": "kmeans"},
            r"from_model\.method: method 'kmeans' \(estimator 'kmeans'\) saves no network"
            r".*estimator jule",
        ),
        ({"layer": "fc7"}, r"from_model\.layer: 'fc7' is not one of: top, top-1, top-2"),
        ({"seed": -1}, r"from_model\.seed: -1 is less than the minimum of 0"),
    ],
)  # fmt: skip
def test_bad_from_model(edit: dict, message: str) -> None:
    cfg = tiny()
    cfg["inputs"]["captioned"]["from-digits-top-1"]["from_model"].update(edit)
    fails(cfg, message)


def test_from_model_takes_no_other_key() -> None:
    cfg = tiny()
    cfg["inputs"]["captioned"]["from-digits-top-1"]["transform"] = "scale"
    fails(cfg, r"inputs\.captioned\.from-digits-top-1: give exactly one of")


# -- resolution ----------------------------------------------------------------------------


def test_a_table_names_the_rows_that_take_per_data_set_settings() -> None:
    cfg = tiny()
    assert Plan(cfg).table_overrides("tiny-gamma") == []
    assert "overrides" not in Plan(cfg).table_spec("tiny-gamma", ".")
    cfg["method_overrides"] = {"mfeat": {"jecl": {"lam": 0.25}}}
    plan = Plan(cfg)
    overrides = plan.table_overrides("tiny-gamma")
    # both sweep points of jecl on mfeat run with the override, and only it is named
    assert overrides == [
        {"dataset": "mfeat", "method": m, "settings": {"lam": 0.25}}
        for m in ("jecl.gamma-0", "jecl.gamma-0.5")
    ]
    assert plan.table_spec("tiny-gamma", ".")["overrides"] == overrides


def test_a_sweep_figure_marks_the_configured_value_and_says_where_it_comes_from() -> None:
    plan = Plan(tiny())
    spec = plan.sweep_spec("tiny-gamma")
    # jecl's entry leaves gamma to the estimator (JECL's 0.1)
    assert spec["marker"] == {"value": 0.1, "label": "configured value (estimator default: 0.1)"}
    assert [p["x"] for p in spec["points"]] == [0, 0.5]
    # a data-set sweep (missing captions) has no method parameter to mark
    assert plan.sweep_spec("tiny-missing")["marker"] is None
    cfg = tiny()
    cfg["methods"]["jecl"]["gamma"] = 0.3
    marker = Plan(cfg).sweep_marker("tiny-gamma")
    assert marker == {"value": 0.3, "label": "configured value (methods.jecl: 0.3)"}


def test_sweeps_become_runs_with_generated_names() -> None:
    plan = Plan(tiny())
    runs = plan.experiments["tiny-gamma"]["runs"]
    assert [r["methods"] for r in runs] == [["jecl.gamma-0"], ["jecl.gamma-0.5"]]
    assert plan.method_settings("jecl.gamma-0.5", "mfeat")["gamma"] == 0.5
    assert plan.swept["jecl.gamma-0"] == ("jecl", "gamma")
    missing = plan.experiments["tiny-missing"]
    assert [r["dataset"] for r in missing["runs"]] == [
        "captioned.missing-text-0",
        "captioned.missing-text-0.5",
    ]
    assert plan.datasets["captioned.missing-text-0.5"] == {
        "derived_from": "captioned", "seed": 0, "missing": {"view": "text", "rate": 0.5}
    }  # fmt: skip
    assert [p["x"] for p in missing["points"]] == [0, 0.5]
    # the derived points share the base data set's inputs, and reuse its pretraining
    # for inputs that do not read the removed view
    assert plan.inputs["captioned.missing-text-0.5"] is plan.inputs["captioned"]
    assert plan.input_kind("captioned.missing-text-0.5", "doc2vec") == "derived"
    assert plan.pretrain_path("captioned.missing-text-0.5", "efficientnet", 0) == (
        "results/pretrain/captioned/efficientnet/seed0/autoencoder.pt"
    )
    assert plan.pretrain_path("captioned.missing-text-0.5", "doc2vec", 0).startswith(
        "results/pretrain/captioned.missing-text-0.5/"
    )


def test_the_config_is_never_edited() -> None:
    cfg = tiny()
    before = copy.deepcopy(cfg)
    Plan(cfg)
    assert cfg == before


def test_one_lineage_rule_for_method_and_pretrain_overrides() -> None:
    cfg = tiny()
    cfg["method_overrides"] = {
        "mfeat": {"dm2c": {"epochs": 5, "batch_size": 64}},
        "mfeat-mixed": {"dm2c": {"epochs": 7}},
    }
    cfg["datasets"]["mm-sub"] = {"derived_from": "mfeat-mixed", "per_class": 3}
    plan = Plan(cfg)
    assert plan.lineage("mm-sub") == ["mm-sub", "mfeat-mixed", "mfeat"]
    src = plan.method_sources("dm2c", "mm-sub")
    assert src["epochs"] == (7, "method_overrides.mfeat-mixed.dm2c")
    assert src["batch_size"] == (64, "method_overrides.mfeat.dm2c")
    assert src["kmeans_n_init"] == (2, "methods.dm2c")
    assert src["negative_slope"][1] == "default"
    # pretraining follows the same lineage (mixed_from included)
    assert plan.pretrain_settings("mfeat-mixed")["epochs"] == 2
    assert plan.pretrain_sources("mm-sub")["epochs"] == (2, "pretrain.overrides.mfeat")
    assert plan.pretrain_settings("digits")["epochs"] == 3


def test_input_kinds_and_files() -> None:
    plan = Plan(tiny())
    assert plan.input_kind("digits", "pixels") == "plain"
    assert plan.input_kind("captioned", "doc2vec") == "extractor"
    assert plan.input_kind("captioned", "pair") == "combine"
    assert plan.input_kind("captioned", "from-digits-top-1") == "from_model"
    assert plan.feature_inputs("captioned", "from-digits-top-1") == {
        "model": "results/runs/digits/pixels/jule/seed0/model.pt",
        "data": "resources/datasets/captioned/data.npz",
        "meta": "resources/datasets/captioned/meta.json",
    }
    settings = plan.feature_settings("captioned", "from-digits-top-1")
    assert settings["source_spec"]["transform"] == "scale"
    assert plan.input_uses_gpu("captioned", "efficientnet")
    assert not plan.input_uses_gpu("captioned", "doc2vec")
    assert plan.input_resource_kind("captioned", "doc2vec") == "train"
    assert plan.input_views("captioned", "pair") == ["image", "text"]


def test_cluster_inputs_name_one_autoencoder_per_part() -> None:
    plan = Plan(tiny())
    files = plan.cluster_inputs(Run("mfeat", "pair", "jecl", 0))
    assert files["autoencoder"] == [
        "results/pretrain/mfeat/fou/seed0/autoencoder.pt",
        "results/pretrain/mfeat/kar/seed0/autoencoder.pt",
    ]
    assert "autoencoder" not in plan.cluster_inputs(Run("mfeat", "pair", "kmeans", 0))


# -- a composite's parts as inputs of their own (kind part) -------------------------------------


def test_a_transforming_composite_gets_one_generated_input_per_part() -> None:
    plan = Plan(tiny())
    # captioned/pair standardises its parts; mfeat/pair leaves them as built
    assert plan.input_spec("captioned", "pair.doc2vec") == {"part_of": "pair", "part": "doc2vec"}
    assert plan.input_kind("captioned", "pair.efficientnet") == "part"
    assert plan.is_part_input("captioned", "pair.doc2vec")
    assert not [i for i in plan.inputs["mfeat"] if "." in i]
    assert plan.input_views("captioned", "pair.doc2vec") == ["text"]
    assert plan.feature_inputs("captioned", "pair.doc2vec") == {
        "composite": "resources/features/captioned/pair.npz"
    }
    assert plan.feature_settings("captioned", "pair.doc2vec") == {
        "kind": "part",
        "spec": {"part_of": "pair", "part": "doc2vec"},
    }
    assert plan.input_resource_kind("captioned", "pair.doc2vec") == "light"
    # the configuration is not edited, and the generated inputs are not default targets
    assert "pair.doc2vec" not in plan.config["inputs"]["captioned"]
    assert not [t for t in plan.targets() if "/pair." in t and not t.endswith("/pair.npz")]


def test_a_multi_view_method_is_pretrained_on_the_transformed_parts() -> None:
    plan = Plan(tiny())
    files = plan.cluster_inputs(Run("captioned", "pair", "jecl", 0))
    assert files["features"] == "resources/features/captioned/pair.npz"
    assert files["autoencoder"] == [
        "results/pretrain/captioned/pair.efficientnet/seed0/autoencoder.pt",
        "results/pretrain/captioned/pair.doc2vec/seed0/autoencoder.pt",
    ]
    # a derived data set builds the parts from its own composite; one that removes
    # the captions keeps its base's image part (and so its base's pretraining)
    ds = "captioned.missing-text-0.5"
    assert plan.input_kind(ds, "pair.doc2vec") == "part"
    assert plan.feature_inputs(ds, "pair.doc2vec") == {
        "composite": f"resources/features/{ds}/pair.npz"
    }
    assert plan.cluster_inputs(Run(ds, "pair", "jecl", 0))["autoencoder"] == [
        "results/pretrain/captioned/pair.efficientnet/seed0/autoencoder.pt",
        f"results/pretrain/{ds}/pair.doc2vec/seed0/autoencoder.pt",
    ]


def test_a_transform_fits_on_the_split_of_composites_and_run_representations() -> None:
    cfg = tiny()
    cfg["inputs"]["mfeat-mixed"]["pair"]["transform"] = "unit_power"
    cfg["inputs"]["mfeat"]["emb"] = {
        "from_run": {"input": "fou", "method": "dec", "seed": 0},
        "transform": "unit_power",
    }
    plan = Plan(cfg)
    assert plan.feature_inputs("mfeat-mixed", "pair") == {
        "parts": [
            "resources/features/mfeat-mixed/fou.npz",
            "resources/features/mfeat-mixed/kar.npz",
        ],
        "data": "resources/datasets/mfeat-mixed/data.npz",
    }
    assert plan.feature_inputs("mfeat", "emb")["data"] == "resources/datasets/mfeat/data.npz"
    # without a transform nothing is fitted: the data set is not read
    assert "data" not in plan.feature_inputs("mfeat", "pair")
    assert plan.feature_settings("mfeat", "emb")["spec"]["transform"] == "unit_power"


def test_plan_show_names_the_inputs_a_multi_view_method_is_pretrained_on() -> None:
    text = show(Plan(tiny()), "tiny-jecl", cell="captioned/pair/jecl")
    assert "autoencoders pretrained on the inputs pair.efficientnet, pair.doc2vec" in text


def test_runs_over_several_data_sets_and_method_groups() -> None:
    cfg = tiny()
    cfg["method_groups"] = {"cheap": ["kmeans", "dec"]}
    cfg["experiments"]["tiny"]["runs"] = [
        {"datasets": ["digits", "mfeat"], "input": "pixels", "methods": ["cheap", "idec"]}
    ]
    cfg["inputs"]["mfeat"]["pixels"] = {"views": ["fou"]}
    plan = Plan(cfg)
    assert plan.experiments["tiny"]["runs"] == [
        {"dataset": "digits", "input": "pixels", "methods": ["kmeans", "dec", "idec"]},
        {"dataset": "mfeat", "input": "pixels", "methods": ["kmeans", "dec", "idec"]},
    ]


def test_a_sweep_labels_only_its_own_experiment_when_labels_are_shared() -> None:
    cfg = tiny()
    shared = {"jecl": "JECL"}  # as `labels: *labels` in a YAML file
    cfg["experiments"]["tiny-jecl"]["labels"] = shared
    cfg["experiments"]["tiny-gamma"]["labels"] = shared
    plan = Plan(cfg)
    assert plan.experiments["tiny-jecl"]["labels"] == {"jecl": "JECL"}
    assert "jecl.gamma-0.5" in plan.experiments["tiny-gamma"]["labels"]


def test_groups_name_groups_and_a_run_leaves_methods_out() -> None:
    cfg = tiny()
    cfg["method_groups"] = {"cheap": ["kmeans", "dec"], "table": ["cheap", "idec"]}
    cfg["experiments"]["tiny"]["runs"] = [
        {"dataset": "digits", "input": "pixels", "methods": ["table"]},
        {"dataset": "mfeat", "input": "both", "methods": ["table"], "without": ["dec"]},
    ]
    plan = Plan(cfg)
    assert [r["methods"] for r in plan.experiments["tiny"]["runs"]] == [
        ["kmeans", "dec", "idec"],
        ["kmeans", "idec"],
    ]


@pytest.mark.parametrize(
    ("groups", "runs", "message"),
    [
        # a typo in a run names the key, the closest name and where names come from
        (
            {"cheap": ["kmeans", "dec"]},
            [{"dataset": "digits", "input": "pixels", "methods": ["chaep"]}],
            r"experiments\.tiny\.runs\[0\]\.methods: unknown method 'chaep'; did you mean "
            r"'cheap'\? \(name a method of methods: or a group of method_groups:\)",
        ),
        (
            {"cheap": ["kmeans", "deck"]},
            [{"dataset": "digits", "input": "pixels", "methods": ["cheap"]}],
            r"method_groups\.cheap: unknown method 'deck'; did you mean 'dec'\?",
        ),
        (
            {"a": ["kmeans", "b"], "b": ["a"]},
            [{"dataset": "digits", "input": "pixels", "methods": ["a"]}],
            r"method_groups\.a: groups contain each other: a -> b -> a",
        ),
        (
            {"cheap": ["kmeans", "dec"]},
            [{"dataset": "digits", "input": "pixels", "methods": ["cheap", "kmeans"]}],
            r"runs\[0\]\.methods: 'kmeans' is listed twice \(directly or through a group\)",
        ),
        (
            {"cheap": ["kmeans", "dec"]},
            [{"dataset": "digits", "input": "pixels", "methods": ["cheap"], "without": ["idec"]}],
            r"runs\[0\]\.without: 'idec' is not one of the run's methods \(kmeans, dec\)",
        ),
        (
            {},
            [{"dataset": "digts", "input": "pixels", "methods": ["kmeans"]}],
            r"runs\[0\]\.dataset: unknown data set 'digts'; did you mean 'digits'\?",
        ),
    ],
)
def test_bad_method_groups_and_run_lists(groups: dict, runs: list, message: str) -> None:
    cfg = tiny()
    cfg["method_groups"] = groups
    cfg["experiments"]["tiny"]["runs"] = runs
    fails(cfg, message)


def test_targets_select_experiments_and_their_inputs_only() -> None:
    cfg = tiny()
    full = Plan(cfg).targets()
    cfg["targets"] = ["tiny-jule"]
    chosen = Plan(cfg).targets()
    assert "results/tables/tiny-jule.csv" in chosen and "results/tables/tiny.csv" not in chosen
    assert set(chosen) < set(full)
    features = {t for t in chosen if t.startswith("resources/features/")}
    assert {f.split("/")[2] for f in features} == {"digits", "captioned"}


def test_every_shipped_config_resolves_without_heavy_imports() -> None:
    code = (
        "import sys, glob\n"
        "from mmclust.plan import Plan, load_files\n"
        "for f in ['config/config.yaml', *sorted(glob.glob('config/demo*.yaml')), "
        "'config/rehearsal.yaml', 'tests/data/tiny.yaml']:\n"
        "    Plan(load_files([f])).targets()\n"
        "heavy = {'torch', 'sklearn', 'scipy', 'h5py', 'PIL', 'gensim'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


#: the configurations a user passes to --configfile (config/base and config/experiments
#: hold the parts config/config.yaml includes)
SHIPPED = [
    REPO / "config/config.yaml",
    *sorted((REPO / "config").glob("demo*.yaml")),
    REPO / "config/rehearsal.yaml",
    TINY,
]
#: every file of config/ but the papers' numbers
CONFIG_FILES = sorted(p for p in (REPO / "config").rglob("*.yaml") if "papers" not in p.parts)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_validates_and_plans(path: Path) -> None:
    plan = Plan(load_files([path]))
    assert plan.experiments and plan.targets()
    for name in plan.selected_experiments():
        assert list(plan.experiment_runs(name)), name


def test_config_declares_each_method_once() -> None:
    """A method entry with an estimator is written in one file; the others (overlays)
    change some of its keys."""
    where: dict[str, list[str]] = {}
    for path in CONFIG_FILES:
        for name, entry in (yaml.safe_load(path.read_text()).get("methods") or {}).items():
            if "estimator" in entry or "extends" in entry:
                where.setdefault(name, []).append(path.name)
    twice = {name: files for name, files in where.items() if len(files) > 1}
    assert not twice, twice


def test_config_writes_no_method_list_twice() -> None:
    """Lists of three or more methods (runs and groups) are named once: method_groups."""
    seen: dict[tuple[str, ...], str] = {}
    for path in CONFIG_FILES:
        cfg = yaml.safe_load(path.read_text())
        lists = [(f"method_groups.{n}", m) for n, m in (cfg.get("method_groups") or {}).items()]
        for name, exp in (cfg.get("experiments") or {}).items():
            runs = enumerate(exp.get("runs", []))
            lists += [(f"experiments.{name}.runs[{i}]", r["methods"]) for i, r in runs]
        for key, methods in lists:
            if len(methods) < 3:
                continue
            first = seen.setdefault(tuple(methods), f"{path.name}: {key}")
            assert first == f"{path.name}: {key}", f"{path.name}: {key} repeats {first}"


def test_default_config_is_split_into_included_files() -> None:
    cfg = load_files([REPO / "config/config.yaml"])
    files = {Path(f).relative_to(REPO / "config").as_posix() for f in cfg["_configfiles"]}
    assert {"base/datasets.yaml", "base/methods.yaml", "experiments/jule.yaml"} <= files
    plan = Plan(cfg)
    table1 = {r["dataset"]: r["methods"] for r in plan.experiments["jule-table1"]["runs"]}
    assert len(table1["coil20"]) == 13 and "ac-link" not in table1["mnist-full"]
    assert plan.method_settings("jule-rc", "umist")["eta"] == 0.2


# -- plan show ----------------------------------------------------------------------------------


def test_plan_show_names_every_value_and_its_source() -> None:
    cfg = tiny()
    cfg["method_overrides"] = {"mfeat": {"jecl": {"lam": 0.7}}}
    plan = Plan(cfg)
    text = show(plan, "tiny-gamma", cell="mfeat/pair/jecl.gamma-0.5")
    assert re.search(r"lam\s+0\.7\s+method_overrides\.mfeat\.jecl", text)
    assert re.search(r"gamma\s+0\.5\s+sweep", text)
    assert re.search(r"max_epochs\s+2\s+methods\.jecl", text)
    assert re.search(r"beta\s+0\.1\s+(schema )?default", text)
    assert re.search(r"epochs\s+2\s+pretrain\.overrides\.mfeat", text)
    records = json.loads(show(plan, "tiny-gamma", as_json=True))
    assert len(records) == 2 and records[0]["settings"]["gamma"]["from"] == "sweep"
    with pytest.raises(ConfigError, match="not a row of tiny-gamma"):
        show(plan, "tiny-gamma", cell="mfeat/pair/jecl")


def test_plan_show_names_the_file_that_writes_each_value(tmp_path: Path) -> None:
    overlay = tmp_path / "my-change.yaml"
    overlay.write_text("methods:\n  jule-rc: { K_s: 10 }\n")
    plan = Plan(load_files([REPO / "config/config.yaml", overlay]))
    [record] = json.loads(show(plan, "jule-table1", cell="umist/pixels/jule-rc", as_json=True))
    settings = record["settings"]
    assert settings["eta"]["from"] == "method_overrides.umist.jule-rc"
    assert settings["eta"]["file"].endswith("config/base/datasets.yaml")
    assert settings["epochs_per_period"]["file"].endswith("config/base/methods.yaml")
    assert settings["K_s"] == {"value": 10, "from": "methods.jule-rc", "file": str(overlay)}
    assert "file" not in settings["margin"]  # the estimator's default
    [dec] = json.loads(show(Plan(tiny()), "tiny", cell="digits/pixels/dec", as_json=True))
    assert dec["pretraining"]["weight_decay"] == {"value": 0.0, "from": "default"}


def test_plan_show_command(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "mmclust", "plan", "show", "tiny-jule", "--configfile", str(TINY),
         "--cell", "digits/pixels/jule", "--changed"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert re.search(r"arch\s+usps\s+methods\.jule", res.stdout)
    assert "default" not in res.stdout.split("method", 1)[1]


def test_generated_part_inputs_are_checked() -> None:
    from mmclust.plan.checks import check_part_inputs

    plan = Plan(tiny())
    plan.inputs["captioned"]["pair.audio"] = {"part_of": "pair", "part": "audio"}
    with pytest.raises(ConfigError, match=r"inputs\.captioned\.pair\.audio: .* not a composite"):
        check_part_inputs(plan)
    plan = Plan(tiny())
    plan.inputs["mfeat"]["pair.fou"] = {"part_of": "pair", "part": "fou"}
    with pytest.raises(ConfigError, match=r"'pair' does not transform its parts"):
        check_part_inputs(plan)


def test_the_features_job_builds_every_kind_the_plan_names() -> None:
    from mmclust.features.build import KINDS
    from mmclust.plan import INPUT_KINDS

    assert set(KINDS) == set(INPUT_KINDS)


# -- what the views hold, the device ----------------------------------------------------------


def _with_own_folder(cfg: dict, **inputs: dict) -> dict:
    """``cfg`` with a bring-your-own data set ``mine`` (declared views image, text) and inputs."""
    cfg["datasets"]["mine"] = {"source": "captioned_folder", "options": {"raw_dir": "x"}}
    cfg["inputs"]["mine"] = inputs
    return cfg


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"views": ["text"], "transform": "standardize"},
            r"inputs\.mine\.bad\.views: view 'text' of data set 'mine' holds text \(captions\), "
            r"and this input has no extractor: give it extractor: doc2vec, bow or minilm",
        ),
        (
            {"views": ["image"], "transform": "scale"},
            r"inputs\.mine\.bad: view 'image' of data set 'mine' holds image files, not pixels: "
            r"add image_size",
        ),
        (
            {"views": ["image"], "extractor": "efficientnet_lite0", "image_size": 32},
            r"inputs\.mine\.bad\.image_size: applies to inputs without an extractor",
        ),
        (
            {"views": ["image"], "transform": "scale", "image_mode": "grey"},
            r"inputs\.mine\.bad\.image_mode: give image_size too",
        ),
        (
            {"views": ["image"], "extractor": "doc2vec"},
            r"inputs\.mine\.bad\.extractor: doc2vec reads text, but view 'image'",
        ),
        (
            {"views": ["text"], "extractor": "resnet50"},
            r"inputs\.mine\.bad\.views: view 'text' .* the resnet50 extractor reads images",
        ),
        ({"views": ["image"], "image_size": 0}, r"inputs\.mine\.bad\.image_size"),
        ({"views": ["image"], "image_size": [8, 8, 3]}, r"inputs\.mine\.bad\.image_size"),
        ({"views": ["image"], "image_size": 8, "image_mode": "cmyk"}, r"image_mode: 'cmyk'"),
    ],
)
def test_an_input_must_fit_what_its_views_hold(spec: dict, message: str) -> None:
    fails(_with_own_folder(tiny(), bad=spec), message)


def test_raw_pixels_of_image_files_and_text_extractors_pass() -> None:
    cfg = _with_own_folder(
        tiny(),
        pixels={"views": ["image"], "transform": "scale", "image_size": 28, "image_mode": "grey"},
        rgb={"views": ["image"], "transform": "scale", "image_size": [16, 24]},
        captions={"views": ["text"], "extractor": "bow"},
    )
    plan = Plan(cfg)
    assert plan.dataset_view_kinds("mine") == {"image": "image_file", "text": "text"}
    assert plan.input_kind("mine", "pixels") == "plain"
    # data sets whose builder declares no kinds are not checked by kind
    assert plan.dataset_view_kinds("mfeat") == {}


def test_cuda_where_there_is_none_is_an_error_before_any_job(monkeypatch) -> None:
    from mmclust.plan import checks

    monkeypatch.setattr(checks, "cuda_devices", lambda: 0)
    cfg = tiny()
    cfg["device"] = "cuda"
    fails(cfg, r"^device: 'cuda' asks for a CUDA GPU, but this machine has no CUDA device.*auto")
    cfg["device"] = "cuda:1"
    monkeypatch.setattr(checks, "cuda_devices", lambda: 1)
    fails(cfg, r"^device: 'cuda:1' asks for a CUDA GPU, but this machine has 1 CUDA device")
    cfg["device"] = "cuda:0"
    Plan(cfg)  # the one device exists
    # jobs that ask the scheduler for a GPU run where the GPUs are: checked there
    monkeypatch.setattr(checks, "cuda_devices", lambda: 0)
    cfg["device"] = "cuda"
    cfg["resources"]["train"]["gpu"] = 1
    Plan(cfg)
    cfg["device"] = "auto"
    cfg["resources"]["train"]["gpu"] = 0
    Plan(cfg)  # auto falls back to the CPU


def test_precision_is_a_top_level_key_with_three_values() -> None:
    assert Plan(tiny()).config["precision"] == "fp32"  # the default: exact reproduction
    for value in ("tf32", "bf16"):
        assert Plan({**tiny(), "precision": value}).config["precision"] == value
    fails({**tiny(), "precision": "fp16"}, r"^precision: 'fp16' is not one of: fp32, tf32, bf16$")
    fails({**tiny(), "precision": True}, r"^precision: True is not one of: fp32, tf32, bf16$")
    # not per method nor per pretraining: it applies to every training job
    cfg = tiny()
    cfg["methods"]["dec"]["precision"] = "bf16"
    fails(cfg, r"methods\.dec\.precision: unknown key.*\(precision is a top-level key")
    cfg = tiny()
    cfg["methods"]["dm2c"]["precision"] = "bf16"
    fails(cfg, r"methods\.dm2c\.precision: set for every method by the top-level key")
    cfg = tiny()
    cfg["pretrain"]["default"]["precision"] = "bf16"
    fails(cfg, r"pretrain\.default\.precision: unknown key.*\(precision is a top-level key")


def test_the_precision_values_agree_everywhere() -> None:
    from mmclust import cli
    from mmclust.nn.precision import PRECISIONS

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert tuple(schema["properties"]["precision"]["enum"]) == PRECISIONS == cli.PRECISIONS
    assert schema["properties"]["precision"]["default"] == PRECISIONS[0] == "fp32"


def test_cuda_devices_reads_no_torch() -> None:
    from mmclust.plan.checks import cuda_devices

    assert cuda_devices() >= 0


def test_single_view_methods_on_views_some_samples_lack_are_errors_before_any_job() -> None:
    cfg = tiny()
    cfg["experiments"]["tiny-missing"]["runs"].append(
        {"dataset": "captioned", "input": "doc2vec", "methods": ["kmeans"]}
    )
    fails(
        cfg,
        r"experiments\.tiny-missing\.runs\[\d+\]: method 'kmeans' reads one matrix and needs every "
        r"sample to have the views of input 'doc2vec', but data set "
        r"'captioned\.missing-text-0\.5' \(missing: .*\) removes view 'text'",
    )
    cfg = tiny()
    cfg["experiments"]["tiny-dm2c"]["runs"].append(
        {"dataset": "mfeat-mixed", "input": "fou", "methods": ["dec"]}
    )
    fails(cfg, r"runs\[2\]: method 'dec' .* the mixed-modal data set 'mfeat-mixed' removes view")
    cfg = tiny()
    # image-only inputs of the missing-caption points, pooled and multi-view inputs are fine
    cfg["experiments"]["tiny-missing"]["runs"].append(
        {"dataset": "captioned", "input": "efficientnet", "methods": ["kmeans"]}
    )
    Plan(cfg)


def test_scoring_batches_cover_every_run_once() -> None:
    """One scoring job per cell (data set, input, method) with the union of its seeds."""
    plan = plan_of(tiny())
    batches = plan.scoring_batches()
    cells = [cell for group in batches.values() for cell in group]
    assert len(cells) == len(set(cells))
    scored = {
        Run(*cell, seed) for seeds, group in batches.items() for cell in group for seed in seeds
    }
    runs = {run for e in plan.experiments for run in plan.experiment_runs(e)}
    assert scored == runs
    # tiny runs digits/pixels/dec with seeds 0 and 1 (tiny), mfeat/fou/kmeans with seed 0 only
    assert ("digits", "pixels", "dec") in batches[(0, 1)]
    assert ("mfeat", "fou", "kmeans") in batches[(0,)]
    # a cell two experiments share is scored with the seeds of both
    cfg = tiny()
    cfg["experiments"]["tiny-jecl"]["seeds"] = [0, 3]
    cfg["experiments"]["tiny-jecl"]["runs"].append(
        {"dataset": "mfeat", "input": "both", "methods": ["kmeans"]}
    )
    shared = plan_of(cfg).scoring_batches()
    assert ("mfeat", "fou", "kmeans") in shared[(0, 3)]
    assert ("mfeat", "both", "kmeans") in shared[(0, 1, 3)]
