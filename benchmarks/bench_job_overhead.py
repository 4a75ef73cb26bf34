"""Per-job overhead of the workflow: start-up of the commands that do not train, and a
whole workflow run's jobs, wall time and scoring cost.

Run on demand (it is not a test), from the repository root::

    python benchmarks/bench_job_overhead.py                         # tiny config, 2 cores
    python benchmarks/bench_job_overhead.py --configfile config/demo.yaml
    python benchmarks/bench_job_overhead.py --startup-only          # no workflow run
    python benchmarks/bench_job_overhead.py --rescore DIR --repeat 2 # scoring only, again

It measures the current tree, so running it before and after a change gives
comparable numbers:

Start-up
    For each command that does not train, the median wall time of
    ``python -m mmclust CMD --help`` over ``--repeat`` fresh interpreters
    (the interpreter, the CLI module and what its parser imports), the median
    of ``python -c pass`` beside it (the bare interpreter) and of
    ``python -c "import torch"`` (what a job pays when it imports torch).
Workflow
    ``snakemake --cores N --configfile CONFIG`` in a fresh folder (``--workdir``,
    a temporary one by default): the wall time, the number of jobs per rule
    (one benchmark file per job) and, for the scoring rules
    (``evaluate_run``, one job per run, or ``score_runs``, one job per
    data set, input and method), the number of jobs and the sum of their
    benchmark files' ``s`` column.  Then one scoring command is run again by
    hand with ``-X importtime``: its wall time, the number of modules it
    imports and whether torch, torchvision or gensim is among them.
Rescoring (``--rescore DIR``)
    In a folder where the configuration has run (by this tree or another), only
    the scoring jobs again (``--forcerun`` and ``--until`` the scoring rules),
    ``--repeat`` times: wall time, jobs and the sum of their ``s``.  Run from two
    trees alternately on the same folder, it compares their scoring at the same
    load (the other figures above move with the machine's load).

The machine may be shared: the load average before and after is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: commands that never train (their --help start-up is measured)
LIGHT_COMMANDS = [
    "evaluate",
    "score",
    "aggregate",
    "table",
    "tsne",
    "sweep",
    "claims",
    "plan",
    "prepare",
    "download",
]
SCORING_RULES = ("evaluate_run", "score_runs")
HEAVY = ("torch", "torchvision", "gensim")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _wall(cmd: list[str], repeat: int) -> float | None:
    """Median wall seconds of ``cmd`` over ``repeat`` runs; None if it fails."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, env=_env(), cwd=REPO, check=False)
        times.append(time.perf_counter() - t0)
        if res.returncode != 0:
            return None
    return statistics.median(times)


def startup(repeat: int) -> dict[str, float | None]:
    py = sys.executable
    out: dict[str, float | None] = {
        "python -c pass": _wall([py, "-c", "pass"], repeat),
        "python -c 'import torch'": _wall([py, "-c", "import torch"], repeat),
    }
    for cmd in LIGHT_COMMANDS:
        out[f"mmclust {cmd} --help"] = _wall([py, "-m", "mmclust", cmd, "--help"], repeat)
    return out


def run_workflow(config: Path, workdir: Path, cores: int, *extra: str) -> tuple[float, int]:
    """Wall seconds and exit code of the workflow on ``config`` in ``workdir`` (``extra``:
    further Snakemake arguments)."""
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--cores", str(cores), "--configfile", str(config),
        *extra,
    ]  # fmt: skip
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO, check=False)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
    return wall, res.returncode


def job_benchmarks(workdir: Path) -> dict[str, list[float]]:
    """Seconds (the ``s`` column) of every job's benchmark file, per rule."""
    per_rule: dict[str, list[float]] = defaultdict(list)
    root = workdir / "benchmarks" / "rules"
    for tsv in sorted(root.rglob("*.tsv")):
        rule = tsv.relative_to(root).parts[0]
        with tsv.open() as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        per_rule[rule].extend(float(r["s"]) for r in rows[:1])
    return dict(per_rule)


def scoring_command(workdir: Path) -> list[str] | None:
    """A scoring command of the current CLI for one run of ``workdir``."""
    metrics = sorted((workdir / "results" / "runs").rglob("metrics.json"))
    if not metrics:
        return None
    run = metrics[0].parent
    dataset = run.relative_to(workdir / "results" / "runs").parts[0]
    folder = str(workdir / "resources" / "datasets" / dataset)
    out = str(Path(tempfile.mkdtemp()) / "metrics.json")
    probe = subprocess.run(
        [sys.executable, "-m", "mmclust", "score", "--help"], capture_output=True, env=_env()
    )
    if probe.returncode == 0:  # the batched scoring command
        return [
            "score", "--dataset", folder, "--labels", str(run / "labels.npy"),
            "--fit-info", str(run / "fit.json"), "--runs", json.dumps([{"seed": 0}]),
            "--out", out,
        ]  # fmt: skip
    return [
        "evaluate", "--dataset", folder, "--labels", str(run / "labels.npy"),
        "--fit-info", str(run / "fit.json"), "--out", out,
    ]  # fmt: skip


