"""The papers' qualitative claims, checked against the experiments' summary tables.

``config/papers/claims.yaml`` lists every qualitative claim of the JECL, DM2C
and JULE papers ("JECL outperforms k-means on the concatenated views", "the
modality unification improves DM2C", "OURS-RC ≥ AC-GDL", ...): an id, the
paper, where it is stated, the statement, and a machine-checkable form.  An
experiment of the workflow's configuration lists the claims its table tests
(``claims: {ids: [...]}``); :func:`check_claims` evaluates each of them on
that experiment's summary table (``results/tables/<experiment>.csv``: mean,
std and seed count per data set, input, method and metric) and
:func:`write_claims_tables` writes ``results/tables/claims.{csv,md}``.

Form of a claim
    ``left`` ``relation`` ``right``, for each of ``metrics``.  A side is a
    *selector* ``{input: ..., method: ...}`` (either may be left out: any;
    shell-style patterns such as ``from-*`` allowed) or, for ``right``, a
    list of selectors.  Names are those of the paper-scale configuration
    (``config/config.yaml``) and of the paper files (``config/papers``).
    The left side must match one row (several: the best is taken); the right
    side is the *best* of its rows (highest mean; the left rows themselves
    excluded), so "A beats every B" is "A beats the best B".  With
    ``each: true`` every left row is compared on its own, and the right
    selector may name the left row's ``{input}`` or ``{method}`` ("every
    baseline gains on JULE's features": left ``{input: jule}``, right
    ``{input: pixels, method: "{method}"}``).  Every comparison is made per
    data set of the experiment.

Sweep experiments
    A claim checked on a sweep experiment is compared at every swept value
    (rows of the same data set and value), unless a selector names ``x``: a
    value, ``min`` or ``max`` of the sweep ("JECL at λ = 0.5 ≥ JECL at every
    other λ"; "JECL on the largest subsample > on the smallest").

Relations and the rule for ties and overlap
    ``">"`` holds when mean(left) - mean(right) > 0, ``">="`` when it is ≥ 0,
    ``"~"`` ("competitive") when it is ≥ -(std(left) + std(right)): not
    worse by more than the two seed spreads together.  Differences within
    1e-6 (the precision of the tables) are ties.  Separately, a comparison
    *exceeds the seed spread* when |difference| > std(left) + std(right)
    (the mean ± std intervals do not overlap); with a single seed on either
    side this is "n/a".  ``"none"`` marks a claim without a machine-checkable
    form (its ``why`` says why); it is listed, not checked.

Names in the experiments
    The offline experiments use their own data-set, input and method names:
    ``claims: {inputs: {resnet50: {mfeat: pix}}, methods: {jule-rc: jule}}``
    maps a claim's name to the experiment's (for every data set, or per data
    set).  Methods are also mapped through the experiment's ``paper_names``
    (config name -> paper name), read backwards.  ``claims: {with: [...]}``
    names other experiments whose tables the right side may also come from
    (JULE's Table 2 against Table 1).

Outcomes
    Each comparison holds, does not hold, or is "not run" (a side has no row:
    the experiment did not run it, or the configuration has no experiment
    listing the claim); a claim holds on an experiment's data set when every
    comparison that ran holds.  Where the table has the paper's values, the
    same comparison on them is shown beside ours ("paper's numbers").
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: metrics a claim may compare (all higher-is-better; columns of the summary tables)
METRICS: tuple[str, ...] = (
    "acc",
    "nmi",
    "nmi_geometric",
    "ari",
    "purity",
    "fscore",
    "precision",
    "recall",
    "acc_a",
    "nmi_a",
    "acc_b",
    "nmi_b",
    "acc_b_via_a",
)
RELATIONS: dict[str, str] = {
    ">": "better",
    ">=": "at least as good",
    "~": "competitive (not worse by more than the seed spread)",
    "none": "no machine-checkable form",
}
HOLDS, FAILS, NOT_RUN, UNCHECKABLE = "holds", "does not hold", "not run", "not machine-checkable"
TOL = 1e-6
RULE = (
    "'>' holds when mean(left) - mean(right) > 0, '>=' when >= 0, '~' when >= -(std(left) + "
    "std(right)); differences within 1e-6 are ties; a difference exceeds the seed spread when "
    "|difference| > std(left) + std(right) (n/a with one seed)"
)

_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "input": {"type": "string", "minLength": 1},
        "method": {"type": "string", "minLength": 1},
        "x": {"oneOf": [{"type": "number"}, {"enum": ["min", "max"]}]},
    },
}
#: JSON schema of config/papers/claims.yaml
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["claims"],
    "properties": {
        "claims": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "paper", "where", "statement", "relation"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
                    "paper": {"enum": ["JECL", "DM2C", "JULE"]},
                    "where": {"type": "string", "minLength": 1},
                    "statement": {"type": "string", "minLength": 1},
                    "relation": {"enum": list(RELATIONS)},
                    "metrics": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"enum": list(METRICS)},
                    },
                    "left": _SELECTOR,
                    "right": {
                        "oneOf": [_SELECTOR, {"type": "array", "minItems": 1, "items": _SELECTOR}]
                    },
                    "each": {"type": "boolean"},
                    "note": {"type": "string"},
                    "why": {"type": "string", "minLength": 1},
                },
            },
        }
    },
}


class ClaimsError(ValueError):
    """The claims file, or an experiment's claims entry, is wrong (the message says where)."""


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    where: str
    statement: str
    relation: str
    metrics: tuple[str, ...] = ()
    left: dict[str, Any] = field(default_factory=dict)
    right: tuple[dict[str, Any], ...] = ()
    each: bool = False
    note: str = ""
    why: str = ""

    @property
    def checkable(self) -> bool:
        return self.relation != "none"

    @property
    def names_x(self) -> bool:
        return any("x" in s for s in (self.left, *self.right))


