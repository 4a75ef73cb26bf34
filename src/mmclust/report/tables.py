"""Tidy run tables and the mean +- std summary tables (CSV, Markdown, LaTeX).

A summary row is one (dataset, input, method) of an experiment; each metric
column is the mean and standard deviation (ddof=1; 0 for a single seed) over
the seeds that ran.  When the experiment names a file of the paper's numbers
(columns ``dataset, method, metric, value``, and ``input`` when one method
runs on several inputs), the paper's value and our difference (ours - paper)
stand beside ours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mmclust.io import atomic_open

METRIC_NAMES = {
    "acc": "ACC",
    "nmi": "NMI",
    "nmi_geometric": "NMI (geo.)",
    "ari": "ARI",
    "purity": "Purity",
    "fscore": "F-score",
    "precision": "Precision",
    "recall": "Recall",
    # mixed-modal data sets only (mmclust.metrics.mixed_modal_scores)
    "acc_a": "ACC (a only)",
    "nmi_a": "NMI (a only)",
    "acc_b": "ACC (b only)",
    "nmi_b": "NMI (b only)",
    "acc_b_via_a": "ACC (b via a's matching)",
    "modality_split": "Modality split",
}
KEYS = ["dataset", "input", "method"]
# a paper-values file is keyed by these, plus "input" when it has that column
PAPER_KEYS = ["dataset", "method", "metric"]


def collect_runs(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """One row per run from its ``metrics.json``."""
    rows = []
    for p in paths:
        with open(p) as fh:
            rows.append(json.load(fh))
    df = pd.DataFrame(rows)
    missing = [k for k in [*KEYS, "seed"] if k not in df.columns]
    if missing:
        raise ValueError(f"metrics files lack the run identifiers {missing}")
    return df.sort_values([*KEYS, "seed"]).reset_index(drop=True)


def summarise(runs: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Mean, std and seed count per (dataset, input, method) and metric, in long form."""
    metrics = spec.get("metrics", ["acc", "nmi", "ari"])
    unknown = [m for m in metrics if m not in runs.columns]
    if unknown:
        raise ValueError(f"metrics {unknown} are not in the run files")
    long = runs.melt(id_vars=[*KEYS, "seed"], value_vars=metrics, var_name="metric")
    g = long.groupby([*KEYS, "metric"], sort=False)["value"]
    out = g.agg(mean="mean", n_seeds="count").reset_index()
    std = g.std(ddof=1).fillna(0.0).reset_index(name="std")
    out = out.merge(std, on=[*KEYS, "metric"])
    paper = _paper_values(spec.get("paper"))
    if paper is not None:
        on = ["dataset", "input", "method", "metric"] if "input" in paper else PAPER_KEYS
        # a method may be called differently in the paper file (paper_names)
        aliases = spec.get("paper_names", {})
        out["_paper_method"] = [aliases.get(m, m) for m in out["method"]]
        paper = paper.rename(columns={"method": "_paper_method"})
        on = ["_paper_method" if k == "method" else k for k in on]
        out = out.merge(paper, on=on, how="left").drop(columns="_paper_method")
        out["diff"] = out["mean"] - out["paper"]
    else:
        out["paper"] = np.nan
        out["diff"] = np.nan
    order = _row_order(spec)
    out["_row"] = [
        order.get((d, i, m), len(order)) for d, i, m in out[KEYS].itertuples(index=False)
    ]
    out["_metric"] = [metrics.index(m) for m in out["metric"]]
    out = out.sort_values(["_row", "_metric"]).drop(columns=["_row", "_metric"])
    return out[[*KEYS, "metric", "mean", "std", "n_seeds", "paper", "diff"]].reset_index(drop=True)


def _row_order(spec: dict[str, Any]) -> dict[tuple[str, str, str], int]:
    order: dict[tuple[str, str, str], int] = {}
    for run in spec.get("runs", []):
        for m in run["methods"]:
            order.setdefault((run["dataset"], run["input"], m), len(order))
    return order


