"""Cross-references the schema cannot express, each failing with its key.

Every function raises :class:`~mmclust.plan.errors.ConfigError` whose message
starts with the dotted path of the key at fault and says what to do.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

from mmclust.features.specs import input_transform, spec_problem
from mmclust.methods import registry
from mmclust.plan.errors import ConfigError
from mmclust.plan.schema import SCHEMA, validate, validate_part

if TYPE_CHECKING:
    from mmclust.plan.core import Plan

AUTOENCODER_SCHEMA = SCHEMA.with_name("autoencoder.schema.yaml")


def check_method(spec: dict[str, Any], where: str) -> None:
    """One method entry: the schema's method definition and its estimator's signature."""
    validate_part(spec, "method", where)
    try:
        registry.check_params(spec["estimator"], spec, where)
    except registry.MethodConfigError as err:
        raise ConfigError(str(err)) from None


def did_you_mean(name: str, known: Any) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known`` names, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def expand_group(
    groups: dict[str, list[str]],
    methods: Any,
    name: str,
    chain: tuple[str, ...] = (),
) -> list[str]:
    """The methods a group stands for, in order: a member is a method or another group."""
    if name in chain:
        raise ConfigError(f"method_groups.{name}: groups contain each other: "
                          f"{' -> '.join([*chain, name])}")  # fmt: skip
    out: list[str] = []
    for m in groups[name]:
        if m in groups:
            out += expand_group(groups, methods, m, (*chain, name))
        elif m in methods:
            out.append(m)
        else:
            raise ConfigError(
                f"method_groups.{name}: unknown method {m!r}{did_you_mean(m, [*methods, *groups])} "
                "(a member is a name under methods: or method_groups:)"
            )
    return out


def run_methods(
    run: dict[str, Any], groups: dict[str, list[str]], methods: Any, where: str
) -> list[str]:
    """A run's methods with its groups written out and its ``without`` methods left out;
    each method once."""
    out: list[str] = []
    for m in run["methods"]:
        if m in groups:
            names = expand_group(groups, methods, m)
        elif m in methods:
            names = [m]
        else:
            raise ConfigError(
                f"{where}.methods: unknown method {m!r}{did_you_mean(m, [*methods, *groups])} "
                "(name a method of methods: or a group of method_groups:)"
            )
        for n in names:
            if n in out:
                raise ConfigError(
                    f"{where}.methods: {n!r} is listed twice (directly or through a group); "
                    "list it once"
                )
            out.append(n)
    for m in run.get("without", []):
        if m not in out:
            raise ConfigError(
                f"{where}.without: {m!r} is not one of the run's methods ({', '.join(out)})"
            )
    return [m for m in out if m not in run.get("without", [])]


#: keys of earlier versions -> what replaced them
OBSOLETE = {
    ("downloads", "allow_unverified"): (
        "obsolete. Files without a published checksum are now trusted on first use: "
        "checked by their content, their sha256 recorded in resources/raw/checksums.lock and "
        "verified against it from then on. Remove the key; set downloads: "
        "{require_published_checksum: true} to refuse such files instead (strict mode)"
    ),
}


def check_obsolete(config: dict[str, Any]) -> None:
    """Keys of earlier versions, named with what replaced them (before the schema's check)."""
    for (section, key), message in OBSOLETE.items():
        if key in (config.get(section) or {}):
            raise ConfigError(f"{section}.{key}: {message}")


def cuda_devices() -> int:
    """How many NVIDIA devices this machine shows (``/dev/nvidia0``, ...), without importing
    torch; 0 when there is no NVIDIA driver."""
    from pathlib import Path

    if not Path("/proc/driver/nvidia/version").exists():
        return 0
    return sum(1 for p in Path("/dev").glob("nvidia[0-9]*") if p.name[6:].isdigit())


def check_device(plan: Plan) -> None:
    """``device: cuda`` / ``cuda:N`` where this machine has no such device is an error before
    any job, unless training jobs ask the scheduler for GPUs (``resources.train.gpu``), in
    which case the jobs run where the GPUs are and check there."""
    device = plan.config["device"]
    if not device.startswith("cuda") or plan.config["resources"]["train"]["gpu"] > 0:
        return
    count = cuda_devices()
    index = int(device.split(":")[1]) if ":" in device else 0
    if index < count:
        return
    have = "no CUDA device (no NVIDIA driver found)" if count == 0 else f"{count} CUDA device(s)"
    raise ConfigError(
        f"device: {device!r} asks for a CUDA GPU, but this machine has {have}. Use device: "
        "auto (CUDA when present, else the CPU) or cpu; on a cluster whose compute nodes have "
        "GPUs, also set resources.train.gpu: 1 so that the training jobs ask for one"
    )


def check_downloads(plan: Plan) -> None:
    downloads = plan.config["downloads"]
    if downloads["mirror_only"] and not downloads.get("mirror"):
        raise ConfigError("downloads.mirror_only: true, but no downloads.mirror is given")


def check_references(plan: Plan) -> None:
    """What sweep expansion relies on: data-set bases, method groups, run references."""
    cfg = plan.config
    check_downloads(plan)
    check_device(plan)
    for ds in plan.datasets:
        plan.lineage(ds)  # unknown bases and cycles
    groups = cfg["method_groups"]
    for name in groups:
        if name in plan.methods:
            raise ConfigError(f"method_groups.{name}: a method has the same name; rename the group")
        expand_group(groups, plan.methods, name)  # unknown members and cycles
    for name, exp in plan.experiments.items():
        for i, run in enumerate(exp["runs"]):
            where = f"experiments.{name}.runs[{i}]"
            for ds in run.get("datasets", [run.get("dataset")]):
                if ds not in plan.datasets:
                    raise ConfigError(
                        f"{where}.dataset: unknown data set {ds!r}{did_you_mean(ds, plan.datasets)}"
                    )
            run_methods(run, groups, plan.methods, where)
    chosen = cfg.get("targets")
    for name in chosen or []:
        if name not in plan.experiments:
            known = ", ".join(sorted(plan.experiments))
            raise ConfigError(f"targets: no experiment {name!r}; experiments: {known}")


def check_plan(plan: Plan) -> None:
    """Methods, overrides, inputs and experiments once sweeps are expanded."""
    cfg = plan.config
    for name in cfg["methods"]:
        check_method(plan.methods[name], f"methods.{name}")
    for ds, per_method in cfg["method_overrides"].items():
        if ds not in plan.datasets:
            raise ConfigError(f"method_overrides.{ds}: no data set {ds!r} in 'datasets'")
        for m, spec in per_method.items():
            if m not in cfg["methods"]:
                raise ConfigError(f"method_overrides.{ds}.{m}: no method {m!r} in 'methods'")
            check_method({**plan.methods[m], **spec}, f"method_overrides.{ds}.{m}")
    for ds in cfg["inputs"]:
        if ds not in plan.datasets:
            raise ConfigError(f"inputs.{ds}: no data set {ds!r} in 'datasets'")
    for ds in plan.datasets:
        _check_dataset_views(plan, ds)
    for ds, specs in cfg["inputs"].items():
        for name, spec in specs.items():
            _check_input(plan, ds, name, spec)
    for ds in cfg["pretrain"]["overrides"]:
        if ds not in plan.datasets:
            raise ConfigError(f"pretrain.overrides.{ds}: no data set {ds!r} in 'datasets'")
    for name, exp in plan.experiments.items():
        _check_experiment(plan, name, exp)


def _check_dataset_views(plan: Plan, ds: str) -> None:
    """Builder options, and every view a data set's entry names, against its declared views."""
    views = plan.dataset_views(ds)  # also checks the builder's options
    if views is None:
        return
    spec = plan.datasets[ds]
    named = [("views", v) for v in spec.get("views", [])] if "mixed_from" in spec else []
    if "missing" in spec:
        named.append(("missing.view", spec["missing"]["view"]))
    for key, view in named:
        if view not in views:
            raise ConfigError(
                f"datasets.{ds}.{key}: {plan.base_dataset(ds)!r} has no view {view!r}; "
                f"its views are {list(views)}"
            )


def _check_input(plan: Plan, ds: str, name: str, spec: dict[str, Any]) -> None:
    where = f"inputs.{ds}.{name}"
    views = plan.dataset_views(ds)
    for view in spec.get("views", []):
        if views is not None and view not in views:
            raise ConfigError(
                f"{where}.views: data set {ds!r} has no view {view!r}; its views are {list(views)}"
            )
    _check_input_views(plan, ds, where, spec)  # first: its messages say what to use instead
    problem = spec_problem(spec, where)  # keys the input's kind does not use, transforms
    if problem:
        raise ConfigError(problem)
    specs = plan.config["inputs"][ds]
    run = spec.get("from_run")
    if run and (run["input"] not in specs or run["method"] not in plan.methods):
        raise ConfigError(
            f"{where}.from_run: data set {ds!r} needs an input {run['input']!r} and a "
            f"method {run['method']!r}"
        )
    if "from_model" in spec:
        _check_from_model(plan, f"{where}.from_model", spec["from_model"])
    for part in spec.get("combine", []):
        if part not in specs:
            raise ConfigError(f"{where}.combine: data set {ds!r} has no input {part!r}")
        if "combine" in specs[part]:
            raise ConfigError(f"{where}.combine: {part!r} is itself composite")


def check_part_inputs(plan: Plan) -> None:
    """The generated part inputs (``<composite>.<part>``, kind ``part``): each names a
    composite of its data set that transforms its parts and has that part, and none
    takes the name of a configured input."""
    for ds, specs in plan.inputs.items():
        configured = plan.config["inputs"].get(plan.derived_root(ds), {})
        for name, spec in specs.items():
            if "part_of" not in spec:
                continue
            where = f"inputs.{ds}.{name}"
            composite = specs.get(spec["part_of"], {})
            if name in configured:
                raise ConfigError(
                    f"{where}: the name of a composite's generated part input is taken; "
                    "rename the input"
                )
            if "combine" not in composite or spec["part"] not in composite["combine"]:
                raise ConfigError(
                    f"{where}: generated for part {spec['part']!r} of {spec['part_of']!r}, "
                    "which is not a composite with that part"
                )
            if input_transform(composite) == "none":
                raise ConfigError(
                    f"{where}: {spec['part_of']!r} does not transform its parts; its parts' "
                    "own inputs are used"
                )


def _check_input_views(plan: Plan, ds: str, where: str, spec: dict[str, Any]) -> None:
    """What an input does with its views fits what they hold (when the builder declares it):
    captions need a text extractor, image files an image extractor or ``image_size``."""
    from mmclust.features.names import IMAGE_EXTRACTORS, TEXT_EXTRACTORS

    extractor = spec.get("extractor")
    loads = [k for k in ("image_size", "image_mode") if k in spec]
    if loads and extractor:
        raise ConfigError(
            f"{where}.{loads[0]}: applies to inputs without an extractor (raw pixels); "
            f"the {extractor} extractor sizes its images itself (options: image_size)"
        )
    if "image_mode" in spec and "image_size" not in spec:
        raise ConfigError(f"{where}.image_mode: give image_size too (e.g. image_size: 32)")
    kinds = plan.dataset_view_kinds(ds)
    for view in spec.get("views", []):
        kind = kinds.get(view)
        if kind == "text" and extractor not in TEXT_EXTRACTORS:
            use = f"the {extractor} extractor reads images" if extractor else "no extractor"
            raise ConfigError(
                f"{where}.views: view {view!r} of data set {ds!r} holds text (captions), "
                f"and this input has {use}: give it extractor: doc2vec, bow or minilm"
            )
        if kind in ("image", "image_file") and extractor in TEXT_EXTRACTORS:
            raise ConfigError(
                f"{where}.extractor: {extractor} reads text, but view {view!r} of data set "
                f"{ds!r} holds images: use efficientnet_lite0, resnet50 or vgg16"
            )
        if kind == "image_file" and not extractor and "image_size" not in spec:
            raise ConfigError(
                f"{where}: view {view!r} of data set {ds!r} holds image files, not pixels: add "
                "image_size (e.g. image_size: 28, image_mode: grey) to use raw pixels, or an "
                f"image extractor ({', '.join(IMAGE_EXTRACTORS)})"
            )


def _check_from_model(plan: Plan, where: str, src: dict[str, Any]) -> None:
    """An input's ``from_model``: its source run exists and saves a network."""
    ds, inp, m = src["dataset"], src["input"], src["method"]
    if ds not in plan.datasets:
        raise ConfigError(
            f"{where}.dataset: no data set {ds!r} in 'datasets' (name the data set the "
            "network was trained on)"
        )
    spec = plan.config["inputs"].get(ds, {}).get(inp)
    if spec is None:
        raise ConfigError(
            f"{where}.input: data set {ds!r} has no input {inp!r} (define it under inputs.{ds})"
        )
    if "views" not in spec or spec.get("extractor") or spec.get("pca_dim"):
        raise ConfigError(
            f"{where}.input: inputs.{ds}.{inp} must be raw pixels (views: [image], no "
            "extractor or pca_dim): the source network was trained on images"
        )
    if m not in plan.methods:
        raise ConfigError(f"{where}.method: unknown method {m!r} (define it under 'methods')")
    estimator = plan.estimator(m)
    layers = registry.NETWORK_LAYERS.get(estimator)
    if layers is None:
        able = " or ".join(sorted(registry.NETWORK_LAYERS))
        raise ConfigError(
            f"{where}.method: method {m!r} (estimator {estimator!r}) saves no network to "
            f"extract features from; use a method with estimator {able}"
        )
    if src["layer"] not in layers:
        raise ConfigError(
            f"{where}.layer: unknown layer {src['layer']!r}; use one of {', '.join(layers)}"
        )


def _check_experiment(plan: Plan, name: str, exp: dict[str, Any]) -> None:
    where = f"experiments.{name}"
    planned = set()
    for i, run in enumerate(exp["runs"]):
        ds, inp = run["dataset"], run["input"]
        if inp not in plan.inputs.get(ds, {}):
            raise ConfigError(
                f"{where}.runs[{i}].input: data set {ds!r} has no input {inp!r} "
                f"(define it under inputs.{plan.derived_root(ds)})"
            )
        partial = _partial_views(plan, ds, inp)
        for m in run["methods"]:
            if partial and not plan.is_multiview(m):
                view, why = next(iter(partial.items()))
                raise ConfigError(
                    f"{where}.runs[{i}]: method {m!r} reads one matrix and needs every sample "
                    f"to have the views of input {inp!r}, but {why} removes view {view!r} from "
                    "some samples: use a multi-view method (e.g. jecl) on a composite input, a "
                    "pooled composite (mode: pool) for mixed-modal data, or an input without "
                    f"{view!r}"
                )
            if plan.is_multiview(m) and "combine" not in plan.input_spec(ds, inp):
                raise ConfigError(
                    f"{where}.runs[{i}]: method {m!r} is multi-view and needs a composite "
                    f"input (inputs.{ds}.{inp} has no 'combine')"
                )
            planned.add((ds, inp, m))
    from mmclust.plan.core import MIXED_MODAL_METRICS

    mixed = [m for m in exp["metrics"] if m in MIXED_MODAL_METRICS]
    for ds in sorted({ds for ds, _, _ in planned}) if mixed else ():
        if not plan.is_mixed_modal(ds):
            raise ConfigError(
                f"{where}.metrics: {mixed} score mixed-modal data sets only, and {ds!r} is "
                "not one (no mixed_from): drop them or the run"
            )
    for i, fig in enumerate(exp["tsne"]):
        key = (fig["dataset"], fig["input"], fig["method"])
        if key not in planned:
            raise ConfigError(f"{where}.tsne[{i}]: {key} is not among the experiment's runs")
        if "seed" in fig and fig["seed"] not in exp["seeds"]:
            raise ConfigError(f"{where}.tsne[{i}].seed: {fig['seed']} is not in its seeds")


def check_claims(plan: Plan) -> dict[str, Any]:
    """The claims file is valid, and every claim an experiment lists can be compared on the
    rows the experiment will have (:func:`mmclust.report.claims.check_planned`)."""
    from mmclust.report import claims as cl

    if "claims" in plan.experiments:
        raise ConfigError(
            "experiments.claims: this name is reserved for the claims table "
            "(results/tables/claims.csv); rename the experiment"
        )
    path = plan.claims_path()
    try:
        claims = cl.load_claims(path)
        cl.check_planned(claims, plan.experiments)
    except FileNotFoundError:
        raise ConfigError(f"claims_file: no file {path}") from None
    except cl.ClaimsError as err:
        raise ConfigError(str(err)) from None
    return claims


def _partial_views(plan: Plan, ds: str, inp: str) -> dict[str, str]:
    """The views an input reads that the data set's lineage removes from some samples
    (``missing`` with a rate above 0, ``mixed_from``), with what removes them; empty for
    inputs whose every row is present whatever the views (a run's embedding, a pooled
    composite)."""
    spec = plan.input_spec(ds, inp)
    if "from_run" in spec or "from_model" in spec or spec.get("mode") == "pool":
        return {}
    removed: dict[str, str] = {}
    for name in plan.lineage(ds):
        entry = plan.datasets[name]
        missing = entry.get("missing")
        if missing and missing["rate"] > 0:
            removed.setdefault(missing["view"], f"data set {name!r} (missing: {missing})")
        if "mixed_from" in entry:
            for view in entry.get("views", ("image", "text")):
                removed.setdefault(view, f"the mixed-modal data set {name!r}")
    return {v: removed[v] for v in plan.input_views(ds, inp) if v in removed}


def pretrain_settings(plan: Plan, dataset: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A data set's pretraining settings: ``pretrain.default`` with the overrides of its
    lineage, validated against the autoencoder schema (whose defaults fill the rest).

    ``cache`` holds the settings already validated (one validation per distinct settings).
    """
    sources = plan.pretrain_sources(dataset)
    merged = {k: v for k, (v, _) in sources.items()}
    key = json.dumps(merged, sort_keys=True)
    if key not in cache:
        try:
            cache[key] = validate(merged, AUTOENCODER_SCHEMA)
        except ConfigError as err:
            field = str(err).split(":", 1)[0].split(".")[0].split("[")[0]
            origin = sources[field][1] if field in sources else "pretrain"
            raise ConfigError(f"{origin}.{err} (pretraining of data set {dataset!r})") from None
    return cache[key]