# -- the claims file --------------------------------------------------------------------------


def parse_claims(data: Any, source: str = "claims") -> dict[str, Claim]:
    """Validated claims (id -> :class:`Claim`, in file order) from the loaded YAML."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = list(err.absolute_path)
        where = source
        if len(path) >= 2 and path[0] == "claims" and isinstance(path[1], int):
            item = data["claims"][path[1]]
            cid = item.get("id", "?") if isinstance(item, dict) else "?"
            where += f": claims[{path[1]}] ({cid})"
            if len(path) > 2:
                where += "." + ".".join(str(p) for p in path[2:])
        elif path:
            where += ": " + ".".join(str(p) for p in path)
        raise ClaimsError(f"{where}: {err.message}")
    out: dict[str, Claim] = {}
    for i, item in enumerate(data["claims"]):
        where = f"{source}: claims[{i}] ({item['id']})"
        if item["id"] in out:
            raise ClaimsError(f"{where}: the id {item['id']!r} is used twice")
        rel = item["relation"]
        if rel == "none":
            if "why" not in item:
                raise ClaimsError(f"{where}: relation 'none' needs 'why' (why it is not checked)")
            extra = [k for k in ("metrics", "left", "right", "each") if k in item]
            if extra:
                raise ClaimsError(f"{where}: relation 'none' takes no {extra}")
        else:
            missing = [k for k in ("metrics", "left", "right") if k not in item]
            if missing:
                raise ClaimsError(f"{where}: relation {rel!r} needs {missing}")
        right = item.get("right", [])
        right = tuple(right) if isinstance(right, list) else (right,)
        each = bool(item.get("each", False))
        for sel in right:
            for key in ("input", "method"):
                value = sel.get(key, "")
                if "{" in value and not each:
                    raise ClaimsError(
                        f"{where}: right {key} {value!r} names the left row: needs 'each: true'"
                    )
                try:
                    value.format(input="", method="")
                except (KeyError, IndexError, ValueError):
                    raise ClaimsError(
                        f"{where}: right {key} {value!r}: only {{input}} and {{method}} "
                        "can be filled in"
                    ) from None
        out[item["id"]] = Claim(
            id=item["id"],
            paper=item["paper"],
            where=item["where"],
            statement=item["statement"],
            relation=rel,
            metrics=tuple(item.get("metrics", ())),
            left=dict(item.get("left", {})),
            right=right,
            each=each,
            note=item.get("note", ""),
            why=item.get("why", ""),
        )
    return out


def load_claims(path: str | os.PathLike[str]) -> dict[str, Claim]:
    """Read and validate a claims file (:class:`ClaimsError` names the claim and key)."""
    import yaml

    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as err:
        raise ClaimsError(f"{path}: not valid YAML: {err}") from None
    return parse_claims(data, str(path))


def check_experiment_entries(
    claims: Mapping[str, Claim], experiments: Mapping[str, Mapping[str, Any]]
) -> None:
    """Every experiment's ``claims`` entry refers to known claims, experiments and data sets."""
    for name, exp in experiments.items():
        entry = exp.get("claims")
        if not entry:
            continue
        where = f"experiments.{name}.claims"
        for cid in entry.get("ids", []):
            if cid not in claims:
                raise ClaimsError(
                    f"{where}.ids: unknown claim {cid!r} (the claims file lists "
                    f"{', '.join(claims)})"
                )
            if not claims[cid].checkable:
                raise ClaimsError(
                    f"{where}.ids: claim {cid!r} has no machine-checkable form (relation none)"
                )
        for other in entry.get("with", []):
            if other not in experiments or other == name:
                raise ClaimsError(f"{where}.with: no other experiment {other!r}")
        if "runs" not in exp:
            continue
        datasets = {r["dataset"] for r in exp["runs"]}
        datasets |= {_base(d) for d in datasets}
        for key in ("inputs", "methods"):
            for paper_name, target in entry.get(key, {}).items():
                if isinstance(target, Mapping):
                    unknown = sorted(set(target) - datasets)
                    if unknown:
                        raise ClaimsError(
                            f"{where}.{key}.{paper_name}: data sets {unknown} are not among "
                            f"the experiment's ({sorted(datasets)})"
                        )


