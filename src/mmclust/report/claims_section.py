"""The report's Claims section.

Two sources, shown on one page:

* **The claims table**, when the workflow has one: the papers' qualitative
  claims checked against the summary tables (a rule ``claims_table`` that
  writes ``results/tables/claims.{csv,md}``).  The workflow passes its files
  through one hook (``claims_section_inputs`` in ``workflow/rules/report.smk``);
  each CSV is shown as a table, each Markdown file as text.
* **What the tables allow** (always): the one claim every paper table makes
  by its bold face, "method X is the best on data set D for metric M".  For
  every (data set, metric) of a table with the paper's values and at least
  two rows with a paper value, the paper's best row is compared with ours:
  is the paper's winner also our best (among the same rows), and is the
  difference between our best and the paper's winner larger than their two
  seed standard deviations together (otherwise the order is within the seed
  spread: "tie within spread")?
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mmclust.io import atomic_open
from mmclust.report.tables import METRIC_NAMES

COLUMNS = [
    "experiment", "dataset", "metric", "rows", "paper_best", "paper_value", "our_best",
    "our_value", "verdict",
]  # fmt: skip


def _name(row: pd.Series, labels: dict[str, str]) -> str:
    method = labels.get(row["method"], row["method"])
    return f"{method} ({row['input']})"


def best_method_checks(
    table: pd.DataFrame, experiment: str, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """The paper's winner against ours per (data set, metric) of one summary table."""
    labels = labels or {}
    rows = []
    cells = table[table["paper"].notna()]
    for (dataset, metric), g in cells.groupby(["dataset", "metric"], sort=False):
        if len(g) < 2:
            continue
        p = g.loc[g["paper"].idxmax()]
        o = g.loc[g["mean"].idxmax()]
        if p.name == o.name:
            verdict = "holds: same winner"
        else:
            spread = np.nansum([p["std"], o["std"]]) if (g["n_seeds"] > 1).all() else np.nan
            gap = o["mean"] - p["mean"]
            if np.isnan(spread):
                verdict = "does not hold (one seed: no spread to compare with)"
            elif gap <= spread:
                verdict = "tie within spread: our best is within the two seed stds"
            else:
                verdict = "does not hold: another method is better beyond the seed spread"
        rows.append(
            {
                "experiment": experiment,
                "dataset": dataset,
                "metric": METRIC_NAMES.get(metric, metric),
                "rows": len(g),
                "paper_best": _name(p, labels),
                "paper_value": float(p["paper"]),
                "our_best": _name(o, labels),
                "our_value": f"{o['mean']:.3f}"
                + (f" ± {o['std']:.3f}" if o["n_seeds"] > 1 else " (1 seed)"),
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_claims_section(
    tables: Sequence[str | os.PathLike[str]],
    experiments: Sequence[str],
    labels: dict[str, dict[str, str]],
    out_csv: str | os.PathLike[str],
    out_html: str | os.PathLike[str],
    claims_files: Sequence[str | os.PathLike[str]] = (),
) -> pd.DataFrame:
    from mmclust.report.html import page

    parts = [
        best_method_checks(pd.read_csv(t), e, labels.get(e, {}))
        for t, e in zip(tables, experiments, strict=True)
    ]
    checks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    with atomic_open(out_csv) as fh:
        checks.to_csv(fh, index=False)
    sections: list[tuple[str, pd.DataFrame | str]] = []
    # the claims table as a table (its Markdown twin says the same in text)
    tables_of_claims = [Path(p) for p in claims_files if Path(p).suffix == ".csv"]
    if tables_of_claims:
        for p in tables_of_claims:
            sections.append((f"The papers' claims checked ({p.name})", pd.read_csv(p)))
    else:
        sections.append(
            (
                "The papers' claims",
                "No claims table in this workflow yet (config/papers/claims.yaml and its "
                "checker): below is what the tables alone allow.",
            )
        )
    holds = int(checks["verdict"].str.startswith("holds").sum()) if len(checks) else 0
    ties = int(checks["verdict"].str.startswith("tie").sum()) if len(checks) else 0
    if not tables:
        allow = (
            "No table of this configuration has the paper's values (the offline demos run on "
            "other data than the papers'): the tables allow no comparison with a paper."
        )
    else:
        allow = (
            f"{len(checks)} (data set, metric) pairs with at least two paper values: the "
            f"paper's winner is also ours in {holds}, within the seed spread of ours in {ties}."
        )
    sections.append(("What the tables allow: the paper's best method, ours", allow))
    sections.append(("", checks))
    intro = (
        "Each paper's tables claim, by their bold face, a best method per data set and "
        "metric; the papers' qualitative claims say more. This page checks them against "
        "our summary tables."
    )
    with atomic_open(out_html) as fh:
        fh.write(page("Claims", intro, sections))
    return checks
