"""Reading configuration files: Snakemake's key-by-key merge and ``include:``.

A configuration file may start with ``include: [file, ...]`` (paths relative to
the including file): the included files are read first, in order, and the
including file's own keys are merged over them, key by key (mappings are
merged recursively, every other value is replaced) — the same rule Snakemake
applies to several ``--configfile`` files.  An overlay (a demo, a cluster's
settings, one changed hyperparameter) is therefore a short file that includes
the full configuration and sets only what differs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mmclust.plan.errors import ConfigError

INCLUDE = "include"
#: where a resolved configuration records the files it was read from
SOURCES = "_configfiles"


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` merged into a copy of ``base`` key by key (mappings recursively)."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a configuration file must be a mapping of keys")
    return data


def resolve_includes(
    config: Mapping[str, Any], base_dir: str | Path, _seen: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """``config`` with its ``include:`` files merged under it (recursively).

    ``base_dir`` is the folder relative to which the included paths are read
    (the including file's folder).  The result has no ``include`` key; the
    files read are listed under ``_configfiles``.
    """
    includes = config.get(INCLUDE) or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(p, str) for p in includes):
        raise ConfigError(f"{INCLUDE}: a list of configuration files, got {includes!r}")
    merged: dict[str, Any] = {}
    sources: list[str] = []
    for rel in includes:
        path = (Path(base_dir) / rel).resolve()
        if path in _seen:
            chain = " -> ".join(str(p) for p in (*_seen, path))
            raise ConfigError(f"{INCLUDE}: files include each other in a cycle: {chain}")
        sub = resolve_includes(read_yaml(path), path.parent, (*_seen, path))
        sources += [*sub.pop(SOURCES, []), str(path)]
        merged = merge(merged, sub)
    own = {k: v for k, v in config.items() if k not in (INCLUDE, SOURCES)}
    merged = merge(merged, own)
    merged[SOURCES] = [*sources, *config.get(SOURCES, [])]
    return merged


def load_files(paths: Iterable[str | Path]) -> dict[str, Any]:
    """Several configuration files merged in order, each with its includes resolved.

    This is what the workflow sees for ``--configfile a.yaml b.yaml``.
    """
    out: dict[str, Any] = {}
    sources: list[str] = []
    for p in paths:
        path = Path(p).resolve()
        cfg = resolve_includes(read_yaml(path), path.parent, (path,))
        sources += [*cfg.pop(SOURCES), str(path)]
        out = merge(out, cfg)
    out[SOURCES] = sources
    return out
