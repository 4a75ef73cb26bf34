import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

SRC_DIR = str(Path(workflow.basedir) / "src")
# Rules call ``python -m mmclust``.  The workflow itself puts its package on
# the module path of every job (local, conda or cluster: cluster jobs re-read
# this file), so no install step is needed inside the rule environments.
_pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if SRC_DIR not in _pythonpath:
    os.environ.update(PYTHONPATH=os.pathsep.join([SRC_DIR, *_pythonpath]))
if SRC_DIR not in sys.path:
    sys.path.insert(0, SRC_DIR)

from mmclust.methods import registry as method_registry  # noqa: E402  (no torch import)
from mmclust.report import claims as claims_checker  # noqa: E402  (no pandas import)

NAME = "[A-Za-z0-9][A-Za-z0-9-]*"
# sweep points get generated names: <base>.<what>-<value>
SWEPT_NAME = "[A-Za-z0-9][A-Za-z0-9.-]*"


wildcard_constraints:
    dataset=SWEPT_NAME,
    raw=NAME,
    input=NAME,
    method=SWEPT_NAME,
    # results/tables/claims.* is the claims table, not an experiment's
    experiment=f"(?!claims(?![A-Za-z0-9-])){NAME}",
    seed=r"\d+",


# estimators that fine-tune pretrained autoencoders, and those whose fit takes
# the parts of a composite input (one per view): src/mmclust/methods/registry.py
PRETRAINED_ESTIMATORS = method_registry.PRETRAINED
MULTIVIEW_ESTIMATORS = method_registry.MULTIVIEW
# inputs with from_model: estimators whose model.pt holds a network features can
# be extracted from, and its layers (src/mmclust/methods/jule.py: LAYERS)
TRANSFER_ESTIMATORS = ("jule",)
TRANSFER_LAYERS = ("top", "top-1", "top-2")


class ConfigError(ValueError):
    pass


def to_json(obj):
    """A config section as the canonical JSON string passed to the CLI."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def check_estimator_params(spec, where):
    """A method entry's keys against its estimator's signature (ConfigError naming the key)."""
    try:
        method_registry.check_params(spec["estimator"], spec, where)
    except method_registry.MethodConfigError as err:
        raise ConfigError(str(err)) from None


def check_config():
    """Cross-references the schema cannot express, each failing with the key."""
    datasets, inputs, methods = config["datasets"], config["inputs"], config["methods"]
    for name, spec in methods.items():
        check_estimator_params(spec, f"methods.{name}")
    for ds, per_method in config["method_overrides"].items():
        if ds not in datasets:
            raise ConfigError(
                f"method_overrides.{ds}: no data set {ds!r} in 'datasets'"
            )
        for m, spec in per_method.items():
            if m not in methods:
                raise ConfigError(
                    f"method_overrides.{ds}.{m}: no method {m!r} in 'methods'"
                )
            check_estimator_params({**methods[m], **spec}, f"method_overrides.{ds}.{m}")
    for ds in inputs:
        if ds not in datasets:
            raise ConfigError(f"inputs.{ds}: no data set {ds!r} in 'datasets'")
    for ds, spec in datasets.items():
        base = spec.get("mixed_from")
        if base is not None and base not in datasets:
            raise ConfigError(f"datasets.{ds}.mixed_from: no data set {base!r}")
    for ds, specs in inputs.items():
        for name, spec in specs.items():
            run = spec.get("from_run")
            if run and (run["input"] not in specs or run["method"] not in methods):
                raise ConfigError(
                    f"inputs.{ds}.{name}.from_run: data set {ds!r} needs an input "
                    f"{run['input']!r} and a method {run['method']!r}"
                )
            if "from_model" in spec:
                check_from_model(f"inputs.{ds}.{name}.from_model", spec["from_model"])
            for part in spec.get("combine", []):
                if part not in specs:
                    raise ConfigError(
                        f"inputs.{ds}.{name}.combine: data set {ds!r} has no input {part!r}"
                    )
                if "combine" in specs[part]:
                    raise ConfigError(
                        f"inputs.{ds}.{name}.combine: {part!r} is itself composite"
                    )
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
                if is_multiview(m) and "combine" not in inputs[ds][inp]:
                    raise ConfigError(
                        f"{where}.runs[{i}]: method {m!r} is multi-view and needs a "
                        f"composite input (inputs.{ds}.{inp} has no 'combine')"
                    )
                planned.add((ds, inp, m))
        mixed_metrics = [m for m in exp["metrics"] if m in MIXED_MODAL_METRICS]
        for ds in {ds for ds, _, _ in planned} if mixed_metrics else ():
            if not is_mixed_modal(ds):
                raise ConfigError(
                    f"{where}.metrics: {mixed_metrics} score mixed-modal data sets only, "
                    f"and {ds!r} is not one (no mixed_from): drop them or the run"
                )
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


def check_from_model(where, src):
    """An input's ``from_model`` entry: its source run exists and has a network."""
    datasets, inputs, methods = config["datasets"], config["inputs"], config["methods"]
    ds, inp, m = src["dataset"], src["input"], src["method"]
    if ds not in datasets:
        raise ConfigError(
            f"{where}.dataset: no data set {ds!r} in 'datasets' (name the data set "
            "the network was trained on)"
        )
    spec = inputs.get(ds, {}).get(inp)
    if spec is None:
        raise ConfigError(
            f"{where}.input: data set {ds!r} has no input {inp!r} (define it under inputs.{ds})"
        )
    if "views" not in spec or spec.get("extractor") or spec.get("pca_dim"):
        raise ConfigError(
            f"{where}.input: inputs.{ds}.{inp} must be raw pixels (views: [image], no "
            "extractor or pca_dim): the source network was trained on images"
        )
    if m not in methods:
        raise ConfigError(
            f"{where}.method: unknown method {m!r} (define it under 'methods')"
        )
    estimator = methods[m]["estimator"]
    if estimator not in TRANSFER_ESTIMATORS:
        raise ConfigError(
            f"{where}.method: method {m!r} (estimator {estimator!r}) saves no network to "
            f"extract features from; use a method with estimator {' or '.join(TRANSFER_ESTIMATORS)}"
        )
    if src["layer"] not in TRANSFER_LAYERS:
        raise ConfigError(
            f"{where}.layer: unknown layer {src['layer']!r}; use one of {', '.join(TRANSFER_LAYERS)}"
        )


