import json
import os
import re
import sys
from pathlib import Path

SRC_DIR = str(Path(workflow.basedir) / "src")
# Rules call ``python -m mmclust``.  The workflow itself puts its package on
# the module path of every job (local, conda or cluster: cluster jobs re-read
# this file), so no install step is needed inside the rule environments.
_pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if SRC_DIR not in _pythonpath:
    os.environ.update(PYTHONPATH=os.pathsep.join([SRC_DIR, *_pythonpath]))
if SRC_DIR not in sys.path:
    sys.path.insert(0, SRC_DIR)

from mmclust.plan import Plan, Run, load_files, merge, paths  # noqa: E402  (no torch)

# The configuration: the files given with --configfile (config/config.yaml when
# none is), each with its include: files, then --config key=value on top.  The
# plan validates it, expands sweeps and checks every cross-reference before any
# job runs (src/mmclust/plan/).  `config` is then the resolved configuration.
CONFIGFILES = workflow.config_settings.configfiles or [
    Path(workflow.basedir) / "config" / "config.yaml"
]
PLAN = Plan(
    merge(load_files(CONFIGFILES), dict(workflow.config_settings.config)),
    basedir=workflow.basedir,
)
config.clear()
config.update(PLAN.config, _configfiles=PLAN.configfiles)

NAME = "[A-Za-z0-9][A-Za-z0-9-]*"
# sweep points get generated names: <base>.<what>-<value>
SWEPT_NAME = "[A-Za-z0-9][A-Za-z0-9.-]*"
# one part of a composite input gets the generated name <composite>.<part>
PART_NAME = rf"{NAME}(?:\.{NAME})?"


wildcard_constraints:
    dataset=SWEPT_NAME,
    raw=NAME,
    input=PART_NAME,
    method=SWEPT_NAME,
    # results/tables/claims.* is the claims table, not an experiment's
    experiment=f"(?!claims(?![A-Za-z0-9-])){NAME}",
    seed=r"\d+",


def to_json(obj):
    """A config section as the canonical JSON string passed to the CLI."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def run_of(w):
    return Run(w.dataset, w.input, w.method, int(w.seed))


def resource(kind, name):
    """Resource ``name`` of a job of ``kind`` ("train" or "light")."""
    if name == "gpu":
        return config["resources"]["train"]["gpu"] if kind == "train" else 0
    return config["resources"][kind][name]


def threads_for(kind):
    return config["train_threads"] if kind == "train" else 1


def input_resource(name):
    return lambda w: resource(PLAN.input_resource_kind(w.dataset, w.input), name)


def method_resource(name):
    return lambda w: resource(PLAN.method_resource_kind(w.method), name)


def flags(files):
    """Named input files as command-line options: {"base_features": "a"} -> --base-features a."""
    out = []
    for key, value in files.items():
        value = " ".join(value) if isinstance(value, list) else value
        out.append(f"--{key.replace('_', '-')} {value}")
    return " ".join(out)


def folder_flags(input):
    """--raw-dir / --base: the folders of a data set's raw files or base data set."""
    names = {"raw": "--raw-dir", "base": "--base"}
    return " ".join(f"{names[k]} {os.path.dirname(input[k])}" for k in input.keys())


def figure_category(w):
    """Report category of a figure: that of the first experiment that draws it."""
    name = PLAN.figure_experiment(w.dataset, w.input, w.method)
    return PLAN.experiments[name]["category"] if name else "Figures"


# -- scoring (evaluate.smk): one job per table cell, one rule per seed list ---------------
# computed once (it walks every run of the plan); evaluate.smk makes its rules from it
# the training commands' precision flag: absent at the default (fp32), so that a
# default run's commands, and therefore Snakemake's code trigger, are unchanged
PRECISION_FLAG = (
    "" if config["precision"] == "fp32" else f"--precision {config['precision']}"
)
SCORING_BATCHES = PLAN.scoring_batches()
SCORED_SEEDS = {
    "/".join(cell): seeds for seeds, cells in SCORING_BATCHES.items() for cell in cells
}


def scoring_rule_name(seeds):
    """score_runs_seeds_0_to_4 (a range), score_runs_seeds_0_3 (a list)."""
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"score_runs_seeds_{seeds[0]}_to_{seeds[-1]}"
    return "score_runs_seeds_" + "_".join(map(str, seeds))


def one_of(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(n) for n in names)


def scored_dataset(w):
    return w.cell.split("/")[0]


def scored_runs(w):
    """The identifiers each run's metrics.json starts with, in the order of the seeds."""
    dataset, input, method = w.cell.split("/")
    return to_json(
        [
            {"dataset": dataset, "input": input, "method": method, "seed": seed}
            for seed in SCORED_SEEDS[w.cell]
        ]
    )
