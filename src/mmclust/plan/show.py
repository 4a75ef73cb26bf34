"""``python -m mmclust plan show``: what each run of an experiment uses, and why.

For every (data set, input, method) of an experiment — one cell row of its
table — the report gives the data set's lineage, the input's kind and spec,
the seeds, every method setting with where its value comes from (the
estimator's default, the method entry, a per-data-set override, a sweep) and,
for methods that fine-tune a pretrained autoencoder, the pretraining settings
with theirs, and the configuration file that writes each configured value
(the last of the merged files that sets it: the one to edit, or to override
in a file of one's own).  ``--cell`` narrows it to one row, ``--changed`` hides
the estimator's defaults.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mmclust.plan.core import Plan
from mmclust.plan.errors import ConfigError


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


@lru_cache(maxsize=64)
def _raw(path: str) -> dict[str, Any]:
    """A configuration file as written (its includes not resolved)."""
    return yaml.safe_load(Path(path).read_text()) or {}


def _shown_path(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def written_in(configfiles: list[str], source: str, key: str) -> str | None:
    """The last of ``configfiles`` (merge order) that writes ``key`` under ``source``
    (a dotted section such as ``methods.dec`` or ``method_overrides.umist.jule-rc``),
    or None (a default, a sweep)."""
    parts = source.split(".")
    if parts[0] not in ("methods", "method_overrides", "pretrain"):
        return None
    for path in reversed(configfiles):
        node: Any = _raw(path)
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and key in node:
            return _shown_path(path)
    return None


def _sourced(plan: Plan, items: dict[str, tuple[Any, str]]) -> dict[str, dict[str, Any]]:
    out = {}
    for k, (v, src) in sorted(items.items()):
        out[k] = {"value": v, "from": src}
        file = written_in(plan.configfiles, src, k)
        if file:
            out[k]["file"] = file
    return out


def cells(plan: Plan, experiment: str) -> list[tuple[str, str, str]]:
    """The experiment's (data set, input, method) rows, in table order."""
    if experiment not in plan.experiments:
        known = ", ".join(sorted(plan.experiments))
        raise ConfigError(f"no experiment {experiment!r}; experiments: {known}")
    out: list[tuple[str, str, str]] = []
    for run in plan.experiments[experiment]["runs"]:
        for m in run["methods"]:
            if (run["dataset"], run["input"], m) not in out:
                out.append((run["dataset"], run["input"], m))
    return out


def describe(plan: Plan, experiment: str, cell: tuple[str, str, str]) -> dict[str, Any]:
    """Everything one table row used, as plain data."""
    ds, inp, method = cell
    exp = plan.experiments[experiment]
    out: dict[str, Any] = {
        "experiment": experiment,
        "dataset": ds,
        "lineage": [{"name": d, **plan.datasets[d]} for d in plan.lineage(ds)],
        "input": inp,
        "input_kind": plan.input_kind(ds, inp),
        "input_spec": plan.input_spec(ds, inp),
        "method": method,
        "label": exp["labels"].get(method, method),
        "seeds": exp["seeds"],
        "settings": _sourced(plan, plan.method_sources(method, ds)),
    }
    if plan.needs_pretraining(method):
        parts = plan.input_spec(ds, inp)["combine"] if plan.is_multiview(method) else [inp]
        out["pretrained_on"] = [
            plan.part_input(ds, inp, p) if plan.is_multiview(method) else p for p in parts
        ]
        # the autoencoder schema's defaults fill the keys no configuration file writes
        settings = {k: (v, "default") for k, v in plan.pretrain_settings(ds).items()}
        out["pretraining"] = _sourced(plan, {**settings, **plan.pretrain_sources(ds)})
    return out


def render(record: dict[str, Any], changed_only: bool = False) -> str:
    """One row's record as aligned text."""
    lineage = " <- ".join(
        f"{d['name']} ({', '.join(f'{k}: {_value(v)}' for k, v in d.items() if k != 'name')})"
        for d in record["lineage"]
    )
    lines = [
        f"{record['dataset']} / {record['input']} / {record['method']}"
        f"  [{record['label']}]  seeds {record['seeds']}",
        f"  data set  {lineage}",
        f"  input     {record['input_kind']}: {_value(record['input_spec'])}",
    ]
    if record.get("pretrained_on"):
        lines.append(
            f"  autoencoders pretrained on the inputs {', '.join(record['pretrained_on'])}"
        )
    for title, key in (("method", "settings"), ("pretrain", "pretraining")):
        items = record.get(key)
        if not items:
            continue
        shown = {k: v for k, v in items.items() if not (changed_only and v["from"] == "default")}
        width = max((len(k) for k in shown), default=0)
        lines.append(f"  {title}")
        for k, v in shown.items():
            row = f"    {k:<{width}}  {_value(v['value']):<24} {v['from']:<34} {v.get('file', '')}"
            lines.append(row.rstrip())
    return "\n".join(lines)


def parse_cell(text: str) -> tuple[str, str, str]:
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"--cell {text!r}: give DATASET/INPUT/METHOD")
    return parts[0], parts[1], parts[2]


def show(
    plan: Plan,
    experiment: str,
    cell: str | None = None,
    changed_only: bool = False,
    as_json: bool = False,
) -> str:
    rows = cells(plan, experiment)
    if cell is not None:
        wanted = parse_cell(cell)
        if wanted not in rows:
            listed = ", ".join("/".join(r) for r in rows)
            raise ConfigError(f"--cell {cell!r} is not a row of {experiment}; rows: {listed}")
        rows = [wanted]
    records = [describe(plan, experiment, r) for r in rows]
    if as_json:
        return json.dumps(records, indent=2, ensure_ascii=False)
    files = ", ".join(_shown_path(f) for f in plan.configfiles)
    head = f"experiment {experiment}: {len(rows)} row(s); configuration {files}"
    return "\n\n".join([head, *(render(r, changed_only) for r in records)])