@dataclass(frozen=True)
class _Planned:
    """One planned row of an experiment: base data set / method, run names, swept value."""

    dataset: str
    input: str
    method: str
    key: tuple[str, str, str]
    x: float


def planned_rows(experiment: Mapping[str, Any]) -> list[_Planned]:
    """The rows an experiment's table will have (its runs after sweep expansion)."""
    points = {(p["dataset"], p["input"], p["method"]): p["x"] for p in experiment.get("points", [])}
    return [
        _Planned(
            _base(run["dataset"]),
            run["input"],
            _base(m),
            (run["dataset"], run["input"], m),
            float(points.get((run["dataset"], run["input"], m), math.nan)),
        )
        for run in experiment["runs"]
        for m in run["methods"]
    ]


def _select_planned(
    rows: Sequence[_Planned],
    sel: Mapping[str, Any],
    inputs: Mapping[str, str],
    methods: Mapping[str, str],
    fill: Mapping[str, str] | None = None,
) -> list[_Planned]:
    """:func:`_select` on planned rows (no table yet)."""
    out = [r for r in rows if _matches(sel, r.input, r.method, inputs, methods, fill)]
    if sel.get("x") is not None and out:
        target = _x_target(sel, [r.x for r in out])
        out = [] if target is None else [r for r in out if abs(r.x - target) < 1e-9]
    return out


