"""Scorecards: each cell of a paper table, ours against the paper's value.

A scorecard is drawn for every experiment whose summary table
(``results/tables/<experiment>.csv``, written by
:func:`mmclust.report.tables.write_summary_tables`) has the paper's values.
One point per (data set, input, method, metric) cell that has a paper value:
x is the paper's value, y ours (the mean over seeds), the vertical error bar
our seed standard deviation (ddof=1), and the diagonal is "ours = paper".

The tolerance (config ``plots.scorecard``)
    A cell is **within** when the paper's value lies in ours ± tol, with
    ``tol = max(tolerance_sd · std, tolerance_abs)`` (defaults 2 and 0: the
    paper's value is inside our mean ± 2 seed standard deviations).  Outside
    it, the cell is **above** (ours is higher than the paper's) or **below**.
    Two standard deviations of the seeds are a spread of our runs, not a
    confidence interval of the paper's number (the papers give no spread for
    most cells): the label says where the paper's value falls among our
    seeds, no more.
One-seed cells
    A cell computed from one seed has no spread.  It is drawn without an error
    bar, with a hollow marker, and classified by ``tolerance_abs`` alone
    (with the default 0 it is never "within", only above or below); the
    summary counts one-seed cells apart from the others, so a one-seed run
    never passes as "within tolerance" by accident.

Outputs: the figure (PNG), the cell table (CSV: one row per cell with the
tolerance and the status) and a short Markdown summary (counts within / above
/ below, overall and per metric).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from mmclust.io import atomic_open, atomic_path
from mmclust.report.tables import METRIC_NAMES

#: status of a cell -> colour in the figure
COLOURS = {"within": "#1a9850", "above": "#4575b4", "below": "#d73027"}
STATUSES = ("within", "above", "below")
DEFAULTS = {"tolerance_sd": 2.0, "tolerance_abs": 0.0}


def classify(
    summary: pd.DataFrame, tolerance_sd: float = 2.0, tolerance_abs: float = 0.0
) -> pd.DataFrame:
    """The cells of a summary table that have a paper value, with their status.

    ``summary`` has the columns of the tidy summary table (dataset, input,
    method, metric, mean, std, n_seeds, paper).  Returns those rows with a
    paper value plus ``tolerance`` and ``status`` (within / above / below);
    one-seed cells (or a missing std) have tolerance ``tolerance_abs``.
    """
    cells = summary[summary["paper"].notna()].copy()
    n = cells["n_seeds"].fillna(1).astype(int)
    std = cells["std"].astype(float).where(n > 1, np.nan)
    spread = (tolerance_sd * std).fillna(0.0)
    cells["std"] = std
    cells["tolerance"] = np.maximum(spread, tolerance_abs)
    diff = cells["mean"].astype(float) - cells["paper"].astype(float)
    cells["diff"] = diff
    cells["status"] = np.where(
        diff.abs() <= cells["tolerance"] + 1e-12, "within", np.where(diff > 0, "above", "below")
    )
    cells["one_seed"] = n <= 1
    return cells.reset_index(drop=True)


def summary_counts(cells: pd.DataFrame) -> pd.DataFrame:
    """Counts per metric (and ``all``) of cells within / above / below, one-seed cells apart."""
    rows = []
    groups = [("all", cells), *((m, g) for m, g in cells.groupby("metric", sort=False))]
    for metric, g in groups:
        for one_seed, part in (("no", g[~g["one_seed"]]), ("yes", g[g["one_seed"]])):
            if part.empty:
                continue
            counts = part["status"].value_counts()
            rows.append(
                {
                    "metric": metric,
                    "one_seed": one_seed,
                    "cells": len(part),
                    **{s: int(counts.get(s, 0)) for s in STATUSES},
                }
            )
    return pd.DataFrame(rows, columns=["metric", "one_seed", "cells", *STATUSES])


def _label(row: Any, labels: dict[str, str]) -> str:
    return f"{row.dataset} {row.input}: {labels.get(row.method, row.method)}"


def draw(
    cells: pd.DataFrame,
    out: str | os.PathLike[str],
    title: str,
    labels: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
    dpi: int = 120,
) -> None:
    """The scorecard figure: one panel per metric, ours against the paper's value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    labels = labels or {}
    settings = {**DEFAULTS, **(settings or {})}
    metrics = list(dict.fromkeys(cells["metric"])) or ["(none)"]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.0 * len(metrics) + 1.2, 4.3), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        part = cells[cells["metric"] == metric]
        if part.empty:
            lo, hi = 0.0, 1.0
            ax.text(0.5, 0.5, "no cell with a paper value", ha="center", va="center")
        else:
            std = part["std"].fillna(0)
            lo = float(min(part["paper"].min(), (part["mean"] - std).min()))
            hi = float(max(part["paper"].max(), (part["mean"] + std).max()))
        pad = max(0.03, 0.08 * (hi - lo))
        lo, hi = max(0.0, lo - pad), min(1.0, hi + pad) if hi <= 1 else hi + pad
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--", zorder=1)
        for status in STATUSES:
            for one_seed in (False, True):
                sel = part[(part["status"] == status) & (part["one_seed"] == one_seed)]
                if sel.empty:
                    continue
                colour = COLOURS[status]
                ax.errorbar(
                    sel["paper"],
                    sel["mean"],
                    yerr=None if one_seed else sel["std"].fillna(0).to_numpy(),
                    fmt="o",
                    ms=6,
                    mfc="white" if one_seed else colour,
                    mec=colour,
                    ecolor=colour,
                    elinewidth=1.2,
                    capsize=2,
                    zorder=3,
                )
        if len(part) <= 12:
            for row in part.itertuples(index=False):
                ax.annotate(
                    _label(row, labels), (row.paper, row.mean), fontsize=6, xytext=(3, 3),
                    textcoords="offset points", color="0.25",
                )  # fmt: skip
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"paper's {METRIC_NAMES.get(metric, metric)}")
        ax.set_ylabel(f"ours ({METRIC_NAMES.get(metric, metric)}, mean ± std)")
        counts = part["status"].value_counts()
        ax.set_title(
            f"{METRIC_NAMES.get(metric, metric)}: "
            + ", ".join(f"{int(counts.get(s, 0))} {s}" for s in STATUSES),
            fontsize=9,
        )
        ax.grid(alpha=0.3)
    tol = f"± max({settings['tolerance_sd']:g}·std, {settings['tolerance_abs']:g})"
    handles = [
        Line2D([], [], marker="o", ls="", color=COLOURS[s], label=text)
        for s, text in (
            ("within", f"within: paper's value in ours {tol}"),
            ("above", "above: ours higher than the paper's"),
            ("below", "below: ours lower than the paper's"),
        )
    ]
    handles.append(
        Line2D([], [], marker="o", ls="", mfc="white", mec="0.3", label="one seed (no spread)")
    )
    handles.append(Line2D([], [], color="0.5", ls="--", label="ours = paper"))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle(title[:110], fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def to_markdown(
    cells: pd.DataFrame, counts: pd.DataFrame, experiment: str, settings: dict[str, Any]
) -> str:
    tol = f"max({settings['tolerance_sd']:g} × seed std, {settings['tolerance_abs']:g})"
    lines = [
        f"# Scorecard: {experiment}",
        "",
        f"A cell is *within* when the paper's value lies in ours ± {tol}; *above* when ours is "
        "higher, *below* when ours is lower. One-seed cells have no spread: they are counted "
        "apart and classified by the absolute tolerance alone.",
        "",
    ]
    if cells.empty:
        return "\n".join([*lines, "No cell of this table has a paper value.", ""])
    lines += ["| metric | one seed | cells | within | above | below |", "|---|---|---|---|---|---|"]
    for r in counts.itertuples(index=False):
        lines.append(
            f"| {METRIC_NAMES.get(r.metric, r.metric)} | {r.one_seed} | {r.cells} | {r.within} | "
            f"{r.above} | {r.below} |"
        )
    return "\n".join([*lines, ""])


def write_scorecard(
    table_csv: str | os.PathLike[str],
    spec: dict[str, Any],
    out_png: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str],
    settings: dict[str, Any] | None = None,
    experiment: str = "",
) -> pd.DataFrame:
    """Read one experiment's summary table and write its scorecard figure, CSV and Markdown."""
    settings = {**DEFAULTS, **(settings or {})}
    summary = pd.read_csv(table_csv)
    cells = classify(summary, settings["tolerance_sd"], settings["tolerance_abs"])
    counts = summary_counts(cells)
    title = spec.get("regenerates") or spec.get("description") or experiment
    draw(cells, out_png, f"{experiment}: {title}", spec.get("labels"), settings)
    columns = [
        "dataset", "input", "method", "metric", "mean", "std", "n_seeds", "paper", "diff",
        "tolerance", "status", "one_seed",
    ]  # fmt: skip
    with atomic_open(out_csv) as fh:
        cells[columns].to_csv(fh, index=False, float_format="%.6g")
    with atomic_open(out_md) as fh:
        fh.write(to_markdown(cells, counts, experiment, settings))
    return cells


