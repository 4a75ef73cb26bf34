"""Tidy run tables and the mean +- std summary tables (CSV, Markdown, LaTeX).

A summary row is one (dataset, input, method) of an experiment; each metric
column is the mean and standard deviation (ddof=1; 0 for a single seed) over
the seeds that ran.  When the experiment names a file of the paper's numbers
(columns ``dataset, method, metric, value``, and ``input`` when one method
runs on several inputs), the paper's value and our difference (ours - paper)
stand beside ours.

Displayed cells: "mean ± std", or the mean alone for a row of one seed.  The
Seeds column says "n of N" when a row has fewer seeds than the experiment's
N.  Runs of iterative methods carry ``converged`` (from the estimator's
``convergence_`` record, copied into ``metrics.json``): the CSV counts the
converged seeds per row (empty for methods without a record), and a row in
which a seed did not converge gets a marker (†) on its method and a footnote
naming the count and the method's convergence rule.  A row whose runs report an
approximation gets a note naming it: one the estimator chose (MultiViewLRSSC's
landmarks) or a reduced numeric precision (``numeric_precision``: tf32 or bf16,
the config key ``precision`` as ``fit.json`` records it; fp32 runs, the default,
get none).
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
    out = out.merge(_converged_counts(runs), on=KEYS, how="left")
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
    columns = [*KEYS, "metric", "mean", "std", "n_seeds", "converged", "paper", "diff"]
    return out[columns].reset_index(drop=True)


def _converged_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, input, method): how many seeds converged (NA without any record)."""
    if "converged" not in runs.columns:
        keys = runs[KEYS].drop_duplicates()
        return keys.assign(converged=pd.array([pd.NA] * len(keys), dtype="Int64"))
    flags = runs[[*KEYS, "converged"]].copy()
    has = flags["converged"].notna()
    flags["yes"] = flags["converged"].where(has, False).astype(bool) & has
    g = flags.assign(has=has).groupby(KEYS, sort=False)
    counts = g.agg(n=("has", "sum"), yes=("yes", "sum")).reset_index()
    counts["converged"] = pd.array(
        [int(y) if n else pd.NA for n, y in zip(counts["n"], counts["yes"], strict=True)],
        dtype="Int64",
    )
    return counts[[*KEYS, "converged"]]


def _first_per_row(runs: pd.DataFrame, column: str) -> dict[tuple[str, str, str], str]:
    """Per (dataset, input, method): the first non-missing ``column`` value of its runs."""
    if column not in runs.columns:
        return {}
    rows = runs.dropna(subset=[column]).groupby(KEYS, sort=False)
    return {tuple(k): str(g[column].iloc[0]) for k, g in rows}  # type: ignore[misc]