def check_planned(
    claims: Mapping[str, Claim], experiments: Mapping[str, Mapping[str, Any]]
) -> None:
    """Every claim an experiment lists can be compared on the rows it will have.

    ``experiments``: the resolved experiments (runs after sweep expansion, with
    ``points`` and ``metrics``).  Errors, each naming the experiment's key: a
    name map pointing at an input or method the experiment does not run on that
    data set; a claim comparing swept values on an experiment that is not a
    sweep; none of the claim's metrics among the experiment's; no planned row
    for the claim's left side, or none for its right side (here or in the
    ``with`` experiments), on any of the experiment's data sets.  A side that
    runs on some data sets only, or a right side that runs in part, is "not
    run" where it is missing, in the claims table.
    """
    check_experiment_entries(claims, experiments)
    for name, exp in experiments.items():
        entry = exp.get("claims")
        if not entry:
            continue
        where = f"experiments.{name}.claims"
        own = planned_rows(exp)
        pool = own + [r for w in entry.get("with", []) for r in planned_rows(experiments[w])]
        datasets = list(dict.fromkeys(r.dataset for r in own))
        for key, kind in (("inputs", "input"), ("methods", "method")):
            for claim_name, target in entry.get(key, {}).items():
                per_ds = target if isinstance(target, Mapping) else {"": target}
                for ds, wanted in per_ds.items():
                    have = {getattr(r, kind) for r in pool if r.dataset == ds or not ds}
                    if wanted not in have:
                        on = f"on data set {ds!r}" if ds else "on any of its data sets"
                        raise ClaimsError(
                            f"{where}.{key}.{claim_name}: the experiment runs no {kind} "
                            f"{wanted!r} {on} (its {kind}s there: {sorted(have)})"
                        )
        for cid in entry["ids"]:
            claim = claims[cid]
            at = f"{where}.ids: claim {cid!r}"
            if claim.names_x and not exp.get("sweep"):
                raise ClaimsError(
                    f"{at} compares swept values (x), and the experiment is not a sweep; "
                    "list it on a sweep experiment"
                )
            if not set(claim.metrics) & set(exp.get("metrics", claim.metrics)):
                raise ClaimsError(
                    f"{at} compares {list(claim.metrics)}, none of which the experiment "
                    f"computes ({list(exp['metrics'])}); add one to its metrics or drop the claim"
                )
            left_found = right_found = False
            for ds in datasets:
                mine = [r for r in own if r.dataset == ds]
                theirs = [r for r in pool if r.dataset == ds]
                inputs = _translate(entry, "inputs", ds)
                methods = _method_names(exp, entry, ds, {r.method for r in theirs})
                lefts = _select_planned(mine, claim.left, inputs, methods)
                left_found |= bool(lefts)
                for left in lefts:
                    fill = {"input": left.input, "method": left.method}
                    keys = {left.key} if claim.each else {r.key for r in lefts}
                    right_found |= any(
                        r.key not in keys
                        for sel in claim.right
                        for r in _select_planned(
                            theirs, sel, inputs, methods, fill if claim.each else None
                        )
                    )
            if not left_found:
                raise ClaimsError(
                    f"{at}: the experiment runs nothing its left side names "
                    f"({_describe(claim.left)}) on any of its data sets {datasets}; map the "
                    "names (claims.inputs / claims.methods) or drop the claim"
                )
            if not right_found:
                sides = "; ".join(_describe(s) for s in claim.right)
                also = " or the experiments under with" if entry.get("with") else ""
                raise ClaimsError(
                    f"{at}: the experiment{also} runs nothing its right side names "
                    f"({sides}) beside the left side's rows; map the names (claims.inputs "
                    "/ claims.methods) or drop the claim"
                )


# -- checking -------------------------------------------------------------------------------


def _base(name: str) -> str:
    """A sweep point's base name (``coco-cross.missing-text-0.3`` -> ``coco-cross``)."""
    return name.split(".", 1)[0]


def _rows(table: Any, spec: Mapping[str, Any], experiment: str) -> Any:
    """A summary table with the base data set / method and the swept value of each row."""
    import pandas as pd

    df = table[table["mean"].notna()].copy()  # a metric that could not be computed: not run
    for col, default in (("std", 0.0), ("n_seeds", 1), ("paper", math.nan)):
        if col not in df.columns:
            df[col] = default
    points = {(p["dataset"], p["input"], p["method"]): p["x"] for p in spec.get("points", [])}
    df["base_dataset"] = [_base(d) for d in df["dataset"]]
    df["base_method"] = [_base(m) for m in df["method"]]
    df["x"] = [
        points.get((d, i, m), math.nan)
        for d, i, m in df[["dataset", "input", "method"]].itertuples(index=False)
    ]
    df["experiment"] = experiment
    df["std"] = pd.to_numeric(df["std"]).fillna(0.0)
    return df


def _translate(entry: Mapping[str, Any], key: str, dataset: str) -> dict[str, str]:
    out = {}
    for name, target in entry.get(key, {}).items():
        if isinstance(target, Mapping):
            if dataset in target:
                out[name] = target[dataset]
        else:
            out[name] = target
    return out


