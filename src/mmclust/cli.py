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
    ds.save(a.out)
    log.info("prepared %s: n=%d k=%d views=%s", a.name, ds.n, ds.k, sorted(ds.views))


def cmd_download(a: argparse.Namespace) -> None:
    from mmclust.data.download import main as download_main

    argv = [a.source, a.raw_dir] + (["--allow-unverified"] if a.allow_unverified else [])
    code = download_main(argv)
    if code:
        raise SystemExit(code)


def cmd_features(a: argparse.Namespace) -> None:
    from mmclust.data import MultiViewDataset
    from mmclust.features import FeatureSet, build_input

    spec = a.spec
    if spec.get("combine"):
        from mmclust.features.combine import combine_inputs

        if not a.parts or len(a.parts) != len(spec["combine"]):
            raise SystemExit(f"a composite input needs --parts: one file per {spec['combine']}")
        fs = combine_inputs(
            [FeatureSet.load(p) for p in a.parts],
            spec["combine"],
            mode=spec.get("mode", "concat"),
            transform=spec.get("transform", "none"),
        )
        fs.save(a.out)
        log.info("composite input %s: X %s, %d present", a.out, fs.X.shape, int(fs.mask.sum()))
        return
    if a.embedding:
        import numpy as np

        emb = np.load(a.embedding)
        fs = FeatureSet(X=np.ascontiguousarray(emb, dtype=np.float32), mask=np.ones(len(emb), bool))
        fs.save(a.out)
        log.info("input %s: the representation %s, %s", a.out, a.embedding, emb.shape)
        return
    if spec.get("from_model"):
        if not (a.model and a.source_spec is not None and a.dataset):
            raise SystemExit(
                "an input from_model needs --model (the source run's model.pt), --source-spec "
                "(the source input's config entry) and --dataset (this data set's folder)"
            )
        _set_threads(a.threads)
        fs = _transfer_input(
            MultiViewDataset.load(a.dataset), a.model, spec["from_model"], a.source_spec, a.device
        )
        fs.save(a.out)
        log.info("transferred input %s: X %s from %s", a.out, fs.X.shape, a.model)
        return
    if a.derive is not None:
        from mmclust.features.combine import derive_input

        if not (a.base_features and a.base):
            raise SystemExit("an input of a derived data set needs --base-features and --base")
        fs = derive_input(
            FeatureSet.load(a.base_features), MultiViewDataset.load(a.base), a.derive, spec["views"]
        )
        fs.save(a.out)
        log.info("derived input %s: X %s, %d present", a.out, fs.X.shape, int(fs.mask.sum()))
        return
    ds = MultiViewDataset.load(a.dataset)
    if spec.get("extractor"):
        from mmclust.features.extract import build_extracted_input

        _set_threads(a.threads)
        fs = build_extracted_input(ds, spec, device=a.device)
    else:
        fs = build_input(
            ds, spec["views"], spec.get("transform", "standardize"), spec.get("factor")
        )
        if spec.get("pca_dim"):
            from mmclust.features.reduce import pca_reduce

            train = (ds.split == "train") & fs.mask if ds.split is not None else None
            fs.X = pca_reduce(fs.X, fs.mask, int(spec["pca_dim"]), fit_rows=train, seed=0)
    fs.save(a.out)
    log.info("input %s: X %s, %d present", a.out, fs.X.shape, int(fs.mask.sum()))