# sweep-point method name -> (the method it varies, the parameter it sets)
SWEPT_METHODS = {}


def _value_tag(value):
    return format(value, "g")


def expand_sweeps():
    """Turn every sweep experiment into ordinary runs, one per point.

    A point of ``missing_rate`` or ``per_class`` is a derived data set named
    ``<data set>.missing-<view>-<value>`` or ``<data set>.per-class-<value>``;
    a point of a method parameter is a method named
    ``<method>.<parameter>-<value>`` with that one setting changed.  The
    experiment's ``points`` list maps each run back to its series and x value
    (read by the sweep figure).
    """
    for name, exp in config["experiments"].items():
        sweep = exp.get("sweep")
        if not sweep:
            continue
        param = sweep["parameter"]
        where = f"experiments.{name}.sweep"
        runs, points = [], []
        inputs_per_method = {}
        for run in exp["runs"]:
            for m in run["methods"]:
                inputs_per_method.setdefault(m, set()).add(run["input"])
        for i, run in enumerate(exp["runs"]):
            base = run["dataset"]
            if base not in config["datasets"]:
                raise ConfigError(
                    f"experiments.{name}.runs[{i}].dataset: unknown data set {base!r}"
                )
            for value in sweep["values"]:
                dataset, methods = base, list(run["methods"])
                if param == "missing_rate":
                    dataset = f"{base}.missing-{sweep['view']}-{_value_tag(value)}"
                    spec = {"derived_from": base, "seed": sweep["seed"]}
                    spec["missing"] = {"view": sweep["view"], "rate": float(value)}
                    config["datasets"][dataset] = spec
                elif param == "per_class":
                    if value != int(value) or value < 1:
                        raise ConfigError(
                            f"{where}.values: per_class takes whole numbers >= 1"
                        )
                    dataset = f"{base}.per-class-{int(value)}"
                    spec = {"derived_from": base, "seed": sweep["seed"]}
                    spec["per_class"] = int(value)
                    config["datasets"][dataset] = spec
                else:
                    methods = []
                    for m in run["methods"]:
                        if m not in config["methods"]:
                            raise ConfigError(
                                f"experiments.{name}.runs[{i}].methods: unknown method {m!r}"
                            )
                        swept = dict(config["methods"][m])
                        swept[param] = value
                        check_method(
                            swept, f"{where} ({param} = {value} of method {m!r})"
                        )
                        tag = param.replace("_", "-")  # names hold no underscores
                        methods.append(f"{m}.{tag}-{_value_tag(value)}")
                        config["methods"][methods[-1]] = swept
                        SWEPT_METHODS[methods[-1]] = (m, param)
                        label = exp["labels"].get(m, m)
                        exp["labels"][methods[-1]] = f"{label} ({param} = {value:g})"
                runs.append(
                    {"dataset": dataset, "input": run["input"], "methods": methods}
                )
                for m0, m in zip(run["methods"], methods):
                    label = exp["labels"].get(m0, m0)
                    if len(inputs_per_method[m0]) > 1:
                        label += f" [{run['input']}]"
                    points.append(
                        {
                            "dataset": dataset,
                            "input": run["input"],
                            "method": m,
                            "series": label,
                            "x": value,
                        }
                    )
        exp["runs"] = runs
        exp["points"] = points