def _method_names(
    spec: Mapping[str, Any], entry: Mapping[str, Any], dataset: str, present: set[str]
) -> dict[str, str]:
    """Claim (paper) method name -> this experiment's, on ``dataset``."""
    out: dict[str, str] = {}
    for config_name, paper_name in spec.get("paper_names", {}).items():
        if config_name in present:
            if paper_name in out and out[paper_name] != config_name:
                raise ClaimsError(
                    f"paper_names maps both {out[paper_name]!r} and {config_name!r} to "
                    f"{paper_name!r} on data set {dataset!r}: give claims.methods"
                )
            out[paper_name] = config_name
    out.update(_translate(entry, "methods", dataset))
    return out


def _matches(
    sel: Mapping[str, Any],
    input: str,
    method: str,
    inputs: Mapping[str, str],
    methods: Mapping[str, str],
    fill: Mapping[str, str] | None = None,
) -> bool:
    """Whether a row's input and (base) method match a selector's, names mapped."""
    for key, value, names in (("input", input, inputs), ("method", method, methods)):
        if key in sel:
            pat = sel[key].format(**fill) if fill else sel[key]
            if not fnmatch.fnmatchcase(value, names.get(pat, pat)):
                return False
    return True


def _x_target(sel: Mapping[str, Any], xs: Sequence[float]) -> float | None:
    """The swept value a selector's ``x`` names among ``xs`` (None: no such value)."""
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return None
    x = sel["x"]
    return min(xs) if x == "min" else max(xs) if x == "max" else float(x)


def _select(
    rows: Any,
    sel: Mapping[str, Any],
    inputs: Mapping[str, str],
    methods: Mapping[str, str],
    fill: Mapping[str, str] | None = None,
) -> Any:
    mask = [
        _matches(sel, i, m, inputs, methods, fill)
        for i, m in zip(rows["input"], rows["base_method"], strict=True)
    ]
    out = rows[mask]
    if sel.get("x") is not None and not out.empty:
        target = _x_target(sel, out["x"].tolist())
        if target is None:
            return out.iloc[0:0]
        out = out[(out["x"] - target).abs() < 1e-9]
    return out


def _best(rows: Any, col: str = "mean") -> Any:
    return rows.loc[rows[col].idxmax()]


def compare(relation: str, left: float, left_std: float, right: float, right_std: float) -> bool:
    """Whether ``left relation right`` holds under the stated rule (module docstring)."""
    diff = left - right
    if relation == ">":
        return diff > TOL
    if relation == ">=":
        return diff >= -TOL
    if relation == "~":
        return diff >= -(left_std + right_std) - TOL
    raise ValueError(f"unknown relation {relation!r}")


def beyond_spread(diff: float, left: Any, right: Any) -> str:
    if min(int(left["n_seeds"]), int(right["n_seeds"])) < 2:
        return "n/a (one seed)"
    return "yes" if abs(diff) > left["std"] + right["std"] + TOL else "no"


def _label(row: Any, spec: Mapping[str, Any], with_x: bool) -> str:
    labels = spec.get("labels", {})
    text = f"{labels.get(row['base_method'], row['base_method'])} [{row['input']}]"
    if with_x and not math.isnan(row["x"]):
        param = spec.get("sweep", {}).get("parameter", "x")
        text += f" at {param} = {row['x']:g}"
    return text


def _scope(spec: Mapping[str, Any], x: float | None) -> str:
    if x is None:
        return ""
    return f"{spec.get('sweep', {}).get('parameter', 'x')} = {x:g}"


def _claim_fields(claim: Claim) -> dict[str, Any]:
    return {
        "claim": claim.id,
        "paper": claim.paper,
        "where": claim.where,
        "statement": claim.statement,
        "relation": claim.relation,
    }


def _empty_sides() -> dict[str, Any]:
    return {
        "left": "",
        "left_mean": math.nan,
        "left_std": math.nan,
        "left_seeds": math.nan,
        "right": "",
        "right_mean": math.nan,
        "right_std": math.nan,
        "right_seeds": math.nan,
        "diff": math.nan,
        "beyond_spread": "",
        "paper_status": "",
    }