def _transfer_input(
    ds: Any, model_file: str, source: dict[str, Any], source_spec: dict[str, Any], device: str
) -> Any:
    """A data set's images represented by another run's network (inputs with from_model).

    The image view is the one the source input was built from when this data
    set has it, else this data set's only image view.  It is prepared with the
    source input's transform (so the network sees images scaled as in its
    training) and passed through the network up to ``source["layer"]``;
    images of another size or channel count are converted to the network's
    input shape first (:func:`mmclust.methods.jule.to_image_shape`).
    """
    import numpy as np

    from mmclust.data.dataset import DatasetError
    from mmclust.features import FeatureSet
    from mmclust.features.inputs import transform_view
    from mmclust.methods.jule import extract_layer

    images = [v for v in ds.views if ds.kinds[v] == "image"]
    named = [v for v in source_spec.get("views", []) if v in images]
    if len(named) == 1:
        view = named[0]
    elif len(images) == 1:
        view = images[0]
    else:
        raise DatasetError(
            f"{ds.name}: an input from_model needs one image view to represent; the data set "
            f"has image views {images} (the source input reads {source_spec.get('views')})"
        )
    x = ds.views[view]
    flat = transform_view(
        x, ds.masks[view], source_spec.get("transform", "standardize"), source_spec.get("factor")
    )
    chw = flat.reshape(x.shape)
    chw = chw[:, None] if chw.ndim == 3 else chw.transpose(0, 3, 1, 2)
    X = extract_layer(model_file, chw, source["layer"], device=device)
    return FeatureSet(X=np.ascontiguousarray(X, dtype=np.float32), mask=ds.masks[view].copy())


def cmd_pretrain(a: argparse.Namespace) -> None:
    from mmclust.features import FeatureSet
    from mmclust.io import save_npy
    from mmclust.nn import DenoisingAutoencoder

    _set_threads(a.threads)
    fs = FeatureSet.load(a.features)
    train = _train_rows(a.split_from, fs.X.shape[0])
    X = fs.X[fs.mask if train is None else fs.mask & train]
    t0 = time.perf_counter()
    ae = DenoisingAutoencoder(**a.params, random_state=a.seed, device=a.device).fit(X)
    log.info(
        "pretrained on %d samples in %.1f s, final loss %.5f",
        X.shape[0], time.perf_counter() - t0, ae.loss_history_[-1],
    )  # fmt: skip
    save_npy(a.embedding, ae.transform(fs.X))
    ae.save(a.model)


def _train_rows(data_file: str | None, n: int) -> Any:
    """The training rows of a data set with a train/test split (None without one).

    Only the ``split`` array of ``data.npz`` is read, never the classes.
    """
    if not data_file:
        return None
    import numpy as np

    with np.load(data_file, allow_pickle=False) as z:
        if "split" not in z.files:
            return None
        split = z["split"]
    if split.shape != (n,):
        raise SystemExit(f"{data_file}: split has {split.shape[0]} rows, the input {n}")
    return split == "train"


def _as_images(X: Any, meta: dict[str, Any]) -> tuple[Any, tuple[int, int, int]]:
    """Rows of flattened images in channel-first order, and their (C, H, W).

    The input must be the raw pixels of the data set's one image view (stored
    (H, W) or (H, W, C), flattened in that order).
    """
    import numpy as np

    shapes = [v["shape"] for v in meta["views"].values() if v["kind"] == "image"]
    match = [s for s in shapes if int(np.prod(s)) == X.shape[1]]
    if len(match) != 1:
        raise SystemExit(
            f"this method learns from images: give it the raw pixels of an image view "
            f"(an input with views: [image] and no extractor); input width {X.shape[1]}, "
            f"image views {shapes}"
        )
    shape = match[0]
    if len(shape) == 2:
        return X, (1, shape[0], shape[1])
    h, w, c = shape
    chw = X.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(X.shape[0], -1)
    return np.ascontiguousarray(chw), (c, h, w)