def scorecard_overview(
    cell_files: dict[str, str | os.PathLike[str]], experiments: dict[str, dict[str, Any]]
) -> pd.DataFrame:
    """One row per experiment: its paper table and the counts of its scorecard's cells.

    ``cell_files`` maps the experiments that have a scorecard to its CSV;
    ``experiments`` maps every experiment of the report to ``regenerates``,
    ``category`` and ``paper`` (the file of the paper's values, or None).
    """
    rows = []
    for name, exp in experiments.items():
        row: dict[str, Any] = {
            "experiment": name,
            "category": exp.get("category") or "",
            "regenerates": exp.get("regenerates") or "",
        }
        if name in cell_files:
            cells = pd.read_csv(cell_files[name])
            multi = cells[~cells["one_seed"].astype(bool)]
            row.update(
                cells=len(cells),
                one_seed=int(cells["one_seed"].astype(bool).sum()),
                **{s: int((multi["status"] == s).sum()) for s in STATUSES},
                **{
                    f"{s}_one_seed": int(
                        (cells["status"] == s).sum() - (multi["status"] == s).sum()
                    )
                    for s in STATUSES
                },
            )
            row["scorecard"] = f"results/report/scorecard_{name}.png"
        else:
            row["scorecard"] = (
                "no paper values in this table"
                if not exp.get("paper")
                else "not made (see what was not run)"
            )
        rows.append(row)
    columns = [
        "experiment", "category", "regenerates", "cells", "within", "above", "below",
        "one_seed", "within_one_seed", "above_one_seed", "below_one_seed", "scorecard",
    ]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns)