def _paper_values(path: str | None) -> pd.DataFrame | None:
    if not path:
        return None
    df = pd.read_csv(path)
    need = {"dataset", "method", "metric", "value"}
    if not need <= set(df.columns):
        raise ValueError(f"{path}: a paper-values file needs the columns {sorted(need)}")
    keys = ["dataset", "input", "method", "metric"] if "input" in df.columns else PAPER_KEYS
    dup = df.duplicated(keys)
    if dup.any():
        raise ValueError(f"{path}: repeated rows for {df.loc[dup, keys].values.tolist()[:3]}")
    return df[[*keys, "value"]].rename(columns={"value": "paper"})


def _fmt(mean: float, std: float, digits: int = 3) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def wide_table(
    summary: pd.DataFrame, spec: dict[str, Any], dataset_names: dict[str, str] | None = None
) -> pd.DataFrame:
    """Display table: one row per (dataset, input, method), formatted strings.

    ``dataset_names`` maps a data set to its display name (for example one that
    says its captions are synthetic).  A cell from one seed shows the mean alone
    (no spread to show); a row with fewer seeds than the experiment asks for
    says "n of m" in its Seeds column.
    """
    metrics = spec.get("metrics", ["acc", "nmi", "ari"])
    labels = spec.get("labels", {})
    dataset_names = dataset_names or {}
    has_paper = summary["paper"].notna().any()
    rows = []
    for (d, i, m), g in summary.groupby(KEYS, sort=False):
        row: dict[str, Any] = {
            "Data set": dataset_names.get(d, d),
            "Input": i,
            "Method": labels.get(m, m),
        }
        by = g.set_index("metric")
        for metric in metrics:
            name = METRIC_NAMES.get(metric, metric)
            r = by.loc[metric]
            # one seed has no spread: the mean alone, no "± 0.000"
            row[name] = _fmt(r["mean"], r["std"]) if r["n_seeds"] > 1 else f"{r['mean']:.3f}"
            if has_paper:
                row[f"{name} paper"] = "—" if pd.isna(r["paper"]) else f"{r['paper']:.3f}"
                row[f"{name} Δ"] = "—" if pd.isna(r["diff"]) else f"{r['diff']:+.3f}"
        seeds, asked = int(g["n_seeds"].min()), len(spec.get("seeds", []))
        row["Seeds"] = f"{seeds} of {asked}" if seeds < asked else seeds
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _tex_escape(s: str) -> str:
    for a, b in [
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
    ]:
        s = s.replace(a, b)
    return s.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("—", "--")


def to_latex(df: pd.DataFrame, caption: str) -> str:
    cols = list(df.columns)
    out = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_tex_escape(caption)}}}",
        r"\begin{tabular}{" + "lll" + "r" * (len(cols) - 3) + "}",
        r"\toprule",
        " & ".join(_tex_escape(c) for c in cols) + r" \\",
        r"\midrule",
    ]
    for row in df.itertuples(index=False):
        out.append(" & ".join(_tex_escape(str(v)) for v in row) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(out)


def dataset_display_names(meta_files: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """Display names from the data sets' ``meta.json`` (``display_name`` when set)."""
    names = {}
    for path in meta_files:
        with open(path) as fh:
            meta = json.load(fh)
        if meta.get("display_name"):
            names[meta["name"]] = meta["display_name"]
    return names


def write_summary_tables(
    runs_csv: str,
    spec: dict[str, Any],
    out_csv: str,
    out_md: str,
    out_tex: str,
    meta_files: Sequence[str | os.PathLike[str]] = (),
) -> None:
    runs = pd.read_csv(runs_csv)
    summary = summarise(runs, spec)
    wide = wide_table(summary, spec, dataset_display_names(meta_files))
    caption = spec.get("description", "")
    if spec.get("regenerates"):
        caption += f" Regenerates: {spec['regenerates']}."
    with atomic_open(out_csv) as fh:
        summary.to_csv(fh, index=False, float_format="%.6g")
    with atomic_open(out_md) as fh:
        if caption:
            fh.write(caption.strip() + "\n\n")
        fh.write(to_markdown(wide))
        fh.write("\nMean ± standard deviation over seeds.\n")
    with atomic_open(out_tex) as fh:
        fh.write(to_latex(wide, caption.strip() or "Clustering results"))
