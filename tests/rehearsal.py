"""Rehearse the full reproduction against a local server: ``python -m tests.rehearsal WORKDIR``.

1. builds small raw files in the real formats of every downloaded data set of
   the default configuration (:mod:`tests.fixtures_rehearsal`) under
   ``WORKDIR/fixtures``;
2. serves ``fixtures/mirror`` on 127.0.0.1 (:mod:`tests.fixtures_http`) and
   writes ``WORKDIR/downloads.yaml`` (``mirror``, ``mirror_only``, the
   rehearsal's ``registry``);
3. runs the downloads (``snakemake --until download_raw``): the data sets whose
   licence forbids automatic download stop with the message that names the
   folder to fill; the files are copied exactly there (the folder is read from
   the message), as a user would do;
4. runs the default configuration's paper experiments at tiny scale
   (``config/rehearsal.yaml``) through Snakemake to their tables and figures.

``--slice`` runs a representative part instead of everything (every data set
downloaded and prepared, and one experiment per paper on a few of them: the
CI test, ``tests/test_rehearsal.py``).  The exit code is Snakemake's; the
wall time of each stage is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from mmclust.plan import load_files
from tests.fixtures_http import FileServer
from tests.fixtures_rehearsal import build_rehearsal_data

REPO = Path(__file__).resolve().parents[1]
OVERLAY = REPO / "config" / "rehearsal.yaml"
#: registry entries that need hand-placed files in the default configuration
MANUAL_SOURCES = ("nus-wide", "nyu-depth-v2", "pascal-sentences")

#: the CI slice: every data set prepared, one experiment per paper (few runs each)
SLICE: dict = {
    "targets": ["jecl-table", "dm2c-table3", "jule-table1", "jule-robustness-eta"],
    "experiments": {
        "jecl-table": {
            "runs": [
                {"dataset": "coco-cross", "input": "concat", "methods": ["kmeans", "dec"]},
                {"dataset": "coco-cross", "input": "pair", "methods": ["jecl"]},
            ],
            "tsne": [{"dataset": "coco-cross", "input": "pair", "method": "jecl"}],
            # the claims whose two sides the slice still runs
            "claims": {"ids": ["jecl-beats-concat-km", "jecl-beats-concat-dec"]},
        },
        "dm2c-table3": {
            "runs": [
                {"dataset": "wikipedia-mixed", "input": "pooled", "methods": ["kmeans"]},
                {"dataset": "wikipedia-mixed", "input": "pair", "methods": ["dm2c-wikipedia"]},
            ],
            "claims": {"ids": ["dm2c-wikipedia-beats-baselines"]},
        },
        "jule-table1": {
            "runs": [
                {
                    "dataset": "mnist-test",
                    "input": "pixels",
                    "methods": ["kmeans", "jule-rc", "ac-gdl"],
                },
                {"dataset": "umist", "input": "pixels", "methods": ["ac-gdl"]},
            ],
            "claims": {"ids": ["jule-rc-beats-ac-gdl"]},
        },
        "jule-robustness-eta": {
            "runs": [{"dataset": "mnist-test", "input": "pixels", "methods": ["jule-rc"]}],
        },
    },
}


def snakemake(workdir: Path, configs: list[Path], *args: str, log: Path) -> int:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", *map(str, configs),
        *args,
    ]  # fmt: skip
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        return subprocess.run(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO
        ).returncode


def manual_folder(log_text: str) -> Path | None:
    """The folder a manual-download message names (the line after 'Put the files into')."""
    m = re.search(r"Put the files into this folder[^\n]*\n\s+(\S[^\n]*)", log_text)
    return Path(m.group(1).strip()) if m else None


def place_manual_files(workdir: Path, fixtures: Path, out=print) -> list[str]:
    """Copy each manual source's files into the folder its stop message names."""
    placed = []
    for source in MANUAL_SOURCES:
        log = workdir / "logs" / "download_raw" / f"{source}.log"
        text = log.read_text() if log.is_file() else ""
        folder = manual_folder(text)
        if folder is None:
            out(f"{source}: no manual-download message in {log}")
            continue
        expected = (workdir / "resources" / "raw" / source).resolve()
        if folder.resolve() != expected:
            raise AssertionError(f"{source}: the message names {folder}, not {expected}")
        shutil.copytree(fixtures / "manual" / source, folder, dirs_exist_ok=True)
        placed.append(source)
        out(f"{source}: files placed in {folder}, as its message says")
    return placed


def run(workdir: Path, *, cores: int | str = 2, slice_: bool = False, out=print) -> int:
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    fixtures = workdir / "fixtures"
    log = workdir / "rehearsal.log"
    t0 = time.monotonic()
    counts = build_rehearsal_data(fixtures)
    out(f"fixtures: {len(counts)} data sets in {fixtures} ({time.monotonic() - t0:.0f} s)")
    with FileServer() as server:
        base = server.add_folder(fixtures / "mirror")
        downloads = {
            "downloads": {
                "mirror": base,
                "mirror_only": True,
                "registry": str(fixtures / "registry.yaml"),
            }
        }
        configs = [OVERLAY, workdir / "downloads.yaml"]
        (workdir / "downloads.yaml").write_text(yaml.safe_dump(downloads))
        if slice_:
            (workdir / "slice.yaml").write_text(yaml.safe_dump(SLICE, sort_keys=False))
            configs.append(workdir / "slice.yaml")
        common = ["--cores", str(cores), "--keep-going"]
        targets = ["all"]
        if slice_:  # every data set prepared, whatever the slice's experiments use
            datasets = load_files([REPO / "config" / "config.yaml"])["datasets"]
            targets += [
                f"resources/datasets/{name}/data.npz"
                for name, d in datasets.items()
                if d.get("raw")
                or (d.get("mixed_from") in datasets and datasets[d["mixed_from"]].get("raw"))
            ]
        t1 = time.monotonic()
        code = snakemake(workdir, configs, *common, *targets, "--until", "download_raw", log=log)
        placed = place_manual_files(workdir, fixtures, out=out)
        took = time.monotonic() - t1
        out(f"downloads: exit {code}, manual sources placed {placed} ({took:.0f} s)")
        t2 = time.monotonic()
        code = snakemake(workdir, configs, *common, *targets, log=log)
        out(f"pipeline: exit {code} ({time.monotonic() - t2:.0f} s); log {log}")
    if code == 0:
        code = check_not_run_report(workdir, out=out)
    out(f"rehearsal wall time {time.monotonic() - t0:.0f} s")
    return code


def check_not_run_report(workdir: Path, out=print) -> int:
    """0 if the report's "what was not run" sheet says every selected table ran (the
    rehearsal places every manual download, so nothing may be left blocked), else 1."""
    import csv

    with open(workdir / "results" / "report" / "not_run.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] not in ("ran", "not selected")]
    for r in rows:
        out(f"report: {r['experiment']} is {r['status']!r}: {r['reason']}")
    return 1 if rows else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rehearsal", description=__doc__)
    parser.add_argument("workdir", type=Path, help="working folder (results, resources, logs)")
    parser.add_argument("--cores", default="2", help="Snakemake's --cores (a number or 'all')")
    parser.add_argument("--slice", action="store_true", help="the CI slice only")
    a = parser.parse_args(argv)
    return run(a.workdir, cores=a.cores, slice_=a.slice)


if __name__ == "__main__":
    raise SystemExit(main())