def method_settings(method, dataset):
    """A method's config entry with the data set's ``method_overrides`` merged in.

    A derived or mixed-modal data set without overrides of its own takes those of
    the data set it comes from.
    """
    if method in SWEPT_METHODS:  # a sweep point: its base's settings, one value changed
        base, param = SWEPT_METHODS[method]
        merged = method_settings(base, dataset)
        merged[param] = config["methods"][method][param]
        return merged
    overrides = config["method_overrides"]
    key = dataset
    while key not in overrides:
        spec = config["datasets"][key]
        base = spec.get("derived_from") or spec.get("mixed_from")
        if base is None:
            break
        key = base
    merged = dict(config["methods"][method])
    merged.update(overrides.get(key, {}).get(method, {}))
    return merged


_METHOD_VALIDATOR = []


def method_validator():
    """The config schema's method definition as a validator, loaded once.

    (snakemake.utils.validate re-reads the schema file on every call: too slow
    for one call per sweep point on every start of the workflow.)
    """
    if not _METHOD_VALIDATOR:
        import jsonschema
        import yaml

        path = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
        defs = yaml.safe_load(path.read_text())["$defs"]
        schema = {"$defs": defs, "$ref": "#/$defs/method"}
        _METHOD_VALIDATOR.append(jsonschema.Draft202012Validator(schema))
    return _METHOD_VALIDATOR[0]


def check_method(spec, where):
    """Validate one (generated) method entry against the schema and its estimator."""
    check_estimator_params(spec, where)
    error = next(iter(method_validator().iter_errors(spec)), None)
    if error is not None:
        raise ConfigError(f"{where}: {error.message}")


def inherit_inputs():
    """A derived data set has the inputs of the data set it derives from."""
    for ds, spec in config["datasets"].items():
        base = spec.get("derived_from")
        if base is None:
            continue
        if base not in config["datasets"]:
            raise ConfigError(f"datasets.{ds}.derived_from: no data set {base!r}")
        if ds in config["inputs"] and config["inputs"][ds] is not config["inputs"].get(
            base
        ):
            raise ConfigError(
                f"inputs.{ds}: a derived data set uses the inputs of {base!r}; remove this entry"
            )
        config["inputs"][ds] = config["inputs"].get(base, {})


MIXED_MODAL_METRICS = {
    "acc_a",
    "nmi_a",
    "acc_b",
    "nmi_b",
    "acc_b_via_a",
    "modality_split",
}


def is_mixed_modal(dataset):
    """Whether a data set is mixed-modal (mixed_from, directly or by derivation)."""
    spec = config["datasets"].get(dataset, {})
    while "derived_from" in spec and "mixed_from" not in spec:
        spec = config["datasets"][spec["derived_from"]]
    return "mixed_from" in spec


def root_dataset(dataset):
    """The data set a chain of derived_from ends in."""
    while "derived_from" in config["datasets"][dataset]:
        dataset = config["datasets"][dataset]["derived_from"]
    return dataset