def _comparison(
    claim: Claim,
    left: Any,
    right_rows: Any,
    spec: Mapping[str, Any],
    missing: list[str],
) -> dict[str, Any]:
    right = _best(right_rows)
    with_x = claim.names_x
    rlabel = _label(right, spec, with_x)
    if len(right_rows) > 1:
        rlabel += f" (best of {len(right_rows)})"
    diff = float(left["mean"] - right["mean"])
    holds = compare(claim.relation, left["mean"], left["std"], right["mean"], right["std"])
    notes = []
    if abs(diff) <= TOL:
        notes.append("tie")
    if missing:
        notes.append("not run: " + ", ".join(missing))
    paper_status = ""
    if not math.isnan(left["paper"]) and not right_rows["paper"].isna().any():
        rp = right_rows["paper"].max()
        paper_status = HOLDS if compare(claim.relation, left["paper"], 0, rp, 0) else FAILS
    return {
        "left": _label(left, spec, with_x),
        "left_mean": float(left["mean"]),
        "left_std": float(left["std"]),
        "left_seeds": int(left["n_seeds"]),
        "right": rlabel,
        "right_mean": float(right["mean"]),
        "right_std": float(right["std"]),
        "right_seeds": int(right["n_seeds"]),
        "diff": diff,
        "status": HOLDS if holds else FAILS,
        "beyond_spread": beyond_spread(diff, left, right),
        "paper_status": paper_status,
        "note": "; ".join(notes),
    }


def _describe(sel: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sel.items())


