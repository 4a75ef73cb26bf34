import json
import os
from pathlib import Path

from snakemake.utils import validate

SRC_DIR = str(Path(workflow.basedir) / "src")
# Rules call ``python -m mmclust``.  The workflow itself puts its package on
# the module path of every job (local, conda or cluster: cluster jobs re-read
# this file), so no install step is needed inside the rule environments.
_pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if SRC_DIR not in _pythonpath:
    os.environ.update(PYTHONPATH=os.pathsep.join([SRC_DIR, *_pythonpath]))

NAME = "[A-Za-z0-9][A-Za-z0-9-]*"


wildcard_constraints:
    dataset=NAME,
    raw=NAME,
    input=NAME,
    method=NAME,
    experiment=NAME,
    seed=r"\d+",


PRETRAINED_ESTIMATORS = {"dec", "idec"}


class ConfigError(ValueError):
    pass


def to_json(obj):
    """A config section as the canonical JSON string passed to the CLI."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def check_config():
    """Cross-references the schema cannot express, each failing with the key."""
    datasets, inputs, methods = config["datasets"], config["inputs"], config["methods"]
    for ds in inputs:
        if ds not in datasets:
            raise ConfigError(f"inputs.{ds}: no data set {ds!r} in 'datasets'")
    for ds, spec in datasets.items():
        base = spec.get("mixed_from")
        if base is not None and base not in datasets:
            raise ConfigError(f"datasets.{ds}.mixed_from: no data set {base!r}")
    for ds in config["pretrain"]["overrides"]:
        if ds not in datasets:
            raise ConfigError(
                f"pretrain.overrides.{ds}: no data set {ds!r} in 'datasets'"
            )
    for name, exp in config["experiments"].items():
        where = f"experiments.{name}"
        planned = set()
        for i, run in enumerate(exp["runs"]):
            ds, inp = run["dataset"], run["input"]
            if ds not in datasets:
                raise ConfigError(f"{where}.runs[{i}].dataset: unknown data set {ds!r}")
            if inp not in inputs.get(ds, {}):
                raise ConfigError(
                    f"{where}.runs[{i}].input: data set {ds!r} has no input {inp!r} "
                    f"(define it under inputs.{ds})"
                )
            for m in run["methods"]:
                if m not in methods:
                    raise ConfigError(
                        f"{where}.runs[{i}].methods: unknown method {m!r}"
                    )
                planned.add((ds, inp, m))
        for i, fig in enumerate(exp["tsne"]):
            key = (fig["dataset"], fig["input"], fig["method"])
            if key not in planned:
                raise ConfigError(
                    f"{where}.tsne[{i}]: {key} is not among the experiment's runs"
                )
            if "seed" in fig and fig["seed"] not in exp["seeds"]:
                raise ConfigError(
                    f"{where}.tsne[{i}].seed: {fig['seed']} is not in its seeds"
                )


def merged_pretrain_settings():
    """Per data set: pretrain.default merged with its override, validated."""
    out = {}
    for ds in config["datasets"]:
        merged = dict(config["pretrain"]["default"])
        merged.update(config["pretrain"]["overrides"].get(ds, {}))
        try:
            validate(merged, "../schemas/autoencoder.schema.yaml")
        except Exception as err:
            raise ConfigError(f"pretrain settings of data set {ds!r}: {err}") from None
        out[ds] = merged
    return out


def pretrain_settings(dataset):
    return PRETRAIN_SETTINGS[dataset]


def prepare_inputs(wildcards):
    """A data set's raw files (download marker) or, when derived, its base data set."""
    spec = config["datasets"][wildcards.dataset]
    if "mixed_from" in spec:
        return {"base": f"{dataset_dir(spec['mixed_from'])}/data.npz"}
    if spec.get("raw"):
        return {"raw": f"resources/raw/{spec['raw']}/.complete"}
    return {}


