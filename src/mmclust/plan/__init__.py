"""The plan layer between the configuration and the workflow's rules.

Pure functions and one class, importable without torch:

* :mod:`~mmclust.plan.loading` reads configuration files (Snakemake's merge
  rule, ``include:``);
* :mod:`~mmclust.plan.schema` validates them against the config schema;
* :class:`~mmclust.plan.core.Plan` resolves sweeps, inheritance and overrides,
  checks every cross-reference (:mod:`~mmclust.plan.checks`) and answers what
  each job reads, writes and uses;
* :mod:`~mmclust.plan.paths` says where every stage writes;
* :mod:`~mmclust.plan.show` prints what a run used and where each value came from.
"""

from mmclust.plan.core import INPUT_KINDS, Plan, Run
from mmclust.plan.errors import ConfigError
from mmclust.plan.loading import load_files, merge

__all__ = ["INPUT_KINDS", "ConfigError", "Plan", "Run", "load_files", "merge"]