def check_experiment(
    claim: Claim,
    experiment: str,
    own: Any,
    pool: Any,
    spec: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Comparisons of one claim on one experiment's rows (``own``; the right side from ``pool``)."""
    import pandas as pd

    entry = spec.get("claims", {})
    out = []
    datasets = list(dict.fromkeys(own["base_dataset"]))
    sweep = bool(spec.get("sweep")) and not claim.names_x
    for ds in datasets:
        own_ds = own[own["base_dataset"] == ds]
        pool_ds = pool[pool["base_dataset"] == ds]
        inputs = _translate(entry, "inputs", ds)
        methods = _method_names(spec, entry, ds, set(pool_ds["base_method"]))
        groups: list[float | None] = [None]
        if sweep:
            groups = sorted(own_ds["x"].dropna().unique().tolist()) or [None]
        for metric in claim.metrics:
            for x in groups:
                base = {**_claim_fields(claim), "experiment": experiment, "dataset": ds}
                base.update(scope=_scope(spec, x), metric=metric)
                mine = own_ds[own_ds["metric"] == metric]
                theirs = pool_ds[pool_ds["metric"] == metric]
                if x is not None:
                    mine = mine[(mine["x"] - x).abs() < 1e-9]
                    theirs = theirs[(theirs["x"] - x).abs() < 1e-9]
                lefts = _select(mine, claim.left, inputs, methods)
                if lefts.empty:
                    out.append(
                        {
                            **base,
                            **_empty_sides(),
                            "status": NOT_RUN,
                            "note": f"no row for the left side ({_describe(claim.left)})",
                        }
                    )
                    continue
                chosen = [r for _, r in lefts.iterrows()] if claim.each else [_best(lefts)]
                for left in chosen:
                    fill = {"input": left["input"], "method": left["base_method"]}
                    # the left row(s) never count on the right side
                    keys = {(left["dataset"], left["input"], left["method"])}
                    if not claim.each:
                        keys |= set(
                            zip(lefts["dataset"], lefts["input"], lefts["method"], strict=True)
                        )
                    parts, missing = [], []
                    for sel in claim.right:
                        got = _select(theirs, sel, inputs, methods, fill if claim.each else None)
                        got = got[
                            [
                                k not in keys
                                for k in zip(
                                    got["dataset"], got["input"], got["method"], strict=True
                                )
                            ]
                        ]
                        if got.empty:
                            missing.append(_describe(sel).format(**fill))
                        else:
                            parts.append(got)
                    if not parts:
                        out.append(
                            {
                                **base,
                                **_empty_sides(),
                                "left": _label(left, spec, claim.names_x),
                                "left_mean": float(left["mean"]),
                                "left_std": float(left["std"]),
                                "left_seeds": int(left["n_seeds"]),
                                "status": NOT_RUN,
                                "note": "no row for the right side (" + "; ".join(missing) + ")",
                            }
                        )
                        continue
                    right_rows = pd.concat(parts).drop_duplicates(
                        ["experiment", "dataset", "input", "method"]
                    )
                    out.append({**base, **_comparison(claim, left, right_rows, spec, missing)})
    return out


def check_claims(
    claims: Mapping[str, Claim],
    spec: Mapping[str, Any],
    tables: Mapping[str, Any],
) -> Any:
    """All comparisons as a tidy DataFrame (one row per comparison; module docstring).

    ``spec``: ``{"experiments": {name: experiment config}, "order": [names]}``,
    the experiments whose ``claims`` entries list claims, and those they name
    under ``with``; ``tables``: experiment name -> its summary table.
    Claims no experiment lists get one "not run" row, claims without a
    machine-checkable form one "not machine-checkable" row.
    """
    import pandas as pd

    experiments = spec.get("experiments", {})
    order = spec.get("order") or list(experiments)
    check_experiment_entries(claims, experiments)
    rows_of = {
        name: _rows(tables[name], experiments[name], name) for name in order if name in tables
    }
    out: list[dict[str, Any]] = []
    for claim in claims.values():
        if not claim.checkable:
            out.append(
                {
                    **_claim_fields(claim),
                    "experiment": "",
                    "dataset": "",
                    "scope": "",
                    "metric": "",
                    **_empty_sides(),
                    "status": UNCHECKABLE,
                    "note": claim.why,
                }
            )
            continue
        listed = [n for n in order if claim.id in experiments[n].get("claims", {}).get("ids", [])]
        for name in listed:
            exp = experiments[name]
            if name not in rows_of:
                out.append(
                    {
                        **_claim_fields(claim),
                        "experiment": name,
                        "dataset": "",
                        "scope": "",
                        "metric": "",
                        **_empty_sides(),
                        "status": NOT_RUN,
                        "note": "the experiment's table is missing",
                    }
                )
                continue
            own = rows_of[name]
            others = [rows_of[w] for w in exp.get("claims", {}).get("with", []) if w in rows_of]
            pool = pd.concat([own, *others], ignore_index=True)
            out += check_experiment(claim, name, own, pool, exp)
        if not listed:
            out.append(
                {
                    **_claim_fields(claim),
                    "experiment": "",
                    "dataset": "",
                    "scope": "",
                    "metric": "",
                    **_empty_sides(),
                    "status": NOT_RUN,
                    "note": "no experiment of this configuration lists this claim",
                }
            )
    columns = [
        "claim", "paper", "where", "statement", "experiment", "dataset", "scope", "metric",
        "left", "left_mean", "left_std", "left_seeds", "relation",
        "right", "right_mean", "right_std", "right_seeds", "diff",
        "status", "beyond_spread", "paper_status", "note",
    ]  # fmt: skip
    return pd.DataFrame(out, columns=columns)


def verdicts(detail: Any) -> Any:
    """One verdict per (claim, experiment, data set): holds when every run comparison holds."""
    import pandas as pd

    rows = []
    keys = ["claim", "paper", "statement", "experiment", "dataset"]
    for key, g in detail.groupby(keys, sort=False, dropna=False):
        status = list(g["status"])
        n_run = sum(s in (HOLDS, FAILS) for s in status)
        n_hold = status.count(HOLDS)
        if status[0] == UNCHECKABLE:
            verdict = UNCHECKABLE
        elif n_run == 0:
            verdict = NOT_RUN
        elif n_hold == n_run:
            verdict = HOLDS
        else:
            verdict = FAILS
        held = f"{n_hold}/{n_run}" if n_run else ""
        if n_run and len(status) > n_run:
            held += f" ({len(status) - n_run} not run)"
        spread = g.loc[g["status"].isin([HOLDS, FAILS]), "beyond_spread"]
        known = spread[spread.isin(["yes", "no"])]
        beyond = f"{int((known == 'yes').sum())}/{len(known)}" if len(known) else ""
        if len(known) < len(spread):
            one = len(spread) - len(known)
            beyond = f"{beyond} ({one} with one seed)" if beyond else "n/a (one seed)"
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "verdict": verdict,
                "held": held,
                "beyond_spread": beyond,
            }
        )
    return pd.DataFrame(rows)