def write_scorecard_overview(
    cell_files: dict[str, str | os.PathLike[str]],
    experiments: dict[str, dict[str, Any]],
    settings: dict[str, Any],
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str],
    out_html: str | os.PathLike[str],
) -> pd.DataFrame:
    from mmclust.report.html import page

    settings = {**DEFAULTS, **(settings or {})}
    df = scorecard_overview(cell_files, experiments)
    tol = f"max({settings['tolerance_sd']:g} × seed std, {settings['tolerance_abs']:g})"
    scored = df[df["cells"].notna()]
    if scored.empty:
        summary = (
            "No table of this configuration has the paper's values (offline stand-ins run "
            "on other data than the papers'): there is nothing to score. The paper-scale "
            "configuration (config/config.yaml) names a file of the paper's values for each "
            "table it regenerates."
        )
    else:
        n = int(scored["cells"].sum())
        within, above, below = (int(scored[s].sum()) for s in STATUSES)
        ones = int(scored["one_seed"].sum())
        summary = (
            f"{len(scored)} table(s) with the paper's values, {n} cells: with two seeds or "
            f"more, {within} within ours ± {tol}, {above} above (ours higher), {below} below "
            f"(ours lower); {ones} cell(s) from one seed (no spread; counted apart: "
            f"{int(scored['within_one_seed'].sum())} within the absolute tolerance, "
            f"{int(scored['above_one_seed'].sum())} above, "
            f"{int(scored['below_one_seed'].sum())} below). "
            "Each table's figure is in its paper's category, under Scorecards."
        )
    md = "# Scorecards\n\n" + summary + "\n"
    with atomic_open(out_csv) as fh:
        df.to_csv(fh, index=False)
    with atomic_open(out_md) as fh:
        fh.write(md)
    with atomic_open(out_html) as fh:
        fh.write(page("Scorecards: ours against the papers", summary, [("Tables", df)]))
    return df
