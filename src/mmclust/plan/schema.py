"""Validation of a whole configuration against ``workflow/schemas/config.schema.yaml``.

Defaults written in the schema are filled in (as Snakemake's ``validate``
does), and an error names the offending key by its dotted path, says what is
wrong and, for an unknown key, lists the keys allowed there — never the whole
schema.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from mmclust.plan.errors import ConfigError

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
#: top-level keys that a user may try to set per method or in the pretraining settings
RUN_LEVEL = frozenset({"device", "precision", "train_threads"})


def key_path(parts: Iterable[Any]) -> str:
    """``["runs", 0, "input"]`` -> ``runs[0].input``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


@functools.cache
def _validator(path: Path = SCHEMA) -> Any:
    import jsonschema
    from jsonschema import validators

    schema = yaml.safe_load(path.read_text())
    base = jsonschema.Draft202012Validator
    properties = base.VALIDATORS["properties"]

    def set_defaults(validator: Any, props: dict, instance: Any, schema: dict) -> Any:
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from properties(validator, props, instance, schema)

    return validators.extend(base, {"properties": set_defaults})(schema)


def _message(error: Any) -> str:
    where = key_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(allowed) if allowed else "none"
        name = unknown[0] if unknown else "?"
        prefix = f"{where}.{name}" if error.absolute_path else name
        hint = ""
        if name in RUN_LEVEL:  # allowed at the top level, so met here below it
            hint = f" ({name} is a top-level key: it applies to every training job)"
        return f"{prefix}: unknown key; the keys allowed here are: {keys}{hint}"
    if error.validator == "oneOf":
        alternatives = [
            sorted(s.get("required", [])) for s in error.schema["oneOf"] if s.get("required")
        ]
        names = " | ".join(",".join(a) for a in alternatives)
        got = sorted(error.instance) if isinstance(error.instance, dict) else error.instance
        return (
            f"{where}: give exactly one of {names} (and only the keys that go with it); "
            f"got keys {got}"
        )
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{where}: {error.instance!r} is not one of: {allowed}"
    if error.validator == "pattern":
        what = error.schema.get("description", f"the form {error.validator_value}")
        return f"{where}: {error.instance!r} is not allowed here; expected {what}"
    return f"{where}: {error.message}"


def validate(config: dict[str, Any], path: Path = SCHEMA) -> dict[str, Any]:
    """A copy of ``config`` with the schema's defaults filled in; ConfigError if invalid."""
    from jsonschema.exceptions import best_match

    out = copy.deepcopy(config)
    error = best_match(_validator(path).iter_errors(out))
    if error is not None:
        raise ConfigError(_message(error))
    return out


@functools.cache
def _sub_validator(ref: str, path: Path = SCHEMA) -> Any:
    import jsonschema

    defs = yaml.safe_load(path.read_text())["$defs"]
    return jsonschema.Draft202012Validator({"$defs": defs, "$ref": f"#/$defs/{ref}"})


def validate_part(value: Any, ref: str, where: str, path: Path = SCHEMA) -> None:
    """Validate one generated entry (a sweep point's method) against ``$defs/<ref>``."""
    from jsonschema.exceptions import best_match

    error = best_match(_sub_validator(ref, path).iter_errors(value))
    if error is not None:
        sub = key_path(error.absolute_path)
        raise ConfigError(f"{where}{'.' + sub if error.absolute_path else ''}: {error.message}")