def cmd_cluster(a: argparse.Namespace) -> None:
    import numpy as np

    from mmclust.features import FeatureSet
    from mmclust.io import read_json, save_npy, write_json
    from mmclust.methods import PRETRAINED
    from mmclust.methods.registry import load, parameters
    from mmclust.nn import DenoisingAutoencoder

    _set_threads(a.threads)
    params = dict(a.params)
    name = params.pop("estimator")
    cls = load(name)
    n_clusters = a.n_clusters or int(read_json(a.meta)["k"])
    kwargs: dict[str, Any] = {"n_clusters": n_clusters, "random_state": a.seed}
    multiview = bool(getattr(cls, "multiview", False))
    if name in PRETRAINED:
        if not a.autoencoder:
            raise SystemExit(f"method {name!r} needs --autoencoder (a pretrained model)")
        aes = [DenoisingAutoencoder.load(p, device=a.device) for p in a.autoencoder]
        if multiview:
            kwargs["autoencoders"] = aes
        elif len(aes) != 1:
            raise SystemExit(f"method {name!r} takes one --autoencoder, got {len(aes)}")
        else:
            kwargs["autoencoder"] = aes[0]
    accepted = parameters(name)
    if "device" in accepted:
        kwargs["device"] = a.device
    fs = FeatureSet.load(a.features)
    if "image_shape" in accepted:
        fs.X, kwargs["image_shape"] = _as_images(fs.X, read_json(a.meta))
    train = _train_rows(a.split_from, fs.X.shape[0])
    if train is not None and not hasattr(cls, "predict"):
        raise SystemExit(
            f"the data set has a train/test split but {name!r} cannot assign samples it was "
            "not fitted on (no predict): run it on a data set without a split"
        )
    t0 = time.perf_counter()
    if multiview:
        if not fs.parts:
            raise SystemExit(
                f"method {name!r} is multi-view: give it a composite input "
                "(inputs.<data set>.<name>: {combine: [image input, text input]})"
            )
        views, masks = list(fs.parts.values()), list(fs.part_masks.values())
        model = cls(**params, **kwargs)
        if train is None:
            model.fit(views, masks=masks)
            labels, embedding = model.labels_, model.embedding_
        else:
            model.fit([v[train] for v in views], masks=[m[train] for m in masks])
            labels = model.predict(views, masks=masks)
            embedding = model.transform(views, masks=masks)
    else:
        if not fs.mask.all():
            raise SystemExit(
                f"{a.features}: {int((~fs.mask).sum())} samples lack a view of this input; "
                f"{name!r} needs complete data (use a multi-view method, or an input "
                "whose views every sample has)"
            )
        model = cls(**params, **kwargs)
        if train is None:
            model.fit(fs.X)
            labels, embedding = model.labels_, model.embedding_
        else:
            model.fit(fs.X[train])
            labels = model.predict(fs.X)
            embedding = model.transform(fs.X) if hasattr(model, "transform") else fs.X
    seconds = time.perf_counter() - t0
    out = Path(a.out)
    save_npy(out / "embedding.npy", np.asarray(embedding, dtype=np.float32))
    info = {"estimator": name, "seed": a.seed, "fit_seconds": seconds}
    if train is not None:
        info["fitted_on"] = {"split": "train", "n": int(train.sum())}
    for attr in ("n_iter_", "stopped_early_", "inertia_"):
        if hasattr(model, attr):
            info[attr.rstrip("_")] = getattr(model, attr)
    write_json(out / "fit.json", info)
    _save_model(out / "model.pt", name, model)
    # labels last: their presence marks a finished fit
    save_npy(out / "labels.npy", np.asarray(labels, dtype=np.int64))
    log.info("%s fitted in %.1f s", name, seconds)


def _plain(value: Any) -> Any:
    """A parameter value as plain data (numbers, strings, lists, dicts); objects by type name."""
    import numpy as np

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return f"<{type(value).__name__}>"