def prepare_flags(input):
    flags = []
    if "raw" in input.keys():
        flags.append(f"--raw-dir {os.path.dirname(input.raw)}")
    if "base" in input.keys():
        flags.append(f"--base {os.path.dirname(input.base)}")
    return " ".join(flags)


def job_resource(kind, name, gpu_ok=True):
    """Resource ``name`` of a job of ``kind`` ("train" or "light")."""
    res = config["resources"]
    if name == "gpu":
        return res["train"]["gpu"] if kind == "train" and gpu_ok else 0
    return res[kind][name]


def input_kind(wildcards):
    return "train" if is_extracted(wildcards) else "light"


def method_kind(wildcards):
    return "train" if needs_pretraining(wildcards.method) else "light"


def is_extracted(wildcards):
    return bool(config["inputs"][wildcards.dataset][wildcards.input].get("extractor"))


def is_image_extracted(wildcards):
    spec = config["inputs"][wildcards.dataset][wildcards.input]
    return spec.get("extractor") in ("resnet50", "vgg16", "efficientnet_lite0")


def dataset_dir(dataset):
    return f"resources/datasets/{dataset}"


def run_dir(dataset, input, method, seed):
    return f"results/runs/{dataset}/{input}/{method}/seed{seed}"


def needs_pretraining(method):
    return config["methods"][method]["estimator"] in PRETRAINED_ESTIMATORS


def cluster_inputs(wildcards):
    out = {
        "features": f"resources/features/{wildcards.dataset}/{wildcards.input}.npz",
        "meta": f"{dataset_dir(wildcards.dataset)}/meta.json",
    }
    if needs_pretraining(wildcards.method):
        out["autoencoder"] = (
            "results/pretrain/{dataset}/{input}/seed{seed}/autoencoder.pt".format(
                **wildcards
            )
        )
    return out


def experiment_runs(experiment):
    exp = config["experiments"][experiment]
    for run in exp["runs"]:
        for method in run["methods"]:
            for seed in exp["seeds"]:
                yield run["dataset"], run["input"], method, seed


def experiment_metrics(wildcards):
    return [
        f"{run_dir(*r)}/metrics.json" for r in experiment_runs(wildcards.experiment)
    ]


def experiment_metas(experiment):
    datasets = {run["dataset"] for run in config["experiments"][experiment]["runs"]}
    return [f"{dataset_dir(ds)}/meta.json" for ds in sorted(datasets)]


def paper_file(experiment):
    path = config["experiments"][experiment].get("paper")
    return [str(Path(workflow.basedir) / path)] if path else []


def table_spec(experiment):
    exp = dict(config["experiments"][experiment])
    exp.pop("tsne", None)
    if exp.get("paper"):
        exp["paper"] = paper_file(experiment)[0]
    return to_json(exp)


def tsne_targets(experiment):
    exp = config["experiments"][experiment]
    return [
        "results/figures/tsne_{dataset}_{input}_{method}_seed{seed}.png".format(
            seed=fig.get("seed", exp["seeds"][0]), **fig
        )
        for fig in exp["tsne"]
    ]


def experiment_category(experiment):
    return config["experiments"][experiment]["category"]


def figure_category(wildcards):
    """Report category of a figure: that of the first experiment that draws it."""
    for name, exp in config["experiments"].items():
        for fig in exp["tsne"]:
            if (fig["dataset"], fig["input"], fig["method"]) == (
                wildcards.dataset,
                wildcards.input,
                wildcards.method,
            ):
                return exp["category"]
    return "Figures"


def all_targets():
    """Every experiment's tables and figures, and every configured input."""
    out = [
        f"resources/features/{ds}/{name}.npz"
        for ds, inputs in config["inputs"].items()
        for name in inputs
    ]
    for name in config["experiments"]:
        out += [f"results/tables/{name}.{ext}" for ext in ("csv", "md", "tex")]
        out += tsne_targets(name)
    return out


check_config()
PRETRAIN_SETTINGS = merged_pretrain_settings()