def merged_pretrain_settings():
    """Per data set: pretrain.default merged with its override, validated.

    A derived data set takes the override of the data set it derives from
    unless it has its own.
    """
    out, by_key = {}, {}
    overrides = config["pretrain"]["overrides"]
    for ds in config["datasets"]:
        key = ds if ds in overrides else root_dataset(ds)
        if key not in by_key:  # validated once per distinct settings
            merged = dict(config["pretrain"]["default"])
            merged.update(overrides.get(key, {}))
            try:
                validate(merged, "../schemas/autoencoder.schema.yaml")
            except Exception as err:
                raise ConfigError(
                    f"pretrain settings of data set {ds!r}: {err}"
                ) from None
            by_key[key] = merged
        out[ds] = dict(by_key[key])
    return out


def pretrain_settings(dataset):
    return PRETRAIN_SETTINGS[dataset]


def prepare_inputs(wildcards):
    """A data set's raw files (download marker) or, when derived, its base data set."""
    spec = config["datasets"][wildcards.dataset]
    base = spec.get("mixed_from") or spec.get("derived_from")
    if base is not None:
        return {"base": f"{dataset_dir(base)}/data.npz"}
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


def is_derived(dataset):
    return "derived_from" in config["datasets"][dataset]


def is_extracted(wildcards):
    spec = config["inputs"][wildcards.dataset][wildcards.input]
    if "from_model" in spec:
        return True  # a network's forward passes over the data set's images
    if is_derived(wildcards.dataset):
        return False  # restricted from the base data set's features
    return bool(spec.get("extractor"))


def is_image_extracted(wildcards):
    spec = config["inputs"][wildcards.dataset][wildcards.input]
    if "from_model" in spec:
        return True
    image = spec.get("extractor") in ("resnet50", "vgg16", "efficientnet_lite0")
    return image and not is_derived(wildcards.dataset)


def features_path(dataset, input):
    return f"resources/features/{dataset}/{input}.npz"


def input_views(dataset, input):
    """The data-set views an input is made of (the union over a composite's parts)."""
    spec = config["inputs"][dataset][input]
    if "combine" in spec:
        return sorted(
            {v for part in spec["combine"] for v in input_views(dataset, part)}
        )
    return list(spec["views"])


def feature_inputs(wildcards):
    """A composite's parts, a run's output, a derived data set's base input, or the data set."""
    ds, name = wildcards.dataset, wildcards.input
    spec = config["inputs"][ds][name]
    if "combine" in spec:
        return {"parts": [features_path(ds, p) for p in spec["combine"]]}
    if "from_run" in spec:
        run = spec["from_run"]
        return {
            "embedding": f"{run_dir(ds, run['input'], run['method'], run['seed'])}/embedding.npy"
        }
    if "from_model" in spec:  # this data set's images through another run's network
        src = spec["from_model"]
        run = run_dir(src["dataset"], src["input"], src["method"], src["seed"])
        return {
            "model": f"{run}/model.pt",
            "data": f"{dataset_dir(ds)}/data.npz",
            "meta": f"{dataset_dir(ds)}/meta.json",
        }
    if is_derived(ds):
        base = config["datasets"][ds]["derived_from"]
        return {
            "base_features": features_path(base, name),
            "base": f"{dataset_dir(base)}/data.npz",
        }
    return {
        "data": f"{dataset_dir(ds)}/data.npz",
        "meta": f"{dataset_dir(ds)}/meta.json",
    }


def feature_flags(wildcards, input):
    ds = wildcards.dataset
    if "parts" in input.keys():
        return "--parts " + " ".join(input.parts)
    if "embedding" in input.keys():
        return f"--embedding {input.embedding}"
    if "model" in input.keys():
        src = config["inputs"][ds][wildcards.input]["from_model"]
        source_spec = shlex.quote(
            to_json(config["inputs"][src["dataset"]][src["input"]])
        )
        return (
            f"--model {input.model} --source-spec {source_spec}"
            f" --dataset {dataset_dir(ds)}"
        )
    if "base_features" in input.keys():
        derive = shlex.quote(to_json(config["datasets"][ds]))
        return (
            f"--derive {derive} --base-features {input.base_features}"
            f" --base {os.path.dirname(input.base)}"
        )
    return f"--dataset {dataset_dir(ds)}"


