"""Command line of the report's sections: ``python -m mmclust.report SECTION ...``.

The workflow's report rules (``workflow/rules/report.smk``) call these; each
reads the files a rule lists and writes its outputs atomically.  Settings are
one JSON object, as for ``python -m mmclust``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmclust.report", description=__doc__)
    sub = parser.add_subparsers(dest="section", required=True)

    s = sub.add_parser("scorecard", help="ours against the paper's values, one table")
    s.add_argument("--table", required=True, help="the experiment's summary table (CSV)")
    s.add_argument("--experiment", required=True)
    s.add_argument("--spec", type=_json, default={}, help="the experiment (JSON)")
    s.add_argument("--settings", type=_json, default={}, help="plots.scorecard (JSON)")
    s.add_argument("--png", required=True)
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)

    s = sub.add_parser("scorecards", help="the scorecards of every table, summed up")
    s.add_argument("--cells", nargs="*", default=[], help="the scorecards' cell tables (CSV)")
    s.add_argument("--spec", type=_json, required=True, help="experiments and settings (JSON)")
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.add_argument("--html", required=True)

    s = sub.add_parser("datasheet", help="obtained against published counts, provenance")
    s.add_argument("--entries", type=_json, required=True, help="list of data-set entries")
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.add_argument("--html")

    s = sub.add_parser("health", help="each run's stopping rule and signals")
    s.add_argument("--fit", nargs="*", default=[], help="the runs' fit.json files")
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.add_argument("--html")

    s = sub.add_parser("not-run", help="the configuration's tables that did not run, and why")
    s.add_argument("--spec", type=_json, required=True)
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.add_argument("--html")

    s = sub.add_parser("claims", help="the Claims section")
    s.add_argument("--tables", nargs="*", default=[], help="summary tables with paper values")
    s.add_argument("--experiments", nargs="*", default=[], help="their experiments, in order")
    s.add_argument("--labels", type=_json, default={}, help="experiment -> method labels")
    s.add_argument("--claims", nargs="*", default=[], help="the claims table's files, if any")
    s.add_argument("--csv", required=True)
    s.add_argument("--html", required=True)

    a = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.section == "scorecard":
        from mmclust.report.scorecard import write_scorecard

        write_scorecard(a.table, a.spec, a.png, a.csv, a.md, a.settings, a.experiment)
    elif a.section == "scorecards":
        from pathlib import Path

        from mmclust.report.scorecard import write_scorecard_overview

        files = {Path(f).stem.removeprefix("scorecard_"): f for f in a.cells}
        write_scorecard_overview(
            files, a.spec["experiments"], a.spec.get("settings", {}), a.csv, a.md, a.html
        )
    elif a.section == "datasheet":
        from mmclust.report.datasheet import write_datasheet

        write_datasheet(a.entries, a.csv, a.md, a.html)
    elif a.section == "health":
        from mmclust.report.health import write_health

        write_health(a.fit, a.csv, a.md, a.html)
    elif a.section == "not-run":
        from mmclust.report.notrun import write_not_run

        write_not_run(a.spec, a.csv, a.md, a.html)
    elif a.section == "claims":
        from mmclust.report.claims_section import write_claims_section

        write_claims_section(a.tables, a.experiments, a.labels, a.csv, a.html, a.claims)
    return 0


if __name__ == "__main__":
    sys.exit(main())
