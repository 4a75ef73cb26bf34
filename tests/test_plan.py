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
    ]


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
        "'tests/data/tiny.yaml']:\n"
        "    Plan(load_files([f])).targets()\n"
        "heavy = {'torch', 'sklearn', 'scipy', 'h5py', 'PIL', 'gensim'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


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


def test_plan_show_command(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "mmclust", "plan", "show", "tiny-jule", "--configfile", str(TINY),
         "--cell", "digits/pixels/jule", "--changed"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert re.search(r"arch\s+usps\s+methods\.jule", res.stdout)
    assert "default" not in res.stdout.split("method", 1)[1]


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
