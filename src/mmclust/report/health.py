"""Run health: did each run's stopping rule fire, and what did it see?

Read from each run's ``fit.json`` (written by :func:`mmclust.fitting.write_run`):

* ``convergence`` (the shared convention: an iterative estimator sets
  ``convergence_ = {"converged": bool, "rule": "...", **signals}``) when the
  run recorded one: ``converged`` says whether the label-free rule fired
  before the epoch or iteration limit, ``rule`` what it is, and the other
  keys are the method's label-free signals (final label change, epochs run,
  DM2C's cycle loss, JULE's periods, ...), listed as they are;
* otherwise the older ``stopped_early`` flag (DEC-style training: True when
  the label-change rule fired) stands in for ``converged``, and a run with
  neither is "not recorded" (a closed-form method such as k-means or
  spectral clustering, or an estimator that records nothing yet).

The final label change is the first signal whose name contains
``label_change`` (or ``delta_label``).  Runs whose record says
``converged: false`` (or ``stopped_early: false``) are listed apart as "did
not converge": their numbers are those at the limit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mmclust.report.html import markdown_row, write_section_files

COLUMNS = [
    "dataset", "input", "method", "seed", "estimator", "status", "converged",
    "final_label_change", "rule", "signals", "fit_seconds",
]  # fmt: skip
NOT_RECORDED = "not recorded"


def _label_change_key(conv: dict[str, Any]) -> str | None:
    for key in conv:
        if "label_change" in key or "delta_label" in key:
            return key
    return None


def _label_change(conv: dict[str, Any]) -> Any:
    key = _label_change_key(conv)
    return None if key is None else conv[key]


def _signals(conv: dict[str, Any]) -> str:
    skip = {"converged", "rule", _label_change_key(conv)}
    parts = []
    for key, value in conv.items():
        if key in skip:
            continue
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, (list, dict)):
            value = json.dumps(value)[:60]
        parts.append(f"{key}={value}")
    return "; ".join(parts)


def health_row(run: dict[str, Any], fit: dict[str, Any] | None) -> dict[str, Any]:
    """One run's row from its identifiers and its ``fit.json`` (None: not found)."""
    row: dict[str, Any] = {k: run.get(k) for k in ("dataset", "input", "method", "seed")}
    fit = fit or {}
    row["estimator"] = fit.get("estimator", "")
    row["fit_seconds"] = fit.get("fit_seconds")
    conv = fit.get("convergence")
    if isinstance(conv, dict) and "converged" in conv:
        converged = bool(conv["converged"])
        row.update(
            converged=converged,
            status="stopping rule fired" if converged else "hit the limit",
            rule=str(conv.get("rule", "")),
            final_label_change=_label_change(conv),
            signals=_signals(conv),
        )
    elif "stopped_early" in fit:
        converged = bool(fit["stopped_early"])
        extra = f"n_iter={fit['n_iter']}" if "n_iter" in fit else ""
        row.update(
            converged=converged,
            status=("stopping rule fired" if converged else "hit the limit")
            + " (convergence not recorded; from stopped_early)",
            rule="",
            final_label_change=None,
            signals=extra,
        )
    else:
        row.update(
            converged=None,
            status=NOT_RECORDED if fit else "fit.json missing",
            rule="",
            final_label_change=None,
            signals="",
        )
    return row


def run_of(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's identifiers from its path ``/{dataset}/{input}/{method}/seed{seed}/fit.json``."""
    parts = os.path.normpath(path).split(os.sep)
    seed = parts[-2]
    if len(parts) < 5 or not seed.startswith("seed"):
        raise ValueError(f"{path}: not a run's fit.json (.../dataset/input/method/seedN/fit.json)")
    return {"dataset": parts[-5], "input": parts[-4], "method": parts[-3], "seed": int(seed[4:])}


def health_table(fit_files: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    rows = []
    for path in fit_files:
        run = run_of(path)
        try:
            with open(path) as fh:
                fit = json.load(fh)
        except (OSError, ValueError):
            fit = None
        rows.append(health_row(run, fit))
    return pd.DataFrame(rows, columns=COLUMNS)


def to_markdown(df: pd.DataFrame) -> str:
    bad = df[df["converged"].eq(False)]
    n_rec = int(df["converged"].notna().sum())
    lines = [
        "# Run health",
        "",
        f"{len(df)} runs; {n_rec} recorded a stopping rule; "
        f"{len(bad)} did not converge (stopped at their epoch or iteration limit); "
        f"{len(df) - n_rec} not recorded (closed-form methods, or no record).",
        "",
    ]
    if not bad.empty:
        lines += ["## Runs that did not converge", ""]
        for r in bad.itertuples(index=False):
            lines.append(
                f"- {r.dataset} / {r.input} / {r.method} / seed {r.seed}: {r.status}"
                + (f" ({r.signals})" if r.signals else "")
            )
        lines.append("")
    head = ["data set", "input", "method", "seed", "status", "final label change", "signals"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in df.itertuples(index=False):
        change = (
            "—"
            if r.final_label_change is None or pd.isna(r.final_label_change)
            else (
                f"{r.final_label_change:.4g}"
                if isinstance(r.final_label_change, float)
                else str(r.final_label_change)
            )
        )
        cells = [r.dataset, r.input, r.method, r.seed, r.status, change, r.signals or "—"]
        lines.append(markdown_row(cells))
    return "\n".join(lines) + "\n"


def write_health(
    fit_files: Sequence[str | os.PathLike[str]],
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str],
    out_html: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    df = health_table(fit_files)
    bad = df["converged"].eq(False)
    write_section_files(
        df,
        to_markdown(df),
        out_csv,
        out_md,
        out_html,
        "Run health",
        [("Runs that did not converge", df[bad]), ("Every run", df.assign(flag=bad))],
        flag="flag",
    )
    return df