def pretrain_path(dataset, input, seed):
    """The pretrained autoencoder of an input.

    A data set derived only by removing a view that this input does not use
    has exactly the base data set's features for it: the base's pretraining
    is reused instead of repeated.
    """
    spec = config["datasets"][dataset]
    while (
        "derived_from" in spec
        and "per_class" not in spec
        and spec.get("missing", {}).get("view") not in input_views(dataset, input)
    ):
        dataset = spec["derived_from"]
        spec = config["datasets"][dataset]
    return f"results/pretrain/{dataset}/{input}/seed{seed}/autoencoder.pt"


def dataset_dir(dataset):
    return f"resources/datasets/{dataset}"


def run_dir(dataset, input, method, seed):
    return f"results/runs/{dataset}/{input}/{method}/seed{seed}"


def needs_pretraining(method):
    return config["methods"][method]["estimator"] in PRETRAINED_ESTIMATORS


def is_multiview(method):
    return config["methods"][method]["estimator"] in MULTIVIEW_ESTIMATORS


def cluster_inputs(wildcards):
    ds, name, seed = wildcards.dataset, wildcards.input, wildcards.seed
    out = {
        "features": features_path(ds, name),
        "meta": f"{dataset_dir(ds)}/meta.json",
        "data": f"{dataset_dir(ds)}/data.npz",
    }
    if needs_pretraining(wildcards.method):
        if is_multiview(wildcards.method):
            parts = config["inputs"][ds][name]["combine"]
            out["autoencoder"] = [pretrain_path(ds, p, seed) for p in parts]
        else:
            out["autoencoder"] = [pretrain_path(ds, name, seed)]
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


def sweep_spec(experiment):
    exp = config["experiments"][experiment]
    keys = ("description", "metrics", "sweep", "points", "labels")
    return to_json({k: exp[k] for k in keys if k in exp})


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


def claims_file():
    """The claims file (config claims_file, relative to the workflow's folder)."""
    return str(Path(workflow.basedir) / config["claims_file"])


def check_claims_config():
    """The claims file is valid and every experiment's claims entry refers to it."""
    if "claims" in config["experiments"]:
        raise ConfigError(
            "experiments.claims: this name is reserved for the claims table "
            "(results/tables/claims.csv); rename the experiment"
        )
    try:
        claims = claims_checker.load_claims(claims_file())
        claims_checker.check_experiment_entries(claims, config["experiments"])
    except FileNotFoundError:
        raise ConfigError(f"claims_file: no file {claims_file()}") from None
    except claims_checker.ClaimsError as err:
        raise ConfigError(str(err)) from None


def claims_experiments():
    """Experiments that list claims, then those whose tables they also read (with)."""
    exps = config["experiments"]
    names = [n for n, e in exps.items() if e.get("claims")]
    extra = [w for n in names for w in exps[n]["claims"].get("with", [])]
    return list(dict.fromkeys(names + extra))


def claims_tables():
    return [f"results/tables/{name}.csv" for name in claims_experiments()]


def claims_spec():
    """What the claims check reads of each experiment (names, labels, sweep points)."""
    keys = ("claims", "paper_names", "labels", "sweep", "points")
    exps = config["experiments"]
    order = claims_experiments()
    spec = {n: {k: exps[n][k] for k in keys if k in exps[n]} for n in order}
    return to_json({"experiments": spec, "order": order})


def all_targets():
    """Every experiment's tables and figures, every configured input, the claims table."""
    out = [
        features_path(ds, name)
        for ds, inputs in config["inputs"].items()
        if not is_derived(ds)
        for name in inputs
    ]
    for name in config["experiments"]:
        out += [f"results/tables/{name}.{ext}" for ext in ("csv", "md", "tex")]
        out += tsne_targets(name)
        if config["experiments"][name].get("sweep"):
            out += [f"results/figures/{name}.png", f"results/tables/{name}_sweep.csv"]
    out += ["results/tables/claims.csv", "results/tables/claims.md"]
    return out


expand_sweeps()
inherit_inputs()
check_config()
check_claims_config()
PRETRAIN_SETTINGS = merged_pretrain_settings()
