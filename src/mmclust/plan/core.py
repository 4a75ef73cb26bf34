"""The resolved plan of a configuration: every data set, input, method and run.

:class:`Plan` turns a configuration (a mapping, as read from the YAML files)
into what the workflow executes, without editing the configuration and
without importing torch:

* the schema's defaults filled in and every cross-reference checked
  (:mod:`mmclust.plan.checks`), each error naming its key;
* sweep experiments expanded into ordinary runs (:mod:`mmclust.plan.sweeps`):
  derived data sets and method variants with generated names;
* run lists expanded: ``datasets: [a, b]`` in a run means one run per data
  set, a name of ``method_groups`` in ``methods`` stands for its list (a group
  may name other groups) and ``without: [...]`` leaves methods out of it;
* one lineage rule for everything a data set inherits: a data set made with
  ``derived_from`` or ``mixed_from`` takes the ``method_overrides`` and the
  ``pretrain.overrides`` of the data sets it comes from, merged key by key from
  the root down (the closest wins); a ``derived_from`` data set also has its
  base's inputs;
* every run's effective settings with where each value comes from
  (:meth:`Plan.method_sources`), which ``python -m mmclust plan show`` prints
  and each run's ``params.json`` records;
* for every composite input with a ``transform``, one generated input per
  part, ``<composite>.<part>`` (kind ``part``): that part as the composite's
  file keeps it, transformed, which is what a multi-view method reads and so
  what its autoencoder of that part is pretrained on.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmclust.features.names import IMAGE_EXTRACTORS
from mmclust.features.specs import input_transform
from mmclust.methods import registry
from mmclust.plan import paths
from mmclust.plan.errors import ConfigError
from mmclust.plan.loading import SOURCES
from mmclust.plan.schema import validate

#: metrics defined on mixed-modal data sets only (mmclust.metrics.mixed_modal_scores)
MIXED_MODAL_METRICS = frozenset(
    {"acc_a", "nmi_a", "acc_b", "nmi_b", "acc_b_via_a", "modality_split"}
)

#: the repository: relative paths of the configuration (the claims file) are read from here
#: unless the workflow gives its own folder (``Plan(config, basedir=...)``)
REPO = Path(__file__).resolve().parents[3]

#: the kinds of input, in the order they are recognised (see Plan.input_kind)
INPUT_KINDS = ("part", "combine", "from_run", "from_model", "derived", "extractor", "plain")


@dataclass(frozen=True, order=True)
class Run:
    """One clustering job: a method fitted on one input of one data set with one seed."""

    dataset: str
    input: str
    method: str
    seed: int

    @property
    def folder(self) -> str:
        return paths.run_dir(self.dataset, self.input, self.method, self.seed)


def _resolve_methods(
    methods: dict[str, dict[str, Any]], written: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """Method entries with ``extends: <method>`` resolved: the named entry's settings,
    then the entry's own.  Also returns where each key of each entry was written
    (``methods.<name>``, or ``schema default`` for a value the schema filled in)."""
    resolved: dict[str, dict[str, Any]] = {}
    origin: dict[str, dict[str, str]] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> None:
        if name in resolved:
            return
        if name in chain:
            raise ConfigError(f"methods.{name}.extends: a cycle: {' -> '.join([*chain, name])}")
        entry = methods[name]
        parent = entry.get("extends")
        out: dict[str, Any] = {}
        where: dict[str, str] = {}
        if parent is not None:
            if parent not in methods:
                raise ConfigError(f"methods.{name}.extends: no method {parent!r}")
            resolve(parent, (*chain, name))
            out, where = dict(resolved[parent]), dict(origin[parent])
            if "estimator" in entry and entry["estimator"] != out["estimator"]:
                raise ConfigError(
                    f"methods.{name}.estimator: {entry['estimator']!r} differs from that of "
                    f"{parent!r} ({out['estimator']!r}), which it extends"
                )
        for key, value in entry.items():
            if key != "extends":
                out[key] = copy.deepcopy(value)
                where[key] = f"methods.{name}" if key in written.get(name, {}) else "schema default"
        resolved[name], origin[name] = out, where

    for name in methods:
        resolve(name, ())
    return resolved, origin


class Plan:
    """Everything the workflow runs, resolved from one configuration.

    ``config`` is the merged configuration (includes already resolved, see
    :func:`mmclust.plan.loading.load_files`); it is copied, never edited.
    ``basedir`` is the workflow's folder, which ``claims_file`` is relative to
    (default: this repository).
    """

    def __init__(self, config: Mapping[str, Any], basedir: str | Path | None = None) -> None:
        from mmclust.plan import checks, sweeps

        raw = {k: v for k, v in config.items() if k != SOURCES}
        checks.check_obsolete(raw)
        self._raw = copy.deepcopy(raw)
        self._views: dict[str, tuple[str, ...] | None] = {}
        self.config: dict[str, Any] = validate(raw)
        self.configfiles: list[str] = list(config.get(SOURCES, []))
        cfg = self.config
        self.datasets: dict[str, dict[str, Any]] = copy.deepcopy(cfg["datasets"])
        #: method entries with ``extends`` resolved; where each key was written
        self.methods, self._origin = _resolve_methods(cfg["methods"], self._raw["methods"])
        # one copy per experiment: entries that share a mapping through a YAML anchor
        # (labels: *labels) must not see each other's sweep labels
        self.experiments: dict[str, dict[str, Any]] = {
            name: copy.deepcopy(exp) for name, exp in cfg["experiments"].items()
        }
        #: sweep-point method -> (the method it varies, the parameter it sets)
        self.swept: dict[str, tuple[str, str]] = {}
        checks.check_references(self)
        for name, exp in self.experiments.items():
            exp["runs"] = self._expand_runs(name, exp["runs"])
        sweeps.expand(self)
        self.inputs: dict[str, dict[str, dict[str, Any]]] = self._inherit_inputs()
        checks.check_plan(self)
        self._add_part_inputs()
        checks.check_part_inputs(self)
        self.basedir = Path(basedir) if basedir is not None else REPO
        #: the papers' claims (mmclust.report.claims), checked against the experiments
        self.claims = checks.check_claims(self)
        cache: dict[str, dict[str, Any]] = {}
        self._pretrain = {ds: checks.pretrain_settings(self, ds, cache) for ds in self.datasets}

    # -- construction ---------------------------------------------------------------------
    def _expand_runs(self, experiment: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``datasets: [...]``, method groups and ``without`` written out as plain runs."""
        from mmclust.plan.checks import run_methods

        groups = self.config["method_groups"]
        out = []
        for i, run in enumerate(runs):
            where = f"experiments.{experiment}.runs[{i}]"
            if ("dataset" in run) == ("datasets" in run):
                raise ConfigError(f"{where}: give either dataset or datasets (a list)")
            methods = run_methods(run, groups, self.methods, where)
            for ds in run.get("datasets", [run.get("dataset")]):
                out.append({"dataset": ds, "input": run["input"], "methods": list(methods)})
        return out

    def _inherit_inputs(self) -> dict[str, dict[str, dict[str, Any]]]:
        inputs = copy.deepcopy(self.config["inputs"])
        for ds in self.datasets:
            base = self.datasets[ds].get("derived_from")
            if base is None:
                continue
            if ds in inputs:
                raise ConfigError(
                    f"inputs.{ds}: a derived data set uses the inputs of {base!r}; "
                    "remove this entry"
                )
            inputs[ds] = inputs.get(self.derived_root(ds), {})
        return inputs

    def _add_part_inputs(self) -> None:
        """For every composite input with a transform, one generated input per part,
        ``<composite>.<part>``: ``{"part_of": <composite>, "part": <part>}``.

        The composite's file keeps its parts transformed; a multi-view method
        that fine-tunes pretrained autoencoders needs them pretrained on
        exactly these parts.  Configured names cannot contain a dot, so the
        generated names never clash with them.  A derived data set's inputs
        are its base's, so it has these as well (built from its own composite).
        """
        done: set[int] = set()
        for specs in self.inputs.values():
            if id(specs) in done:  # derived data sets share their root's entries
                continue
            done.add(id(specs))
            for name, spec in list(specs.items()):
                if "combine" in spec and input_transform(spec) != "none":
                    for part in spec["combine"]:
                        specs[f"{name}.{part}"] = {"part_of": name, "part": part}

    def download_flags(self) -> str:
        """Options of ``mmclust download`` from the ``downloads:`` section."""
        import shlex

        downloads = self.config["downloads"]
        flags = ["--require-published-checksum"] if downloads["require_published_checksum"] else []
        if downloads.get("mirror"):
            flags += ["--mirror", shlex.quote(str(downloads["mirror"]))]
            if downloads["mirror_only"]:
                flags.append("--mirror-only")
        if downloads.get("registry"):
            flags += ["--registry", shlex.quote(str(downloads["registry"]))]
        return " ".join(flags)

    # -- data sets --------------------------------------------------------------------------
    def lineage(self, dataset: str) -> list[str]:
        """``[dataset, its base, the base's base, ...]`` (derived_from or mixed_from)."""
        chain = [dataset]
        while True:
            spec = self.datasets[chain[-1]]
            base = spec.get("derived_from") or spec.get("mixed_from")
            if base is None:
                return chain
            if base in chain:
                cycle = " -> ".join([*chain, base])
                raise ConfigError(f"datasets.{dataset}: its bases form a cycle: {cycle}")
            if base not in self.datasets:
                key = "derived_from" if "derived_from" in spec else "mixed_from"
                raise ConfigError(f"datasets.{chain[-1]}.{key}: no data set {base!r}")
            chain.append(base)

    def is_derived(self, dataset: str) -> bool:
        return "derived_from" in self.datasets[dataset]

    def is_mixed_modal(self, dataset: str) -> bool:
        """Made mixed-modal (mixed_from) itself or by the data set it derives from."""
        for ds in self.lineage(dataset):
            if "mixed_from" in self.datasets[ds]:
                return True
            if "derived_from" not in self.datasets[ds]:
                return False
        return False

    def derived_root(self, dataset: str) -> str:
        """The data set a chain of ``derived_from`` ends in."""
        while "derived_from" in self.datasets[dataset]:
            dataset = self.datasets[dataset]["derived_from"]
        return dataset

    def dataset_views(self, dataset: str) -> tuple[str, ...] | None:
        """The views a data set will have, known before it is built (None: not declared).

        A built data set's views are those its builder declares for its options;
        mixed-modal and derived data sets keep their base's views.
        """
        if dataset not in self._views:
            spec = self.datasets[dataset]
            base = self.base_dataset(dataset)
            if base is not None:
                self._views[dataset] = self.dataset_views(base)
            else:
                from mmclust.data.builders import declared_views
                from mmclust.data.dataset import DatasetError

                try:
                    self._views[dataset] = declared_views(spec["source"], spec.get("options"))
                except DatasetError as err:
                    raise ConfigError(f"datasets.{dataset}.options: {err}") from None
        return self._views[dataset]

    def dataset_view_kinds(self, dataset: str) -> dict[str, str]:
        """What each view of a data set holds (``image_file``, ``image``, ``text``, ...),
        where its builder declares it (empty otherwise); derived and mixed-modal data
        sets keep their base's."""
        from mmclust.data.builders import declared_view_kinds

        root = self.lineage(dataset)[-1]
        return declared_view_kinds(self.datasets[root]["source"])

    def base_dataset(self, dataset: str) -> str | None:
        spec = self.datasets[dataset]
        return spec.get("mixed_from") or spec.get("derived_from")

    def prepare_inputs(self, dataset: str) -> dict[str, str]:
        """The files a data set is prepared from: its base data set, or its raw files."""
        spec = self.datasets[dataset]
        base = self.base_dataset(dataset)
        if base is not None:
            return {"base": paths.dataset_files(base)["data"]}
        if spec.get("raw"):
            return {"raw": paths.raw_marker(spec["raw"])}
        return {}

    # -- inputs ---------------------------------------------------------------------------
    def input_spec(self, dataset: str, input: str) -> dict[str, Any]:
        return self.inputs[dataset][input]

    def input_kind(self, dataset: str, input: str) -> str:
        """One of :data:`INPUT_KINDS`: how the input's file is made.

        ``part``: one part of a composite's file (generated, see
        :meth:`part_input`); ``combine``: from its parts; ``from_run``: a run's embedding;
        ``from_model``: this data set's images through another run's network;
        ``derived``: the base data set's input restricted to the derived rows;
        ``extractor``: a feature extractor over one view; ``plain``: views
        transformed and concatenated.
        """
        spec = self.input_spec(dataset, input)
        if "part_of" in spec:
            return "part"
        for kind in ("combine", "from_run", "from_model"):
            if kind in spec:
                return kind
        if self.is_derived(dataset):
            return "derived"
        return "extractor" if spec.get("extractor") else "plain"

    def is_part_input(self, dataset: str, input: str) -> bool:
        """A generated input: one part of a composite (``<composite>.<part>``)."""
        return "part_of" in self.input_spec(dataset, input)

    def part_input(self, dataset: str, composite: str, part: str) -> str:
        """The input a multi-view method's autoencoder of one part of a composite is
        pretrained on: the generated ``<composite>.<part>`` when the composite
        transforms its parts, else the part itself."""
        generated = f"{composite}.{part}"
        return generated if generated in self.inputs[dataset] else part

    def input_views(self, dataset: str, input: str) -> list[str]:
        """The data-set views an input is made of (the union over a composite's parts)."""
        spec = self.input_spec(dataset, input)
        if "part_of" in spec:
            return self.input_views(dataset, spec["part"])
        if "combine" in spec:
            views = {v for part in spec["combine"] for v in self.input_views(dataset, part)}
            return sorted(views)
        if "from_run" in spec:
            return self.input_views(dataset, spec["from_run"]["input"])
        return list(spec.get("views", []))

    def input_resource_kind(self, dataset: str, input: str) -> str:
        """``train`` for inputs that run a network or fit a text model, else ``light``."""
        return (
            "train" if self.input_kind(dataset, input) in ("extractor", "from_model") else "light"
        )

    def input_uses_gpu(self, dataset: str, input: str) -> bool:
        kind = self.input_kind(dataset, input)
        spec = self.input_spec(dataset, input)
        return kind == "from_model" or (
            kind == "extractor" and spec.get("extractor") in IMAGE_EXTRACTORS
        )

    def feature_inputs(self, dataset: str, input: str) -> dict[str, Any]:
        """The files an input is built from, named as ``mmclust features`` takes them."""
        spec = self.input_spec(dataset, input)
        kind = self.input_kind(dataset, input)
        if kind == "part":
            return {"composite": paths.features_path(dataset, spec["part_of"])}
        # a transform's statistics are fitted on the training split (when there is one)
        split = (
            {"data": paths.dataset_files(dataset)["data"]}
            if kind in ("combine", "from_run") and input_transform(spec) != "none"
            else {}
        )
        if kind == "combine":
            return {"parts": [paths.features_path(dataset, p) for p in spec["combine"]], **split}
        if kind == "from_run":
            run = spec["from_run"]
            folder = paths.run_dir(dataset, run["input"], run["method"], run["seed"])
            return {"embedding": f"{folder}/embedding.npy", **split}
        if kind == "from_model":
            src = spec["from_model"]
            folder = paths.run_dir(src["dataset"], src["input"], src["method"], src["seed"])
            return {"model": f"{folder}/model.pt", **paths.dataset_files(dataset)}
        if kind == "derived":
            base = self.datasets[dataset]["derived_from"]
            return {
                "base_features": paths.features_path(base, input),
                "base": paths.dataset_files(base)["data"],
            }
        return paths.dataset_files(dataset)

    def feature_settings(self, dataset: str, input: str) -> dict[str, Any]:
        """What ``mmclust features`` needs besides files: the input's kind and spec
        (and, by kind, the source input's spec or the derived data set's entry)."""
        kind = self.input_kind(dataset, input)
        out: dict[str, Any] = {"kind": kind, "spec": self.input_spec(dataset, input)}
        if kind == "from_model":
            src = out["spec"]["from_model"]
            out["source_spec"] = self.input_spec(src["dataset"], src["input"])
        elif kind == "derived":
            out["derive"] = self.datasets[dataset]
        return out

    # -- methods and pretraining -----------------------------------------------------------------
    def estimator(self, method: str) -> str:
        return self.methods[method]["estimator"]

    def needs_pretraining(self, method: str) -> bool:
        return self.estimator(method) in registry.PRETRAINED

    def is_multiview(self, method: str) -> bool:
        return self.estimator(method) in registry.MULTIVIEW

    def method_sources(self, method: str, dataset: str) -> dict[str, tuple[Any, str]]:
        """Every setting of a method on a data set: ``{key: (value, where it comes from)}``.

        Sources, later ones winning: the estimator's default (``default``),
        the method entry (``methods.<m>``), the overrides of the data set's
        lineage from its root down (``method_overrides.<ds>.<m>``) and, for a
        sweep point, the swept value (``sweep``).  The workflow's own
        parameters (k, seed, device) are not listed.
        """
        base, swept = self.swept.get(method, (method, None))
        entry = self.methods[base]
        out: dict[str, tuple[Any, str]] = {
            k: (v, "default")
            for k, v in registry.parameters(entry["estimator"]).items()
            if k not in registry.RESERVED
        }
        out.update({k: (v, self._origin[base][k]) for k, v in entry.items()})
        overrides = self.config["method_overrides"]
        for ds in reversed(self.lineage(dataset)):
            for k, v in overrides.get(ds, {}).get(base, {}).items():
                out[k] = (v, f"method_overrides.{ds}.{base}")
        if swept is not None:
            out[swept] = (self.methods[method][swept], "sweep")
        return out

    def method_settings(self, method: str, dataset: str) -> dict[str, Any]:
        """The method's config entry with the data set's overrides (and sweep value) merged in:
        what the clustering job receives (estimator defaults stay implicit)."""
        return {
            k: v for k, (v, src) in self.method_sources(method, dataset).items() if src != "default"
        }

    def pretrain_settings(self, dataset: str) -> dict[str, Any]:
        return dict(self._pretrain[dataset])

    def pretrain_sources(self, dataset: str) -> dict[str, tuple[Any, str]]:
        """The pretraining settings of a data set with where each comes from (keys
        the autoencoder schema fills in are not listed)."""
        out = {k: (v, "pretrain.default") for k, v in self.config["pretrain"]["default"].items()}
        overrides = self.config["pretrain"]["overrides"]
        for ds in reversed(self.lineage(dataset)):
            out.update(
                {k: (v, f"pretrain.overrides.{ds}") for k, v in overrides.get(ds, {}).items()}
            )
        return out

    def pretrain_path(self, dataset: str, input: str, seed: int | str) -> str:
        """The pretrained autoencoder of an input.

        A data set derived only by removing a view that this input does not
        use has exactly its base's features for it: the base's pretraining is
        reused instead of repeated.
        """
        spec = self.datasets[dataset]
        while (
            "derived_from" in spec
            and "per_class" not in spec
            and spec.get("missing", {}).get("view") not in self.input_views(dataset, input)
        ):
            dataset = spec["derived_from"]
            spec = self.datasets[dataset]
        return f"{paths.pretrain_dir(dataset, input, seed)}/autoencoder.pt"

    def cluster_inputs(self, run: Run) -> dict[str, Any]:
        """The files a clustering job reads."""
        out: dict[str, Any] = {
            "features": paths.features_path(run.dataset, run.input),
            **paths.dataset_files(run.dataset),
        }
        if self.needs_pretraining(run.method):
            spec = self.input_spec(run.dataset, run.input)
            parts = (
                [self.part_input(run.dataset, run.input, p) for p in spec["combine"]]
                if self.is_multiview(run.method)
                else [run.input]
            )
            out["autoencoder"] = [self.pretrain_path(run.dataset, p, run.seed) for p in parts]
        return out

    def method_resource_kind(self, method: str) -> str:
        return "train" if self.needs_pretraining(method) else "light"

    def run_provenance(self, run: Run) -> dict[str, Any]:
        """What a run's ``params.json`` records besides the fitted estimator's parameters."""
        return {
            "dataset": run.dataset,
            "input": run.input,
            "method": run.method,
            "seed": run.seed,
            "input_spec": self.input_spec(run.dataset, run.input),
            "input_kind": self.input_kind(run.dataset, run.input),
            "lineage": [{"name": ds, **self.datasets[ds]} for ds in self.lineage(run.dataset)],
            "settings": {k: {"value": v, "from": src}
                         for k, (v, src) in self.method_sources(run.method, run.dataset).items()},
        }  # fmt: skip

    # -- experiments --------------------------------------------------------------------------
    def selected_experiments(self) -> list[str]:
        """The experiments whose tables and figures are the default targets."""
        chosen = self.config.get("targets")
        return list(self.experiments) if chosen is None else list(chosen)

    def experiment_runs(self, experiment: str) -> Iterator[Run]:
        exp = self.experiments[experiment]
        for run in exp["runs"]:
            for method in run["methods"]:
                for seed in exp["seeds"]:
                    yield Run(run["dataset"], run["input"], method, int(seed))

    def scoring_batches(self) -> dict[tuple[int, ...], list[tuple[str, str, str]]]:
        """The table cells (data set, input, method) grouped by the seeds they are scored with.

        One scoring job scores every seed of a cell (``python -m mmclust score``).  A
        cell's seeds are those of every experiment that runs it, selected by
        ``targets`` or not, so that any experiment's table can be asked for; a rule's
        outputs are fixed by its wildcards, so the workflow has one scoring rule per
        distinct seed list, each restricted to its cells.  Seed lists and cells are
        sorted.
        """
        seeds: dict[tuple[str, str, str], set[int]] = {}
        for experiment in self.experiments:
            for run in self.experiment_runs(experiment):
                seeds.setdefault((run.dataset, run.input, run.method), set()).add(run.seed)
        batches: dict[tuple[int, ...], list[tuple[str, str, str]]] = {}
        for cell, cell_seeds in sorted(seeds.items()):
            batches.setdefault(tuple(sorted(cell_seeds)), []).append(cell)
        return dict(sorted(batches.items()))

    def experiment_datasets(self, experiment: str) -> list[str]:
        return sorted({run["dataset"] for run in self.experiments[experiment]["runs"]})

    def tsne_runs(self, experiment: str) -> list[Run]:
        exp = self.experiments[experiment]
        return [
            Run(f["dataset"], f["input"], f["method"], int(f.get("seed", exp["seeds"][0])))
            for f in exp["tsne"]
        ]

    def paper_file(self, experiment: str, basedir: str | Path) -> list[str]:
        """The experiment's file of the paper's numbers (a path relative to ``basedir``)."""
        path = self.experiments[experiment].get("paper")
        return [str(Path(basedir) / path)] if path else []

    def table_spec(self, experiment: str, basedir: str | Path) -> dict[str, Any]:
        """What the summary table needs: the expanded experiment without its figures."""
        exp = {k: v for k, v in self.experiments[experiment].items() if k != "tsne"}
        if exp.get("paper"):
            exp["paper"] = self.paper_file(experiment, basedir)[0]
        overrides = self.table_overrides(experiment)
        if overrides:
            exp["overrides"] = overrides
        return exp

    def table_overrides(self, experiment: str) -> list[dict[str, Any]]:
        """The rows of an experiment whose method runs with per-data-set settings
        (``method_overrides``): data set, method and the overridden values, for the
        table's footnote (the rest of a row's settings are its method entry's)."""
        out, seen = [], set()
        for run in self.experiment_runs(experiment):
            if (run.dataset, run.method) in seen:
                continue
            seen.add((run.dataset, run.method))
            sources = self.method_sources(run.method, run.dataset)
            changed = {
                k: v for k, (v, src) in sources.items() if src.startswith("method_overrides.")
            }
            if changed:
                out.append({"dataset": run.dataset, "method": run.method, "settings": changed})
        return out

    def sweep_spec(self, experiment: str) -> dict[str, Any]:
        """What the sweep figure needs: the swept parameter, its points, the labels and
        the marker of the configured value (:meth:`sweep_marker`)."""
        exp = self.experiments[experiment]
        keys = ("description", "metrics", "sweep", "points", "labels")
        return {**{k: exp[k] for k in keys if k in exp}, "marker": self.sweep_marker(experiment)}

    def sweep_marker(self, experiment: str) -> dict[str, Any] | None:
        """The configured value of a swept method parameter, with where it comes from (the
        figure marks it when the sweep names no paper default); None for a data-set sweep."""
        exp = self.experiments[experiment]
        param = exp["sweep"]["parameter"]
        for point in exp.get("points", []):
            if point["method"] not in self.swept:
                continue
            base, _ = self.swept[point["method"]]
            value, src = self.method_sources(base, point["dataset"]).get(param, (None, ""))
            if isinstance(value, (int, float)):
                where = "estimator default" if src == "default" else src
                return {"value": value, "label": f"configured value ({where}: {value:g})"}
        return None

    def figure_experiment(self, dataset: str, input: str, method: str) -> str | None:
        """The first experiment that draws a t-SNE figure of this run."""
        for name, exp in self.experiments.items():
            for fig in exp["tsne"]:
                if (fig["dataset"], fig["input"], fig["method"]) == (dataset, input, method):
                    return name
        return None

    # -- the papers' claims -----------------------------------------------------------------
    def claims_path(self) -> str:
        """The claims file (``claims_file``, relative to the workflow's folder)."""
        return str(self.basedir / self.config["claims_file"])

    def claims_experiments(self) -> list[str]:
        """The selected experiments that list claims and the experiments whose tables
        their claims also compare against (``claims.with``), sorted by name (the claims
        table's order: the same whatever the order of the configuration's keys)."""
        exps = self.experiments
        names = [n for n in self.selected_experiments() if exps[n].get("claims")]
        return sorted({*names, *(w for n in names for w in exps[n]["claims"].get("with", []))})

    def claims_tables(self) -> list[str]:
        """The summary tables the claims table reads."""
        return [paths.table_files(n)[0] for n in self.claims_experiments()]

    def claims_spec(self) -> dict[str, Any]:
        """What the claims check reads of each experiment: its claims entry, method names
        and labels, and a sweep's points."""
        keys = ("claims", "paper_names", "labels", "sweep", "points")
        order = self.claims_experiments()
        spec = {n: {k: self.experiments[n][k] for k in keys if k in self.experiments[n]}
                for n in order}  # fmt: skip
        return {"experiments": spec, "order": order}

    def targets(self) -> list[str]:
        """The default targets: the selected experiments' tables and figures, every
        configured input of the data sets they use, and the claims table (every claim of
        the claims file: those no selected experiment tests are listed as not run)."""
        chosen = self.selected_experiments()
        everything = self.config.get("targets") is None
        used = {self.derived_root(ds) for name in chosen for ds in self.experiment_datasets(name)}
        out = [
            paths.features_path(ds, name)
            for ds, inputs in self.inputs.items()
            if not self.is_derived(ds) and (everything or ds in used)
            for name in inputs
            if not self.is_part_input(ds, name)
        ]
        for name in chosen:
            out += paths.table_files(name)
            out += [
                paths.tsne_path(r.dataset, r.input, r.method, r.seed) for r in self.tsne_runs(name)
            ]
            if self.experiments[name].get("sweep"):
                out += paths.sweep_files(name)
        return out + paths.claims_files()
