"""The conda environments agree with pyproject.toml (no conda is needed to check)."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from tests.helpers import REPO

ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
# conda-forge package name -> PyPI distribution name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "pyyaml": "pyyaml"}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)=(?P<version>[0-9][0-9A-Za-z.]*)$")


def project_requirements() -> dict[str, Requirement]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in meta["dependencies"]]
    return {r.name.lower(): r for r in reqs}


def conda_pins(path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    assert env["channels"][0] == "conda-forge", path.name
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            # packages that exist only on PyPI, pinned with ==
            assert set(dep) == {"pip"}, f"{path.name}: unexpected section {dep}"
            for req in dep["pip"]:
                name, sep, version = req.partition("==")
                assert sep, f"{path.name}: pip package '{req}' is not pinned with =="
                pins[name.lower()] = version
            continue
        m = PIN.match(dep)
        assert m, f"{path.name}: '{dep}' is not pinned as name=version"
        pins[m["name"].lower()] = m["version"]
    return pins


def test_there_are_env_files() -> None:
    assert {p.stem for p in ENV_FILES} >= {"data", "torch", "report"}


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_every_package_compatibly_with_pyproject(path) -> None:
    pins = conda_pins(path)
    assert "python" in pins
    reqs = project_requirements()
    for name, version in pins.items():
        if name == "pip":
            continue
        if name == "python":
            meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
            assert (
                Version(version + ".0") in Requirement(f"python{meta['requires-python']}").specifier
            )
            continue
        pypi = CONDA_TO_PYPI.get(name, name)
        assert pypi in reqs, f"{path.name}: {name} is not a dependency in pyproject.toml"
        assert reqs[pypi].specifier.contains(version), (
            f"{path.name}: {name}={version} is outside pyproject's {reqs[pypi]}"
        )


def test_same_package_same_version_across_envs() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for path in ENV_FILES:
        for name, version in conda_pins(path).items():
            if name in seen:
                assert seen[name][0] == version, (
                    f"{name}: {version} in {path.name} but {seen[name][0]} in {seen[name][1]}"
                )
            seen[name] = (version, path.name)


def test_every_runtime_dependency_is_in_some_env() -> None:
    covered = {CONDA_TO_PYPI.get(n, n) for p in ENV_FILES for n in conda_pins(p)}
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