# -- output ---------------------------------------------------------------------------------


def _fmt_side(mean: float, std: float, n: float) -> str:
    if isinstance(mean, float) and math.isnan(mean):
        return "—"
    return f"{mean:.3f} ± {std:.3f} ({int(n)})"


def _md_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


VERDICT_COLUMNS = (
    "Claim", "Paper", "Statement", "Experiment", "Data set", "Verdict", "Held",
    "Beyond seed spread",
)  # fmt: skip
DETAIL_COLUMNS = (
    "Claim", "Experiment", "Data set", "Scope", "Metric", "Left", "", "Right", "Δ",
    "Status", "Beyond seed spread", "Paper's numbers", "Note",
)  # fmt: skip


def _detail_cells(r: Any) -> list[Any]:
    left = f"{r.left}: {_fmt_side(r.left_mean, r.left_std, r.left_seeds)}" if r.left else "—"
    right = f"{r.right}: {_fmt_side(r.right_mean, r.right_std, r.right_seeds)}" if r.right else "—"
    diff = "—" if math.isnan(r.diff) else f"{r.diff:+.3f}"
    return [
        r.claim, r.experiment, r.dataset, r.scope, r.metric, left, r.relation, right, diff,
        r.status, r.beyond_spread or "—", r.paper_status or "—", r.note,
    ]  # fmt: skip


def to_markdown(detail: Any) -> str:
    """The claims table: verdicts, every comparison, and the claims not run or not checkable."""
    v = verdicts(detail)
    checked = v[(v["verdict"] != UNCHECKABLE) & (v["experiment"] != "")]
    verdict_rows = [
        [r.claim, r.paper, r.statement, r.experiment, r.dataset, r.verdict, r.held,
         r.beyond_spread]
        for r in checked.itertuples(index=False)
    ]  # fmt: skip
    out = [
        "# The papers' claims on this configuration's tables\n",
        "Each claim of `config/papers/claims.yaml` that an experiment lists is compared on "
        "that experiment's summary table, per data set and metric (and per swept value in a "
        f"sweep). Rule: {RULE}. The right side of a comparison is the best of its rows. "
        "'Paper's numbers' is the same comparison on the paper's values where the table "
        "has them.\n",
        "## Verdicts\n",
        _md_table(VERDICT_COLUMNS, verdict_rows)
        if verdict_rows
        else "No experiment lists a claim.\n",
    ]
    run = detail[detail["experiment"] != ""]
    if not run.empty:
        rows = [_detail_cells(r) for r in run.itertuples(index=False)]
        out += ["\n## Comparisons\n", _md_table(DETAIL_COLUMNS, rows)]
    unlisted = detail[(detail["experiment"] == "") & (detail["status"] == NOT_RUN)]
    if not unlisted.empty:
        rows = [[r.claim, r.paper, r.where, r.statement] for r in unlisted.itertuples()]
        out += [
            "\n## Not run: no experiment of this configuration lists them\n",
            _md_table(["Claim", "Paper", "Where", "Statement"], rows),
        ]
    unchecked = detail[detail["status"] == UNCHECKABLE]
    if not unchecked.empty:
        rows = [[r.claim, r.paper, r.where, r.statement, r.note] for r in unchecked.itertuples()]
        out += [
            "\n## Claims without a machine-checkable form\n",
            _md_table(["Claim", "Paper", "Where", "Statement", "Why not checked"], rows),
        ]
    return "\n".join(out)


def write_claims_tables(
    claims_file: str | os.PathLike[str],
    table_files: Sequence[str | os.PathLike[str]],
    spec: Mapping[str, Any],
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str],
) -> Any:
    """Check the claims on the experiments' summary tables (named by file stem) and write them."""
    import pandas as pd

    from mmclust.io import atomic_open

    claims = load_claims(claims_file)
    tables = {os.path.splitext(os.path.basename(p))[0]: pd.read_csv(p) for p in table_files}
    detail = check_claims(claims, spec, tables)
    with atomic_open(out_csv) as fh:
        detail.to_csv(fh, index=False, float_format="%.6g")
    with atomic_open(out_md) as fh:
        fh.write(to_markdown(detail))
    return detail