def _save_model(path: Path, name: str, model: Any) -> None:
    """Write a run's ``model.pt`` (atomically), a dictionary read with ``weights_only=True``.

    ``estimator`` (the registry name), ``params`` (``get_params()``, objects
    such as a pretrained autoencoder given by their type name) and
    ``network``: what rebuilds and runs the trained network (constructor
    settings, input shape, ``state_dict`` on the CPU) for estimators that
    provide it through a ``network_state()`` method (JULE:
    :func:`mmclust.methods.jule.load_network` reads it), else None.
    """
    import torch

    from mmclust.io import atomic_path

    network = model.network_state() if hasattr(model, "network_state") else None
    state = {
        "format": 1,
        "estimator": name,
        "params": _plain(model.get_params(deep=False) if hasattr(model, "get_params") else {}),
        "network": network,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def cmd_evaluate(a: argparse.Namespace) -> None:
    import numpy as np

    from mmclust.data import MultiViewDataset
    from mmclust.io import read_json, write_json
    from mmclust.metrics import evaluate, mixed_modal_scores

    ds = MultiViewDataset.load(a.dataset)
    pred = np.load(a.labels)
    if pred.shape != ds.labels.shape:
        raise SystemExit(
            f"{a.labels} has {pred.shape[0]} predictions for {ds.n} samples of "
            f"{ds.name}: rerun the clustering job"
        )
    scored = ds.split == "test" if ds.split is not None else np.ones(ds.n, dtype=bool)
    scores = evaluate(ds.labels[scored], pred[scored])
    record = {**a.run, **scores}
    if ds.split is not None:
        # the papers' protocol with a split: fitted on train, scored on test
        record.update(scored_on="test", n_scored=int(scored.sum()))
    modalities = (ds.meta.get("mixed_modal") or {}).get("views")
    if modalities:
        # mixed-modal data: the same scores per modality, and across them
        first = ds.masks[modalities[0]][scored]
        record.update(mixed_modal_scores(ds.labels[scored], pred[scored], first))
    if a.fit_info:
        record["fit_seconds"] = read_json(a.fit_info).get("fit_seconds")
    write_json(a.out, record)
    log.info("%s: %s", a.run, {k: round(v, 4) for k, v in scores.items()})


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


def cmd_claims(a: argparse.Namespace) -> None:
    from mmclust.report.claims import ClaimsError, write_claims_tables

    try:
        detail = write_claims_tables(a.claims, a.tables or [], a.spec, a.csv, a.md)
    except ClaimsError as err:
        raise SystemExit(str(err)) from None
    counts = detail["status"].value_counts().to_dict()
    log.info("claims: %s", ", ".join(f"{n} {s}" for s, n in counts.items()))


# -- parser -------------------------------------------------------------------------


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
    s.add_argument("source", help="entry of the source registry, e.g. mnist, coco2014")
    s.add_argument("raw_dir")
    s.add_argument("--allow-unverified", action="store_true")

    s = add("features", cmd_features, "build one clustering input from a data set's views")
    s.add_argument("--dataset", help="prepared data-set folder")
    s.add_argument("--spec", type=_json, required=True, help="the input's config entry")
    s.add_argument("--parts", nargs="+", help="a composite input's part files, in order")
    s.add_argument("--embedding", help="a run's embedding.npy, used as the input (from_run)")
    s.add_argument(
        "--model", help="another run's model.pt whose network represents --dataset (from_model)"
    )
    s.add_argument(
        "--source-spec", type=_json, help="from_model: the config entry of the source run's input"
    )
    s.add_argument(
        "--derive", type=_json, help="a derived data set's config entry: restrict --base-features"
    )
    s.add_argument("--base-features", help="the base data set's input of the same name")
    s.add_argument("--base", help="the base data set's folder")
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
        "--out",
        required=True,
        help="run folder: labels.npy, embedding.npy, fit.json, model.pt",
    )
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)

    s = add("evaluate", cmd_evaluate, "score a run's predictions against the classes")
    s.add_argument("--dataset", required=True)
    s.add_argument("--labels", required=True)
    s.add_argument("--fit-info")
    s.add_argument("--run", type=_json, default={}, help="identifiers stored with the scores")
    s.add_argument("--out", required=True)

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

    try:
        args.func(args)
    except DatasetError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