def convergence_rules(runs: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """The convergence rule each (dataset, input, method) reports (from its runs)."""
    return _first_per_row(runs, "convergence_rule")


#: the note under a table for rows whose runs computed in another precision than fp32
PRECISION_NOTES = {
    "tf32": "trained with TensorFloat-32 matmuls and convolutions on CUDA (precision: tf32)",
    "bf16": "trained under bfloat16 autocast, losses and outputs in float32 (precision: bf16)",
}


def reduced_precision(runs: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """Per (dataset, input, method) whose runs computed in reduced precision (their
    ``numeric_precision`` column, empty for fp32): what they used, with the count of seeds
    when not all did."""
    if "numeric_precision" not in runs.columns:
        return {}
    out: dict[tuple[str, str, str], str] = {}
    for key, g in runs.groupby(KEYS, sort=False):
        used = g["numeric_precision"].dropna().astype(str)
        if used.empty:
            continue
        texts = [PRECISION_NOTES.get(p, f"precision: {p}") for p in dict.fromkeys(used)]
        text = "; ".join(texts)
        if len(used) < len(g):
            text += f" in {len(used)} of {len(g)} seeds"
        out[tuple(key)] = text + ", not bit-identical to fp32"  # type: ignore[index]
    return out


def approximations(runs: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """Per (dataset, input, method): the approximations its runs report, if any: one the
    estimator chose (e.g. MultiViewLRSSC's landmarks above ``exact_max_n`` samples) and
    a reduced numeric precision (:func:`reduced_precision`), joined by "; "."""
    out = _first_per_row(runs, "approximation")
    for key, text in reduced_precision(runs).items():
        out[key] = f"{out[key]}; {text}" if key in out else text
    return out


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


NOT_CONVERGED = "†"


def _fmt(mean: float, std: float, n_seeds: int = 2, digits: int = 3) -> str:
    """The cell text: mean ± std, or the mean alone for one seed (its std says nothing)."""
    if n_seeds == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _seeds_expected(spec: dict[str, Any]) -> int | None:
    seeds = spec.get("seeds")
    return len(seeds) if seeds else None


def _not_converged(g: pd.DataFrame) -> tuple[int, int] | None:
    """(seeds that did not converge, seeds) of one summary row, None when all converged
    or the method keeps no convergence record."""
    converged = g["converged"].iloc[0] if "converged" in g else pd.NA
    n = int(g["n_seeds"].min())
    if pd.isna(converged) or int(converged) >= n:
        return None
    return n - int(converged), n


def wide_table(
    summary: pd.DataFrame, spec: dict[str, Any], dataset_names: dict[str, str] | None = None
) -> pd.DataFrame:
    """Display table: one row per (dataset, input, method), formatted strings.

    ``dataset_names`` maps a data set to its display name (for example one that
    says its captions are synthetic).  A method in whose row a seed did not
    converge is marked with † (see :func:`table_notes`); Seeds reads "n of N"
    when the row has fewer seeds than the experiment's N.
    """
    metrics = spec.get("metrics", ["acc", "nmi", "ari"])
    labels = spec.get("labels", {})
    dataset_names = dataset_names or {}
    expected = _seeds_expected(spec)
    has_paper = summary["paper"].notna().any()
    rows = []
    for (d, i, m), g in summary.groupby(KEYS, sort=False):
        method = labels.get(m, m)
        if _not_converged(g) is not None:
            method += f" {NOT_CONVERGED}"
        row: dict[str, Any] = {"Data set": dataset_names.get(d, d), "Input": i, "Method": method}
        by = g.set_index("metric")
        for metric in metrics:
            name = METRIC_NAMES.get(metric, metric)
            r = by.loc[metric]
            row[name] = _fmt(r["mean"], r["std"], int(r["n_seeds"]))
            if has_paper:
                row[f"{name} paper"] = "—" if pd.isna(r["paper"]) else f"{r['paper']:.3f}"
                row[f"{name} Δ"] = "—" if pd.isna(r["diff"]) else f"{r['diff']:+.3f}"
        n = int(g["n_seeds"].min())
        row["Seeds"] = f"{n} of {expected}" if expected is not None and n < expected else n
        rows.append(row)
    return pd.DataFrame(rows)


def table_notes(
    summary: pd.DataFrame,
    spec: dict[str, Any],
    rules: dict[tuple[str, str, str], str] | None = None,
    dataset_names: dict[str, str] | None = None,
    approximated: dict[tuple[str, str, str], str] | None = None,
) -> list[str]:
    """The lines under a table: what the cells are, then one line per row marked †
    (how many seeds did not converge, by which rule), one for rows with fewer seeds and
    one per row whose runs report an approximation (:func:`approximations`), and
    one naming the settings that rows take from ``method_overrides`` (``spec["overrides"]``,
    :meth:`mmclust.plan.Plan.table_overrides`)."""
    labels = spec.get("labels", {})
    rules = rules or {}
    dataset_names = dataset_names or {}
    expected = _seeds_expected(spec)
    notes = ["Mean ± standard deviation over seeds (the value alone: one seed)."]

    def row_name(d: str, i: str, m: str) -> str:
        return f"{labels.get(m, m)} on {dataset_names.get(d, d)} / {i}"

    short = []
    for (d, i, m), g in summary.groupby(KEYS, sort=False):
        where = row_name(d, i, m)
        missed = _not_converged(g)
        if missed is not None:
            rule = rules.get((d, i, m))
            notes.append(
                f"{NOT_CONVERGED} {where}: {missed[0]} of {missed[1]} "
                f"seed{'s' if missed[1] > 1 else ''} did not converge"
                + (f" (rule: {rule})." if rule else ".")
            )
        n = int(g["n_seeds"].min())
        if expected is not None and n < expected:
            short.append(f"{where} ({n})")
    if short:
        notes.append(f"Fewer seeds than the experiment's {expected}: " + "; ".join(short) + ".")
    for (d, i, m), text in (approximated or {}).items():
        notes.append(f"{row_name(d, i, m)}: {text}.")
    rows = []
    for o in spec.get("overrides", []):
        method, dataset = labels.get(o["method"], o["method"]), o["dataset"]
        values = ", ".join(f"{k} = {v}" for k, v in o["settings"].items())
        rows.append(f"{method} on {dataset_names.get(dataset, dataset)}: {values}")
    if rows:
        notes.append("Per-data-set settings (method_overrides): " + "; ".join(rows) + ".")
    return notes


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
    return (
        s.replace("±", r"$\pm$")
        .replace("Δ", r"$\Delta$")
        .replace("—", "--")
        .replace(NOT_CONVERGED, r"\dag{}")
    )


def to_latex(df: pd.DataFrame, caption: str, notes: Sequence[str] = ()) -> str:
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
    out += [r"\bottomrule", r"\end{tabular}"]
    if notes:
        out.append(r"\par\smallskip{\footnotesize")
        out += [_tex_escape(note) + r"\par" for note in notes]
        out.append("}")
    out += [r"\end{table}", ""]
    return "\n".join(out)


def dataset_display_names(meta_files: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """Display names from the data sets' ``meta.json`` (``display_name`` when set).

    A derived data set inherits its base's display name; the base's name in it is
    replaced by the derived data set's own ("base (synthetic captions)" becomes
    "derived (synthetic captions)").
    """
    names = {}
    for path in meta_files:
        with open(path) as fh:
            meta = json.load(fh)
        display = meta.get("display_name")
        if not display:
            continue
        base = (meta.get("derived") or {}).get("from")
        if base and display.startswith(base):
            display = meta["name"] + display[len(base) :]
        names[meta["name"]] = display
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
    names = dataset_display_names(meta_files)
    wide = wide_table(summary, spec, names)
    notes = table_notes(summary, spec, convergence_rules(runs), names, approximations(runs))
    caption = spec.get("description", "")
    if spec.get("regenerates"):
        caption += f" Regenerates: {spec['regenerates']}."
    with atomic_open(out_csv) as fh:
        summary.to_csv(fh, index=False, float_format="%.6g")
    with atomic_open(out_md) as fh:
        if caption:
            fh.write(caption.strip() + "\n\n")
        fh.write(to_markdown(wide))
        fh.write("".join(f"\n{note}\n" for note in notes))
    with atomic_open(out_tex) as fh:
        fh.write(to_latex(wide, caption.strip() or "Clustering results", notes))
