"""Sweep experiments as ordinary runs, one per point.

A point of ``missing_rate`` or ``per_class`` is a derived data set named
``<data set>.missing-<view>-<value>`` or ``<data set>.per-class-<value>``; a
point of a method parameter is a method named ``<method>.<parameter>-<value>``
(underscores written as dashes) with that one setting changed.  The
experiment's ``points`` list maps each run back to its series and x value
(read by the sweep figure).  Because a point's settings are its base
method's settings with one value changed, changing the base method reruns
every point except those of the swept parameter itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmclust.plan.errors import ConfigError

if TYPE_CHECKING:
    from mmclust.plan.core import Plan

DATA_PARAMETERS = ("missing_rate", "per_class")


def value_tag(value: float) -> str:
    """A sweep value as written in generated names (``0.5``, ``10``, ``1e-05``)."""
    return format(value, "g")


def point_dataset(base: str, sweep: dict[str, Any], value: float) -> tuple[str, dict[str, Any]]:
    """Name and config entry of the derived data set of one data-sweep point."""
    spec: dict[str, Any] = {"derived_from": base, "seed": sweep["seed"]}
    if sweep["parameter"] == "missing_rate":
        spec["missing"] = {"view": sweep["view"], "rate": float(value)}
        return f"{base}.missing-{sweep['view']}-{value_tag(value)}", spec
    spec["per_class"] = int(value)
    return f"{base}.per-class-{int(value)}", spec


def point_method(method: str, parameter: str, value: float) -> str:
    return f"{method}.{parameter.replace('_', '-')}-{value_tag(value)}"


def expand(plan: Plan) -> None:
    """Replace every sweep experiment's runs by its points' runs (in ``plan``)."""
    for name, exp in plan.experiments.items():
        sweep = exp.get("sweep")
        if sweep:
            exp["runs"], exp["points"] = _points(plan, name, exp, sweep)


def _points(
    plan: Plan, name: str, exp: dict[str, Any], sweep: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from mmclust.plan.checks import check_method

    param = sweep["parameter"]
    where = f"experiments.{name}.sweep"
    if param == "per_class" and any(v != int(v) or v < 1 for v in sweep["values"]):
        raise ConfigError(f"{where}.values: per_class takes whole numbers >= 1")
    for run in exp["runs"] if param == "missing_rate" else ():
        views = plan.dataset_views(run["dataset"])
        if views is not None and sweep["view"] not in views:
            raise ConfigError(
                f"{where}.view: data set {run['dataset']!r} has no view {sweep['view']!r}; "
                f"its views are {list(views)}"
            )
    inputs_of: dict[str, set[str]] = {}
    for run in exp["runs"]:
        for m in run["methods"]:
            inputs_of.setdefault(m, set()).add(run["input"])
    runs, points = [], []
    for run in exp["runs"]:
        for value in sweep["values"]:
            dataset, methods = run["dataset"], list(run["methods"])
            if param in DATA_PARAMETERS:
                dataset, spec = point_dataset(run["dataset"], sweep, value)
                plan.datasets[dataset] = spec
            else:
                methods = []
                for m in run["methods"]:
                    swept = {**plan.methods[m], param: value}
                    check_method(swept, f"{where} ({param} = {value} of method {m!r})")
                    point = point_method(m, param, value)
                    plan.methods[point] = swept
                    plan.swept[point] = (m, param)
                    label = exp["labels"].get(m, m)
                    exp["labels"][point] = f"{label} ({param} = {value:g})"
                    methods.append(point)
            runs.append({"dataset": dataset, "input": run["input"], "methods": methods})
            for m0, m in zip(run["methods"], methods, strict=True):
                series = exp["labels"].get(m0, m0)
                if len(inputs_of[m0]) > 1:
                    series += f" [{run['input']}]"
                points.append(
                    {"dataset": dataset, "input": run["input"], "method": m,
                     "series": series, "x": value}
                )  # fmt: skip
    return runs, points
