"""The workflow on a real single-node SLURM cluster, through profiles/slurm.

The module fixture starts the cluster with tests/slurm/start-cluster.sh (it
installs SLURM and munge with apt-get if needed, so it needs root) and stops
it afterwards. Without root, or when the packages cannot be installed, the
tests are skipped; with CI=true they fail instead. A cluster already running
from the same folder (MMCLUST_SLURM_DIR, default /tmp/mmclust-slurm) is
reused and left running.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import types
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests import helpers
from tests.helpers import REPO, TINY

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCRIPTS = REPO / "tests" / "slurm"
PROFILE = REPO / "profiles" / "slurm"
CLUSTER_DIR = Path(os.environ.get("MMCLUST_SLURM_DIR", "/tmp/mmclust-slurm"))
IN_CI = os.environ.get("CI") == "true"
KEYS = ["dataset", "input", "method", "seed"]
# what the test cluster cannot honour: no accounts, one partition, no GPU
DROPPED_RESOURCES = {"slurm_account", "qos", "gpu", "gres", "gpu_model", "constraint"}
RUN_TIMEOUT = 600  # seconds; the tiny run takes about 3 minutes on 2 cores
FAIL_TIMEOUT = 240
KILL_AFTER = 60  # seconds between SIGINT and SIGKILL when a run times out


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true, so the SLURM tests must run: {reason}")
    pytest.skip(reason)


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[dict[str, int]]:
    """A running single-node cluster with partition "debug"; its node's CPUs and memory."""
    if os.geteuid() != 0:
        _unavailable("the SLURM tests need root (they install SLURM and start its daemons)")
    already_up = all(_alive(CLUSTER_DIR / f"{d}.pid") for d in ("slurmctld", "slurmd"))
    try:
        res = subprocess.run(
            [str(SCRIPTS / "start-cluster.sh"), str(CLUSTER_DIR)],
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as err:
        subprocess.run([str(SCRIPTS / "stop-cluster.sh"), str(CLUSTER_DIR)], check=False)
        pytest.fail(f"start-cluster.sh did not finish in {err.timeout} s")
    output = res.stdout + res.stderr
    if res.returncode in (2, 3):  # not root / packages not installable
        _unavailable(f"no SLURM cluster: {output.strip()}")
    if res.returncode != 0:
        subprocess.run([str(SCRIPTS / "stop-cluster.sh"), str(CLUSTER_DIR)], check=False)
        pytest.fail(f"start-cluster.sh failed (exit {res.returncode}):\n{output}")
    node = subprocess.run(
        ["sinfo", "-h", "-N", "-p", "debug", "-o", "%c %m"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    try:
        yield {"cpus": int(node[0]), "mem_mb": int(node[1])}
    finally:
        if not already_up:
            subprocess.run(
                [str(SCRIPTS / "stop-cluster.sh"), str(CLUSTER_DIR)],
                capture_output=True, timeout=120, check=False,
            )  # fmt: skip


def memory_cap(cluster: dict[str, int]) -> int:
    """MB a job may ask for on the test node, so that jobs run side by side."""
    return max(200, min(1000, cluster["mem_mb"] // max(1, cluster["cpus"])))


def workflow_rules() -> set[str]:
    """Every rule of the workflow."""
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    return {m for f in files for m in re.findall(r"^rule (\w+):", f.read_text(), re.MULTILINE)}


def slurm_args(cluster: dict[str, int]) -> list[str]:
    """--workflow-profile profiles/slurm plus what this test cluster needs.

    The profile's resources are kept except partition (-> "debug"), account,
    QoS and GPU (dropped: the test cluster has none) and memory: every job
    asks for at most memory_cap() MB, whatever the profile or the rule says,
    so that it fits the node. Command-line options replace a profile key as a
    whole, so the profile's resource blocks are passed again with those changes.
    """
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    mem_cap = memory_cap(cluster)

    def for_test_cluster(resources: dict) -> dict:
        out = {k: v for k, v in resources.items() if k not in DROPPED_RESOURCES}
        if "slurm_partition" in out:
            out["slurm_partition"] = "debug"
        if "mem_mb" in out:
            out["mem_mb"] = min(int(out["mem_mb"]), mem_cap)
        return out

    defaults = for_test_cluster(profile.get("default-resources") or {})
    defaults["slurm_partition"] = "debug"
    per_rule = {
        rule: for_test_cluster(resources)
        for rule, resources in (profile.get("set-resources") or {}).items()
    }
    for rule in workflow_rules() - local_rules():
        per_rule.setdefault(rule, {}).setdefault("mem_mb", mem_cap)
    args = [
        "--workflow-profile", str(PROFILE),
        "--default-resources", *(f"{k}={v}" for k, v in defaults.items()),
        # no accounting on the test cluster: sacct cannot report job states
        "--slurm-status-command", "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks", "2",
    ]  # fmt: skip
    args += ["--set-resources"]
    args += [f"{rule}:{k}={v}" for rule, res in sorted(per_rule.items()) for k, v in res.items()]
    return args


def _run_interrupting(cmd, *, timeout=None, check=False, capture_output=False, **kwargs):
    """subprocess.run with the semantics of `timeout -s INT -k KILL_AFTER`.

    On timeout Snakemake gets SIGINT, on which it cancels its SLURM jobs; only
    if it is still there KILL_AFTER seconds later is it killed.
    """
    if capture_output:
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with subprocess.Popen(cmd, **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=KILL_AFTER)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    out, err = proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:  # a grandchild still holds the pipes
                    out = err = None
            raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err) from None
    res = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if check:
        res.check_returncode()
    return res


@pytest.fixture
def snakemake(monkeypatch: pytest.MonkeyPatch):
    """tests.helpers.snakemake, interrupting (not killing) a run that times out."""
    shim = types.SimpleNamespace(**vars(subprocess))
    shim.run = _run_interrupting
    monkeypatch.setattr(helpers, "subprocess", shim)

    def run(workdir: Path, *args: str, timeout: int) -> subprocess.CompletedProcess[str]:
        try:
            return helpers.snakemake(workdir, *args, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            pytest.fail(
                f"snakemake still running after {timeout} s (interrupted):\n"
                + str(err.stdout or "")[-3000:]
                + str(err.stderr or "")[-5000:]
            )

    return run


def local_rules() -> set[str]:
    """The rules the Snakefile declares `localrules:`: they run beside Snakemake, not on SLURM."""
    text = (REPO / "Snakefile").read_text()
    block = re.search(r"^localrules:(.*(?:\n[ \t]+.*)*)", text, re.MULTILINE)
    assert block, "no localrules in the Snakefile"
    return set(re.findall(r"\w+", block[1]))


def is_local(rule: str, local_only: set[str]) -> bool:
    """A rule of the Snakefile's `localrules:`, or a scoring rule (workflow/rules/evaluate.smk
    makes one per seed list, score_runs_seeds_..., each marked `localrule: True`)."""
    return rule in local_only or rule.startswith("score_runs_")


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table Snakemake prints at the start of a run."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


def runs_table(work: Path) -> pd.DataFrame:
    runs = pd.read_csv(work / "results/tables/tiny_runs.csv").drop(columns="fit_seconds")
    return runs.sort_values(KEYS).reset_index(drop=True)


def test_tiny_on_slurm_equals_local_run(
    slurm_cluster: dict[str, int], snakemake, tmp_path: Path
) -> None:
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    on_slurm.mkdir()
    local.mkdir()
    # the shared-baselines experiment of the tiny configuration (every kind of job)
    targets = [f"results/tables/tiny.{ext}" for ext in ("csv", "md", "tex")]
    targets.append("results/figures/tsne_digits_pixels_dec_seed0.png")
    res = snakemake(
        on_slurm, *targets, "--configfile", str(TINY), *slurm_args(slurm_cluster),
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    # the local reference: the metrics are all it needs
    ref = snakemake(
        local, "results/tables/tiny_runs.csv", "--cores", "2", "--configfile", str(TINY),
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert ref.returncode == 0, (ref.stdout + ref.stderr)[-4000:]

    # every non-local job went through sbatch, the local rules did not
    local_only = local_rules()
    counts = job_counts(out)
    remote = sum(n for rule, n in counts.items() if not is_local(rule, local_only))
    submitted = re.findall(r"has been submitted with SLURM jobid \d+ \(log: (\S+)\)", out)
    assert remote > 0 and len(submitted) == remote, (counts, submitted)
    assert not [log for log in submitted if any(f"/rule_{r}/" in log for r in local_only)]
    assert not [log for log in submitted if "/rule_score_runs_" in log]

    for ext in ("csv", "md", "tex"):
        assert (on_slurm / f"results/tables/tiny.{ext}").stat().st_size > 0
    assert (on_slurm / "results/figures/tsne_digits_pixels_dec_seed0.png").stat().st_size > 0
    assert list((on_slurm / "logs/cluster").rglob("*.log"))
    pd.testing.assert_frame_equal(runs_table(on_slurm), runs_table(local), check_exact=True)


def test_failing_job_on_slurm_fails_the_run(
    slurm_cluster: dict[str, int], snakemake, tmp_path: Path
) -> None:
    # a file that is there but is not HDF5: only the job that reads it can tell
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "data4torch.h5").write_text("not an HDF5 file\n")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["datasets"]["broken"] = {"source": "jule_h5", "options": {"raw_dir": str(raw)}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    work = tmp_path / "work"
    work.mkdir()
    # --retries 0: the profile's one retry would only double the wait
    res = snakemake(
        work, "resources/datasets/broken/data.npz", "--configfile", str(bad),
        *slurm_args(slurm_cluster), "--retries", "0", timeout=FAIL_TIMEOUT,
    )  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-4000:]
    assert "has been submitted with SLURM jobid" in out, out[-4000:]
    assert "Error in rule prepare_dataset:" in out, out[-4000:]
    assert "logs/prepare_dataset/broken.log" in out, out[-4000:]
    assert ".snakemake/slurm_logs/rule_prepare_dataset/broken/" in out, out[-4000:]
    log = work / "logs/prepare_dataset/broken.log"
    assert "not a readable HDF5 file" in log.read_text(), log.read_text()[-2000:]
    assert not (work / "resources/datasets/broken/data.npz").exists()