def real_command(args: list[str]) -> dict[str, object]:
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mmclust", *args],
        capture_output=True, text=True, env=_env(), cwd=REPO, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in res.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ][1:]
    return {
        "command": args[0],
        "returncode": res.returncode,
        "wall_s": round(wall, 2),
        "modules": len(modules),
        "heavy_imported": sorted({m for m in modules if m.split(".")[0] in HEAVY and "." not in m}),
    }


def scoring_rules(config: Path) -> list[str]:
    """The current tree's scoring rules for ``config`` (one per seed list, or evaluate_run)."""
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--configfile", str(config), "--list-rules"],
        capture_output=True, text=True, env=_env(), cwd=REPO, check=True,
    )  # fmt: skip
    names = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    return [r for r in names if r == "evaluate_run" or r.startswith("score_runs")]


def rescore(config: Path, workdir: Path, cores: int) -> dict[str, object]:
    """Run the scoring jobs of ``workdir`` again: wall time, jobs, sum of their ``s``."""
    rules = scoring_rules(config)
    root = workdir / "benchmarks" / "rules"
    for rule in SCORING_RULES:
        for tsv in (root / rule).rglob("*.tsv"):
            tsv.unlink()
    wall, code = run_workflow(config, workdir, cores, "--forcerun", *rules, "--until", *rules)
    jobs = {r: v for r, v in job_benchmarks(workdir).items() if r in SCORING_RULES}
    return {
        "rules": rules,
        "returncode": code,
        "wall_s": round(wall, 1),
        "jobs": sum(len(v) for v in jobs.values()),
        "s_sum": round(sum(sum(v) for v in jobs.values()), 2),
        "load": os.getloadavg(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configfile", default=str(REPO / "tests" / "data" / "tiny.yaml"))
    p.add_argument("--workdir", help="run the workflow here (default: a temporary folder)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5, help="interpreters per start-up figure")
    p.add_argument("--startup-only", action="store_true", help="skip the workflow run")
    p.add_argument("--rescore", help="a folder where the config has run: its scoring only")
    p.add_argument("--json", help="also write the numbers here")
    a = p.parse_args()

    if a.rescore:
        runs = []
        for _ in range(a.repeat):
            runs.append(rescore(Path(a.configfile).resolve(), Path(a.rescore), a.cores))
            print(f"rescoring {a.rescore}: {runs[-1]}")
        if a.json:
            Path(a.json).write_text(json.dumps(runs, indent=2))
        return

    result: dict[str, object] = {"load_before": os.getloadavg()}
    print(f"load average before: {os.getloadavg()}")
    s = startup(a.repeat)
    result["startup_s"] = s
    print(f"\nstart-up, median of {a.repeat} (s):")
    for name, value in s.items():
        print(f"  {name:<34} {'n/a (no such command)' if value is None else f'{value:.3f}'}")

    if not a.startup_only:
        workdir = Path(a.workdir or tempfile.mkdtemp(prefix="mmclust-overhead-"))
        workdir.mkdir(parents=True, exist_ok=True)
        wall, code = run_workflow(Path(a.configfile).resolve(), workdir, a.cores)
        jobs = job_benchmarks(workdir)
        scoring = {r: v for r, v in jobs.items() if r in SCORING_RULES}
        result.update(
            workflow=str(a.configfile),
            workdir=str(workdir),
            returncode=code,
            wall_s=round(wall, 1),
            jobs_total=sum(len(v) for v in jobs.values()),
            jobs_per_rule={r: len(v) for r, v in sorted(jobs.items())},
            scoring_jobs=sum(len(v) for v in scoring.values()),
            scoring_s_sum=round(sum(sum(v) for v in scoring.values()), 2),
            all_jobs_s_sum=round(sum(sum(v) for v in jobs.values()), 1),
        )
        print(f"\nworkflow {a.configfile} with --cores {a.cores} in {workdir}")
        print(f"  exit code {code}, wall {wall:.1f} s")
        print(f"  jobs: {result['jobs_total']}")
        for rule, n in result["jobs_per_rule"].items():  # type: ignore[union-attr]
            print(f"    {rule:<22} {n:>5}  sum s {sum(jobs[rule]):8.2f}")
        print(
            f"  scoring ({', '.join(scoring) or 'none'}): {result['scoring_jobs']} jobs, "
            f"sum of s {result['scoring_s_sum']:.2f}; every job's s summed: "
            f"{result['all_jobs_s_sum']:.1f}"
        )
        cmd = scoring_command(workdir)
        if cmd is not None:
            real = real_command(cmd)
            result["real_scoring_command"] = real
            print(f"  one scoring command by hand: {real}")

    result["load_after"] = os.getloadavg()
    print(f"\nload average after: {os.getloadavg()}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
