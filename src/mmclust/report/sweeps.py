"""Sweep figures: a metric against the swept value, one line per method.

Each point of a sweep is an ordinary run (see the workflow's sweep
expansion); the experiment's ``points`` list maps a run's
(dataset, input, method) to its series and x value.  Lines are the mean over
seeds, bands ± one standard deviation (ddof=1; none with one seed).

The paper's default of the swept parameter is marked with a dashed vertical
line: the experiment's ``sweep: {default: ...}`` when given ("paper's
default"), otherwise the value the configuration gives the swept method
(``marker`` in the spec, labelled with where that value comes from).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from mmclust.io import atomic_path
from mmclust.report.tables import METRIC_NAMES

XLABELS = {"missing_rate": "fraction of samples without the view", "per_class": "points per class"}


def sweep_summary(
    runs: pd.DataFrame, points: list[dict[str, Any]], metrics: list[str]
) -> pd.DataFrame:
    """Mean, std and seed count per (series, x, metric)."""
    key = pd.DataFrame(points)
    missing = [m for m in metrics if m not in runs.columns]
    if missing:
        raise ValueError(f"metrics {missing} are not in the run files")
    merged = runs.merge(key, on=["dataset", "input", "method"], how="inner")
    if merged.empty:
        raise ValueError("no run of the sweep's points is in the runs table")
    long = merged.melt(id_vars=["series", "x", "seed"], value_vars=metrics, var_name="metric")
    g = long.groupby(["series", "x", "metric"], sort=False)["value"]
    out = g.agg(mean="mean", n_seeds="count").reset_index()
    out["std"] = g.std(ddof=1).fillna(0.0).to_numpy()
    return out.sort_values(["metric", "series", "x"]).reset_index(drop=True)


def default_marker(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The value to mark and its label: the paper's default, or the configured value."""
    sweep = spec["sweep"]
    if sweep.get("default") is not None:
        return {
            "value": float(sweep["default"]),
            "label": f"paper's default ({sweep['default']:g})",
        }
    marker = spec.get("marker")
    if marker and marker.get("value") is not None:
        return {"value": float(marker["value"]), "label": str(marker.get("label", "default"))}
    return None


def sweep_figure(
    runs_csv: str | os.PathLike[str],
    spec: dict[str, Any],
    out: str | os.PathLike[str],
    out_csv: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = spec.get("metrics", ["acc", "nmi"])
    sweep = spec["sweep"]
    summary = sweep_summary(pd.read_csv(runs_csv), spec["points"], metrics)
    series = list(dict.fromkeys(p["series"] for p in spec["points"]))
    marker = default_marker(spec)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for name in series:
            s = summary[(summary["metric"] == metric) & (summary["series"] == name)]
            s = s.sort_values("x")
            (line,) = ax.plot(s["x"], s["mean"], marker="o", ms=3, label=name)
            ax.fill_between(
                s["x"],
                s["mean"] - s["std"],
                s["mean"] + s["std"],
                color=line.get_color(),
                alpha=0.2,
            )
        ax.set_xlabel(sweep.get("label") or XLABELS.get(sweep["parameter"], sweep["parameter"]))
        ax.set_ylabel(METRIC_NAMES.get(metric, metric))
        ax.grid(alpha=0.3)
        if marker is not None:
            ax.axvline(marker["value"], color="0.3", ls="--", lw=1, label=marker["label"])
    axes[0][0].legend(fontsize=8)
    seeds = int(summary["n_seeds"].min())
    title = spec.get("title") or spec.get("description", "")
    fig.suptitle(f"{title[:90]} (mean ± std, {seeds} seeds)", fontsize=9)
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=spec.get("dpi", 120), format="png")
    plt.close(fig)
    if out_csv is not None:
        from mmclust.io import atomic_open

        with atomic_open(out_csv) as fh:
            summary.to_csv(fh, index=False, float_format="%.6g")
    return summary
