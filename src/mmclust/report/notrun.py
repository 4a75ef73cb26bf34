"""What was not run: the configuration's tables that are missing, and why.

A partial run (data that need a manual download not yet in place, a setting
that needs a GPU the machine lacks) should still give an honest report.  This
module decides, from the plan and the file system, which experiments of the
configuration are **blocked** and what would unblock them:

* a data set whose raw files include hand-placed ones (a ``manual`` part in
  the registry, :mod:`mmclust.data.registry`) that are not in their folder
  and whose raw folder is not complete: "manual download pending", with the
  folder, the expected files and the registry's instructions;
* ``device: cuda...`` in the configuration on a machine without CUDA: "needs
  a GPU", with the fix (``--config device=auto`` runs on the CPU).

Files that download by themselves do not block anything (they are fetched by
the run).  :func:`blocked` is what the workflow's ``ready`` target and the
report's "not run" sheet both use; :func:`write_not_run` then looks, when the
report job runs, at which tables exist, and writes one row per experiment:
``ran``, ``blocked`` (with the reason and the command or folder that would
make it run), ``not run yet`` (nothing blocks it: the command that makes it)
or ``not selected`` (left out by ``targets:``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where it is used: the workflow imports this module
    import pandas as pd

COLUMNS = ["experiment", "category", "regenerates", "status", "reason", "to_run"]


def gpu_available() -> bool:
    """A CUDA device is visible (the NVIDIA driver is loaded), without importing torch."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def manual_missing(
    raw: str, raw_dir: str | os.PathLike[str], registry: str | os.PathLike[str] | None = None
) -> list[str]:
    """The hand-placed files of registry entry ``raw`` that are not in ``raw_dir``.

    Empty when the entry has no manual part or its raw folder is complete.
    ``registry`` is the registry file the downloads use (the config's
    ``downloads.registry``; the packaged one when None), so that this check and
    the download job's agree on what a complete folder is.
    """
    from mmclust.data.download import is_complete
    from mmclust.data.registry import get_source

    spec = get_source(raw, registry)
    if spec.manual is None:
        return []
    raw_dir = Path(raw_dir)
    if is_complete(spec, raw_dir):
        return []
    missing = []
    for e in spec.manual.expect:
        if e.path is not None:
            if not (raw_dir / e.path).exists():
                missing.append(e.label())
        elif e.glob is not None:
            if sum(1 for p in raw_dir.glob(e.glob) if p.is_file()) < e.min_count:
                missing.append(e.label())
    return missing


def blocked(plan: Any, root: str | os.PathLike[str] = ".") -> dict[str, dict[str, str]]:
    """``{experiment: {"reason": ..., "to_run": ...}}`` for every blocked experiment.

    ``root`` is the workflow's working directory (where ``resources/`` is).
    """
    from mmclust.data.registry import get_source
    from mmclust.plan import paths

    root = Path(root)
    raw_missing: dict[str, list[str]] = {}
    out: dict[str, dict[str, str]] = {}
    # the registry the download jobs read (config downloads.registry), the packaged one if unset
    registry = (plan.config.get("downloads") or {}).get("registry")
    if registry and not Path(registry).is_absolute():
        registry = root / registry
    device = str(plan.config.get("device", "auto"))
    no_gpu = device.startswith("cuda") and not gpu_available()
    for name in plan.experiments:
        reasons, fixes = [], []
        raws = sorted(
            {
                plan.datasets[ds]["raw"]
                for d in plan.experiment_datasets(name)
                for ds in plan.lineage(d)
                if plan.datasets[ds].get("raw")
            }
        )
        for raw in raws:
            if raw not in raw_missing:
                folder = root / Path(paths.raw_marker(raw)).parent
                raw_missing[raw] = manual_missing(raw, folder, registry)
            if raw_missing[raw]:
                spec = get_source(raw, registry)
                folder = Path(paths.raw_marker(raw)).parent
                files = ", ".join(raw_missing[raw])
                reasons.append(f"manual download pending: {spec.title} ({raw}) lacks {files}")
                fixes.append(
                    f"put {files} into {folder}/ (source: {spec.homepage or spec.title}; "
                    f"`python -m mmclust download {raw} {folder}` prints the instructions)"
                )
        if no_gpu:
            reasons.append(f"needs a GPU (device: {device}) and this machine has none")
            fixes.append("run on a machine with CUDA, or add `--config device=auto` (CPU)")
        if reasons:
            out[name] = {"reason": "; ".join(reasons), "to_run": "; ".join(fixes)}
    return out


def not_run_table(
    experiments: dict[str, dict[str, Any]],
    selected: list[str],
    blocked_: dict[str, dict[str, str]],
    configfiles: list[str],
    root: str | os.PathLike[str] = ".",
) -> pd.DataFrame:
    """One row per experiment of the configuration with its status (see the module)."""
    import pandas as pd

    root = Path(root)
    conf = " ".join(f"--configfile {c}" for c in configfiles)
    rows = []
    for name, exp in experiments.items():
        table = f"results/tables/{name}.csv"
        row = {
            "experiment": name,
            "category": exp.get("category", ""),
            "regenerates": exp.get("regenerates") or "",
            "reason": "",
            "to_run": "",
        }
        if (root / table).is_file():
            row["status"] = "ran"
        elif name in blocked_:
            row.update(status="blocked", **blocked_[name])
            row["to_run"] += f"; then `snakemake --cores all {conf} {table}`".replace("  ", " ")
        elif name not in selected:
            row.update(
                status="not selected",
                reason="left out by the configuration's targets:",
                to_run=f"`snakemake --cores all {conf} {table}`".replace("  ", " "),
            )
        else:
            row.update(
                status="not run yet",
                reason="nothing blocks it; its jobs have not run (or failed: see logs/)",
                to_run=f"`snakemake --cores all {conf} {table}`".replace("  ", " "),
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def to_markdown(df: pd.DataFrame) -> str:
    from mmclust.report.html import markdown_row

    missing = df[df["status"] != "ran"]
    lines = [
        "# What was not run",
        "",
        f"{int((df['status'] == 'ran').sum())} of {len(df)} tables of the configuration ran; "
        f"{int((df['status'] == 'blocked').sum())} are blocked (manual download pending or a "
        "GPU needed).",
        "",
    ]
    if missing.empty:
        return "\n".join([*lines, "Every table of the configuration ran.", ""])
    lines += [
        "| experiment | regenerates | status | why | to make it run |",
        "|---|---|---|---|---|",
    ]
    for r in missing.itertuples(index=False):
        cells = [r.experiment, r.regenerates, r.status, r.reason, r.to_run]
        lines.append(markdown_row(cells))
    return "\n".join(lines) + "\n"


def write_not_run(
    spec: dict[str, Any],
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str],
    out_html: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] = ".",
) -> pd.DataFrame:
    """``spec``: ``experiments`` (name -> category, regenerates), ``selected``,
    ``blocked`` (from :func:`blocked`) and ``configfiles``."""
    df = not_run_table(
        spec["experiments"], spec["selected"], spec["blocked"], spec.get("configfiles", []), root
    )
    from mmclust.report.html import write_section_files

    write_section_files(
        df,
        to_markdown(df),
        out_csv,
        out_md,
        out_html,
        "What was not run",
        [("Tables not made", df[df["status"] != "ran"]), ("Every table", df)],
    )
    return df
