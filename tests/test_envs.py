"""The conda environments can solve and agree with pyproject.toml (no conda is needed to check).

Every conda package an environment names must be given a version range (or pin) that
admits at least one version conda-forge has built for linux-64 and python 3.11, as
recorded from the conda-forge feedstocks in envs/feedstock-versions.csv (package,
feedstock repository, the versions checked, the date, the feedstock commit read).  The
versions a range admits must also satisfy pyproject.toml's requirement.
"""

from __future__ import annotations

import csv
import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.helpers import REPO

ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
TABLE = REPO / "envs" / "feedstock-versions.csv"
# conda-forge package name -> PyPI distribution name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib"}
SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?P<spec>[=<>!].*)?$")


def conda_specifier(spec: str) -> SpecifierSet:
    """A conda match spec's version part as a PEP 440 specifier set.

    ``=2.4`` (conda's fuzzy match) means 2.4.*; ``==2.4.6`` is exact; ``>=a,<b`` as is.
    """
    if spec.startswith("=") and not spec.startswith("=="):
        return SpecifierSet(f"=={spec[1:]}.*")
    return SpecifierSet(spec)


def env_specs(path) -> tuple[dict[str, str], dict[str, str]]:
    """(conda package -> version spec, pip package -> pinned version) of one env file."""
    env = yaml.safe_load(path.read_text())
    assert env["channels"][0] == "conda-forge", path.name
    assert "nodefaults" in env["channels"], path.name
    conda, pip = {}, {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            # packages that exist only on PyPI, pinned with ==
            assert set(dep) == {"pip"}, f"{path.name}: unexpected section {dep}"
            for req in dep["pip"]:
                name, sep, version = req.partition("==")
                assert sep, f"{path.name}: pip package '{req}' is not pinned with =="
                pip[name.lower()] = version
            continue
        m = SPEC.match(dep.replace(" ", ""))
        assert m and m["spec"], f"{path.name}: '{dep}' has no version range or pin"
        conda[m["name"].lower()] = m["spec"]
    return conda, pip


def feedstock_table() -> dict[str, dict[str, str]]:
    with open(TABLE, newline="") as fh:
        return {row["package"]: row for row in csv.DictReader(fh)}


def checked_versions(package: str) -> list[Version]:
    row = feedstock_table().get(package)
    assert row is not None, f"{package} is not in {TABLE.name}: check its feedstock and add it"
    return [Version(v) for v in row["versions_checked"].split()]


def project_requirements() -> dict[str, Requirement]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in meta["dependencies"]]
    return {r.name.lower(): r for r in reqs}


def test_there_are_env_files() -> None:
    assert {p.stem for p in ENV_FILES} >= {"data", "torch", "report", "features"}


def test_feedstock_table_is_well_formed() -> None:
    with open(TABLE, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == [
        "package", "feedstock", "versions_checked", "date_checked", "source_commit",
        "feedstock_commit_date", "notes",
    ]  # fmt: skip
    for row in rows:
        assert re.fullmatch(r"conda-forge/[a-z0-9-]+-feedstock", row["feedstock"]), row
        assert re.fullmatch(r"[0-9a-f]{40}", row["source_commit"]), row
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date_checked"]), row
        assert row["feedstock_commit_date"] <= row["date_checked"], row
        versions = [Version(v) for v in row["versions_checked"].split()]
        assert versions == sorted(versions) and len(set(versions)) == len(versions), row


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_every_conda_spec_admits_a_built_version(path) -> None:
    conda, _ = env_specs(path)
    assert "python" in conda
    for name, spec in conda.items():
        admitted = [v for v in checked_versions(name) if conda_specifier(spec).contains(v)]
        assert admitted, (
            f"{path.name}: {name}{spec} admits none of the versions conda-forge builds for "
            f"linux-64 and python 3.11 ({TABLE.name}: {checked_versions(name)})"
        )
        if spec.startswith("=="):  # an exact pin must be a checked version itself
            assert Version(spec[2:]) in checked_versions(name), f"{path.name}: {name}{spec}"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_ranges_are_inside_pyproject(path) -> None:
    conda, pip = env_specs(path)
    reqs = project_requirements()
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for name, spec in conda.items():
        admitted = [v for v in checked_versions(name) if conda_specifier(spec).contains(v)]
        if name == "python":
            requires = SpecifierSet(meta["requires-python"])
            assert all(requires.contains(v) for v in admitted), f"{path.name}: python{spec}"
            assert all((v.major, v.minor) == (3, 11) for v in admitted), (
                f"{path.name}: the environments are checked for python 3.11"
            )
            continue
        if name == "pip":
            continue
        pypi = CONDA_TO_PYPI.get(name, name)
        assert pypi in reqs, f"{path.name}: {name} is not a dependency in pyproject.toml"
        outside = [str(v) for v in admitted if not reqs[pypi].specifier.contains(v)]
        assert not outside, f"{path.name}: {name}{spec} admits {outside}, outside {reqs[pypi]}"
    for name, version in pip.items():
        assert name in reqs and reqs[name].specifier.contains(version), f"{path.name}: {name}"


def test_torchvision_range_matches_the_pytorch_range() -> None:
    """conda-forge builds torchvision against one pytorch minor version (run_exports)."""
    pairs = {(0, 26): (2, 11), (0, 27): (2, 12), (0, 28): (2, 13)}  # the feedstocks' builds
    for path in ENV_FILES:
        conda, _ = env_specs(path)
        if "torchvision" not in conda:
            continue
        tv = {
            (v.major, v.minor)
            for v in checked_versions("torchvision")
            if conda_specifier(conda["torchvision"]).contains(v)
        }
        torch = {
            (v.major, v.minor)
            for v in checked_versions("pytorch")
            if conda_specifier(conda["pytorch"]).contains(v)
        }
        assert {pairs[s] for s in tv} <= torch, f"{path.name}: torchvision {tv} needs {torch}"


def test_same_package_same_spec_across_envs() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for path in ENV_FILES:
        conda, pip = env_specs(path)
        for name, spec in {**conda, **pip}.items():
            if name in seen:
                assert seen[name][0] == spec, (
                    f"{name}: {spec} in {path.name} but {seen[name][0]} in {seen[name][1]}"
                )
            seen[name] = (spec, path.name)


def test_every_runtime_dependency_is_in_some_env() -> None:
    covered = set()
    for path in ENV_FILES:
        conda, pip = env_specs(path)
        covered |= {CONDA_TO_PYPI.get(n, n) for n in conda} | set(pip)
    # the workflow engine itself runs outside the rule environments
    missing = set(project_requirements()) - covered - {"snakemake", "jsonschema"}
    assert not missing, f"dependencies with no conda environment: {sorted(missing)}"


def test_every_rule_names_a_conda_env() -> None:
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        rules = re.findall(r"^rule (\w+):", text, flags=re.M)
        for rule in rules:
            body = text.split(f"rule {rule}:", 1)[1].split("\nrule ", 1)[0]
            assert "conda:" in body, f"{smk.name}: rule {rule} has no conda env"
            assert "log:" in body and "benchmark:" in body, f"{smk.name}: rule {rule}"
