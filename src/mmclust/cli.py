"""Command-line interface called by the workflow's rules.

Every sub-command reads its inputs from paths, takes its settings as one JSON
object (the config section the rule needs) and writes its outputs atomically.
Run ``python -m mmclust SUBCOMMAND --help`` for the arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("mmclust")


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def check_feature_set(fs: Any, path: str) -> None:
    """Every present row of an input file (and of its parts) is finite, else an error naming
    the file, the first bad row and column, and the fix."""
    from mmclust.validation import check_finite

    fix = (
        "rebuild this input (its build checks the views it reads and names the source file), "
        "or fix the values it was made from"
    )
    check_finite(fs.X, f"{path} (X)", rows=fs.mask, fix=fix)
    for name, part in fs.parts.items():
        check_finite(part, f"{path} (part {name!r})", rows=fs.part_masks[name], fix=fix)


# -- sub-commands -----------------------------------------------------------------


def cmd_prepare(a: argparse.Namespace) -> None:
    from mmclust.data import MultiViewDataset, build

    spec = a.spec
    if "derived_from" in spec:
        from mmclust.data.derive import derive_dataset

        if not a.base:
            raise SystemExit("a derived data set needs --base (its base data set folder)")
        ds = derive_dataset(MultiViewDataset.load(a.base), spec, a.name)
    elif "mixed_from" in spec:
        from mmclust.data.mixed import make_mixed_modal

        if not a.base:
            raise SystemExit("a mixed-modal data set needs --base (the paired data set folder)")
        base = MultiViewDataset.load(a.base)
        ds = make_mixed_modal(
            base,
            views=tuple(spec.get("views", ("image", "text"))),
            p_first=spec.get("p_first", 0.5),
            test_fraction=spec.get("test_fraction", 1 / 3),
            seed=spec.get("seed", 0),
            name=a.name,
        )
    else:
        options = dict(spec.get("options") or {})
        if a.raw_dir:
            options["raw_dir"] = a.raw_dir
        ds = build(spec["source"], a.name, options)
    _warn_nonfinite(ds)
    ds.save(a.out)
    log.info("prepared %s: n=%d k=%d views=%s", a.name, ds.n, ds.k, sorted(ds.views))


def _warn_nonfinite(ds: Any) -> None:
    """A warning per view holding NaN or inf where present: inputs of that view will fail
    (the other views stay usable, so preparing the data set does not)."""
    from mmclust.validation import describe_nonfinite, first_nonfinite

    for view, x in ds.views.items():
        hit = first_nonfinite(x, ds.masks[view])
        if hit is not None:
            log.warning(
                "%s: view %r: %s; an input of this view will stop with an error until the "
                "source values are fixed",
                ds.name,
                view,
                describe_nonfinite(hit),
            )


def cmd_download(a: argparse.Namespace) -> None:
    from mmclust.data.download import run_download

    code = run_download(a)
    if code:
        raise SystemExit(code)


def _uses_torch(settings: dict[str, Any]) -> bool:
    """Whether building this input runs a torch network (an image extractor, the sentence
    encoder, a trained model's layer): only then is torch imported, to set its threads."""
    from mmclust.features.names import IMAGE_EXTRACTORS

    if settings["kind"] == "from_model":
        return True
    extractor = (settings.get("spec") or {}).get("extractor")
    return settings["kind"] == "extractor" and extractor in (*IMAGE_EXTRACTORS, "minilm")


def cmd_features(a: argparse.Namespace) -> None:
    from mmclust.features.build import build_feature_set

    if _uses_torch(a.settings):
        _set_threads(a.threads)
    files = {
        "data": a.data, "parts": a.parts, "embedding": a.embedding, "model": a.model,
        "base_features": a.base_features, "base": a.base, "composite": a.composite,
    }  # fmt: skip
    from mmclust.data.dataset import DatasetError

    try:
        fs = build_feature_set(a.settings, files, device=a.device)
    except DatasetError as err:
        raise DatasetError(f"building input {a.out}: {err}") from None
    fs.save(a.out)
    log.info(
        "input %s (%s): X %s, %d present", a.out, a.settings["kind"], fs.X.shape, fs.mask.sum()
    )


def cmd_pretrain(a: argparse.Namespace) -> None:
    from mmclust.features import FeatureSet
    from mmclust.fitting import train_rows
    from mmclust.io import save_npy
    from mmclust.nn import DenoisingAutoencoder
    from mmclust.validation import check_all_finite

    _set_threads(a.threads)
    fs = FeatureSet.load(a.features)
    check_feature_set(fs, a.features)
    train = train_rows(a.split_from, fs.X.shape[0])
    X = fs.X[fs.mask if train is None else fs.mask & train]
    t0 = time.perf_counter()
    ae = DenoisingAutoencoder(
        **a.params, random_state=a.seed, device=a.device, precision=a.precision
    ).fit(X)
    log.info(
        "pretrained on %d samples in %.1f s, final loss %.5f",
        X.shape[0], time.perf_counter() - t0, ae.loss_history_[-1],
    )  # fmt: skip
    embedding = ae.transform(fs.X)
    check_all_finite(embedding, f"the autoencoder pretrained on {a.features}", "the end", "codes")
    save_npy(a.embedding, embedding)
    ae.save(a.model)


def cmd_cluster(a: argparse.Namespace) -> None:
    from mmclust.features import FeatureSet
    from mmclust.fitting import RunError, fit_run, loaded_pixels_meta, train_rows, write_run
    from mmclust.io import read_json
    from mmclust.methods.registry import TORCH_FREE

    # torch (and its thread setting) only for the methods that compute with it
    if a.autoencoder or a.params.get("estimator") not in TORCH_FREE:
        _set_threads(a.threads)
    fs = FeatureSet.load(a.features)
    check_feature_set(fs, a.features)
    aes = []
    if a.autoencoder:
        from mmclust.nn import DenoisingAutoencoder

        aes = [DenoisingAutoencoder.load(p, device=a.device) for p in a.autoencoder]
    try:
        result = fit_run(
            fs, a.params, loaded_pixels_meta(read_json(a.meta), a.provenance.get("input_spec")),
            a.seed,
            autoencoders=aes, train=train_rows(a.split_from, fs.X.shape[0]),
            n_clusters=a.n_clusters, device=a.device, precision=a.precision,
        )  # fmt: skip
    except RunError as err:
        raise SystemExit(f"{a.features}: {err}") from None
    read = {"features": a.features, "autoencoder": a.autoencoder, "data": a.split_from}
    write_run(a.out, result, a.provenance, read)
    log.info("%s fitted in %.1f s", result.info["estimator"], result.info["fit_seconds"])


def cmd_evaluate(a: argparse.Namespace) -> None:
    from mmclust.io import write_json
    from mmclust.scoring import load_truth, score_run

    write_json(a.out, score_run(load_truth(a.dataset), a.labels, a.run, a.fit_info))


def cmd_score(a: argparse.Namespace) -> None:
    from mmclust.io import write_json
    from mmclust.scoring import load_truth, score_run

    n = len(a.out)
    fit_info = a.fit_info or [None] * n
    if not (len(a.labels) == len(fit_info) == len(a.runs) == n):
        raise SystemExit(
            f"score: {len(a.labels)} --labels, {len(fit_info)} --fit-info, {len(a.runs)} --runs "
            f"and {n} --out: give one of each per run, in the same order"
        )
    truth = load_truth(a.dataset)
    for labels, fit, run, out in zip(a.labels, fit_info, a.runs, a.out, strict=True):
        write_json(out, score_run(truth, labels, run, fit))


def _json_list(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise argparse.ArgumentTypeError("expected a JSON list of objects")
    return value


def cmd_aggregate(a: argparse.Namespace) -> None:
    from mmclust.report.tables import collect_runs

    df = collect_runs(a.metrics)
    from mmclust.io import atomic_open

    with atomic_open(a.out) as fh:
        df.to_csv(fh, index=False)


def cmd_table(a: argparse.Namespace) -> None:
    from mmclust.report.tables import write_summary_tables

    write_summary_tables(
        runs_csv=a.runs,
        spec=a.spec,
        out_csv=a.csv,
        out_md=a.md,
        out_tex=a.tex,
        meta_files=a.meta or [],
    )


def cmd_tsne(a: argparse.Namespace) -> None:
    from mmclust.report.figures import tsne_figure

    tsne_figure(
        embedding=a.embedding,
        labels=a.labels,
        dataset=a.dataset,
        out=a.out,
        title=a.title,
        params=a.params,
    )


def cmd_sweep(a: argparse.Namespace) -> None:
    from mmclust.report.sweeps import sweep_figure

    sweep_figure(a.runs, a.spec, a.out, a.csv)


def cmd_plan(a: argparse.Namespace) -> None:
    from mmclust.plan import Plan, load_files, merge
    from mmclust.plan.show import show

    files = a.configfile or [Path(__file__).resolve().parents[2] / "config" / "config.yaml"]
    overrides = {}
    for item in a.config or []:
        import yaml

        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    plan = Plan(merge(load_files(files), overrides))
    if a.experiment is None:
        for name in plan.experiments:
            print(name)  # noqa: T201
        return
    print(show(plan, a.experiment, cell=a.cell, changed_only=a.changed, as_json=a.json))  # noqa: T201


def cmd_claims(a: argparse.Namespace) -> None:
    from mmclust.report.claims import ClaimsError, write_claims_tables

    try:
        detail = write_claims_tables(a.claims, a.tables or [], a.spec, a.csv, a.md)
    except ClaimsError as err:
        raise SystemExit(str(err)) from None
    counts = detail["status"].value_counts().to_dict()
    log.info("claims: %s", ", ".join(f"{n} {s}" for s, n in counts.items()))


# -- parser -------------------------------------------------------------------------

#: the config key ``precision``'s values (mmclust.nn.precision.PRECISIONS, repeated here so
#: that parsing the command line never imports torch)
PRECISIONS = ("fp32", "tf32", "bf16")


def add_precision(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--precision", default="fp32", choices=PRECISIONS,
        help="numeric precision of the deep training loops (fp32: exact; tf32: TensorFloat-32 "
        "matmuls on CUDA; bf16: bfloat16 autocast of the forward passes)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmclust", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    def add(
        name: str, fn: Callable[[argparse.Namespace], None], help: str
    ) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help, description=help)
        s.set_defaults(func=fn)
        return s

    s = add("prepare", cmd_prepare, "build a data set into the common format")
    s.add_argument("--name", required=True)
    s.add_argument("--spec", type=_json, required=True, help="the data set's config entry")
    s.add_argument("--raw-dir", help="folder of the downloaded raw files")
    s.add_argument("--base", help="base data set folder (mixed-modal and derived data sets)")
    s.add_argument("--out", required=True, help="output folder")

    s = add("download", cmd_download, "download, verify and unpack a data source's raw files")
    from mmclust.data.download import add_download_options

    add_download_options(s)

    s = add("features", cmd_features, "build one clustering input from a data set's views")
    s.add_argument(
        "--settings", type=_json, required=True,
        help="the input's kind, config entry and (by kind) source input or derived data set",
    )  # fmt: skip
    s.add_argument(
        "--data",
        help="the data set's data.npz (plain, extractor, from_model; with a transform, the "
        "split that combine and from_run fit it on)",
    )
    s.add_argument("--meta", help="the data set's meta.json (accepted, not read)")
    s.add_argument("--parts", nargs="+", help="a composite input's part files, in order")
    s.add_argument("--embedding", help="a run's embedding.npy, used as the input (from_run)")
    s.add_argument("--model", help="another run's model.pt whose network represents the data")
    s.add_argument("--base-features", help="a derived data set: its base's input of this name")
    s.add_argument("--base", help="a derived data set: its base's data.npz")
    s.add_argument("--composite", help="a composite input's file, whose part this input is")
    s.add_argument("--out", required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)

    s = add("pretrain", cmd_pretrain, "pretrain a stacked denoising autoencoder")
    s.add_argument("--features", required=True)
    s.add_argument("--params", type=_json, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--embedding", required=True)
    s.add_argument(
        "--split-from", help="the data set's data.npz: with a split, fit on the train rows only"
    )
    s.add_argument("--device", default="auto")
    add_precision(s)
    s.add_argument("--threads", type=int, default=1)

    s = add("cluster", cmd_cluster, "fit one clustering method on one input with one seed")
    s.add_argument("--features", required=True)
    s.add_argument("--params", type=_json, required=True, help="the method's config entry")
    s.add_argument("--meta", required=True, help="the data set's meta.json (for k)")
    s.add_argument("--n-clusters", type=int, help="override the number of clusters k")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument(
        "--autoencoder", nargs="+", help="pretrained autoencoder(s) for deep methods, one per view"
    )
    s.add_argument(
        "--split-from",
        help="the data set's data.npz: with a train/test split, fit on train, predict all",
    )
    s.add_argument(
        "--provenance", type=_json, default={},
        help="the plan's record of the run (settings and their sources), for params.json",
    )  # fmt: skip
    s.add_argument(
        "--out",
        required=True,
        help="run folder: labels.npy, embedding.npy, fit.json, params.json, model.pt",
    )
    s.add_argument("--device", default="auto")
    add_precision(s)
    s.add_argument("--threads", type=int, default=1)

    s = add("evaluate", cmd_evaluate, "score a run's predictions against the classes")
    s.add_argument("--dataset", required=True)
    s.add_argument("--labels", required=True)
    s.add_argument("--fit-info")
    s.add_argument("--run", type=_json, default={}, help="identifiers stored with the scores")
    s.add_argument("--out", required=True)

    s = add(
        "score", cmd_score,
        "score several runs of one data set (a table cell's seeds) in one process",
    )  # fmt: skip
    s.add_argument("--dataset", required=True, help="the data set's folder")
    s.add_argument("--labels", nargs="+", required=True, help="each run's labels.npy")
    s.add_argument("--fit-info", nargs="+", help="each run's fit.json, in the same order")
    s.add_argument(
        "--runs", type=_json_list, required=True,
        help="a JSON list: each run's identifiers stored with its scores, in the same order",
    )  # fmt: skip
    s.add_argument("--out", nargs="+", required=True, help="each run's metrics.json")

    s = add("aggregate", cmd_aggregate, "gather per-run metrics into one tidy CSV")
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--out", required=True)

    s = add("table", cmd_table, "mean +- std tables (CSV, Markdown, LaTeX)")
    s.add_argument("--runs", required=True)
    s.add_argument("--spec", type=_json, required=True, help="the experiment's config entry")
    s.add_argument("--meta", nargs="*", help="meta.json of the experiment's data sets")
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.add_argument("--tex", required=True)

    s = add("tsne", cmd_tsne, "t-SNE figure of a run's embedding")
    s.add_argument("--embedding", required=True)
    s.add_argument("--labels", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--title", required=True)
    s.add_argument("--params", type=_json, required=True)
    s.add_argument("--out", required=True)

    s = add("sweep", cmd_sweep, "figure of a sweep experiment: metrics against the swept value")
    s.add_argument("--runs", required=True, help="the experiment's runs table")
    s.add_argument("--spec", type=_json, required=True, help="the experiment's config entry")
    s.add_argument("--out", required=True, help="PNG file")
    s.add_argument("--csv", help="also write the plotted means and stds here")
    s = add(
        "plan", cmd_plan, "show what the runs of an experiment use and where each value comes from"
    )
    s.add_argument("action", choices=["show"])
    s.add_argument("experiment", nargs="?", help="an experiment (without: list them)")
    s.add_argument(
        "--configfile", nargs="+",
        help="configuration files, merged in order as with snakemake (default config/config.yaml)",
    )  # fmt: skip
    s.add_argument("--config", nargs="+", metavar="KEY=VALUE", help="top-level overrides")
    s.add_argument("--cell", help="one table row: DATASET/INPUT/METHOD")
    s.add_argument("--changed", action="store_true", help="hide the estimators' defaults")
    s.add_argument("--json", action="store_true", help="machine-readable output")

    s = add("claims", cmd_claims, "check the papers' claims on experiments' summary tables")
    s.add_argument("--claims", required=True, help="the claims file (config/papers/claims.yaml)")
    s.add_argument(
        "--tables", nargs="*", help="summary tables results/tables/<experiment>.csv (named by stem)"
    )
    s.add_argument(
        "--spec",
        type=_json,
        required=True,
        help='{"experiments": {name: config entry}, "order": [names]}',
    )
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from mmclust.data.dataset import DatasetError
    from mmclust.plan.errors import ConfigError
    from mmclust.validation import TrainingDivergedError

    try:
        args.func(args)
    except (DatasetError, ConfigError) as err:
        log.error("%s", err)
        return 2
    except TrainingDivergedError as err:
        log.error("%s", err)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
