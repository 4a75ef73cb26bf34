"""Shared pieces of the tests: running Snakemake, loading a benchmark script."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny.yaml"


#: seconds a workflow run of the tests may take (raise it on a slow or shared machine)
TIMEOUT = int(os.environ.get("MMCLUST_TEST_TIMEOUT", "900"))


def snakemake(
    workdir: Path, *args: str, timeout: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run this repository's workflow with ``workdir`` as working directory.

    The interpreter running the tests is put first on PATH so that the jobs'
    ``python`` is the one that has the package's dependencies.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        *args,
    ]  # fmt: skip
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout or TIMEOUT,
        check=False,
    )


_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(workdir: Path, *args: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run plans."""
    res = snakemake(workdir, "--dry-run", *args)
    if res.returncode != 0:
        raise AssertionError(res.stdout + res.stderr)
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in (res.stdout + "\n" + res.stderr).splitlines():
        m = _RULE.match(line)
        if m:
            jobs.append((m.group(1), {}))
            continue
        w = _WILDCARDS.match(line)
        if w and jobs:
            jobs[-1][1].update(kv.split("=", 1) for kv in w.group(1).split(", "))
    return jobs


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` (a script, not a package) imported as module ``name``.

    It is registered in ``sys.modules`` first, as an import would, so that its
    dataclasses can resolve their annotations.
    """
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
