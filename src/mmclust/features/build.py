"""Build one clustering input, whatever its kind.

The workflow's plan says what kind an input is (:data:`mmclust.plan.INPUT_KINDS`)
and which files it is made from; :func:`build_feature_set` makes it:

``plain``       views of the data set transformed and concatenated (:mod:`.inputs`)
``extractor``   one view through a feature extractor, then its transform (:mod:`.extract`)
``combine``     other inputs of the same data set as parts, each transformed (:mod:`.combine`)
``from_run``    a run's learned representation (``embedding.npy``), transformed
``from_model``  the data set's images through the network another run trained
``derived``     the base data set's input restricted to a derived data set's rows
``part``        one (transformed) part of a composite input's file

Every entry's keys are checked first (:func:`.inputs.check_input_spec`).  A
transform's statistics are fitted on the training split when the data set
has one: ``data`` (the data set's ``data.npz``) gives it to composites and
run representations too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.features.inputs import (
    FeatureSet,
    build_input,
    check_input_spec,
    transform_features,
    transform_view,
)
from mmclust.features.specs import input_transform

#: the kinds of input this module builds (the plan's INPUT_KINDS)
KINDS = ("part", "combine", "from_run", "from_model", "derived", "extractor", "plain")


def _folder(files: dict[str, Any], key: str) -> Path:
    if not files.get(key):
        raise DatasetError(f"this input needs its --{key.replace('_', '-')} file")
    return Path(files[key]).parent


def _train_rows(files: dict[str, Any], n: int) -> np.ndarray | None:
    """The training rows of the data set (``files["data"]``) when it has a split."""
    from mmclust.fitting import train_rows

    return train_rows(files.get("data"), n)


def build_feature_set(
    settings: dict[str, Any], files: dict[str, Any], device: str = "auto"
) -> FeatureSet:
    """The input described by ``settings`` (``kind``, ``spec`` and, by kind,
    ``source_spec`` or ``derive``: what the plan's ``feature_settings`` gives)
    from ``files`` (the plan's ``feature_inputs``: ``data``, ``parts``,
    ``embedding``, ``model``, ``base_features``, ``base``, ``composite``).

    The raw views a plain input reads are checked before their transform, and
    every input after it is built: a NaN or inf is an error that names the
    file, the first bad row and column, and the fix
    (:mod:`mmclust.validation`)."""
    fs = _build_feature_set(settings, files, device)
    check_output(fs, settings, files)
    return fs


def _build_feature_set(
    settings: dict[str, Any], files: dict[str, Any], device: str = "auto"
) -> FeatureSet:
    kind, spec = settings["kind"], settings["spec"]
    if kind not in KINDS:
        raise DatasetError(f"unknown input kind {kind!r}; the kinds are {', '.join(KINDS)}")
    check_input_spec(spec, "the input")
    if kind == "part":
        from mmclust.features.combine import part_of_composite

        if not files.get("composite"):
            raise DatasetError("a composite's part needs its --composite file")
        return part_of_composite(FeatureSet.load(files["composite"]), spec["part"])
    if kind == "combine":
        from mmclust.features.combine import combine_inputs

        paths = files.get("parts") or []
        if len(paths) != len(spec["combine"]):
            raise DatasetError(f"a composite input needs one part file per {spec['combine']}")
        parts = [FeatureSet.load(p) for p in paths]
        for path, part in zip(paths, parts, strict=True):
            check_input_file(part, path)
        return combine_inputs(
            parts,
            spec["combine"],
            mode=spec.get("mode", "concat"),
            transform=input_transform(spec),
            factor=spec.get("factor"),
            train=_train_rows(files, parts[0].X.shape[0]) if parts else None,
        )
    if kind == "from_run":
        emb = np.load(files["embedding"])
        fs = FeatureSet(X=np.ascontiguousarray(emb, dtype=np.float32), mask=np.ones(len(emb), bool))
        return transform_features(fs, spec, _train_rows(files, len(emb)))
    if kind == "derived":
        from mmclust.features.combine import derive_input

        base = MultiViewDataset.load(_folder(files, "base"))
        return derive_input(
            FeatureSet.load(files["base_features"]), base, settings["derive"], spec["views"]
        )
    ds = MultiViewDataset.load(_folder(files, "data"))
    if kind == "from_model":
        return transfer_input(
            ds, files["model"], spec["from_model"], settings["source_spec"], device
        )
    if kind == "extractor":
        from mmclust.features.extract import build_extracted_input

        check_view_present(ds, spec, files.get("data"))
        return build_extracted_input(ds, spec, device=device)
    check_raw_views(ds, spec, files.get("data"))
    fs = build_input(ds, spec["views"], input_transform(spec), spec.get("factor"))
    if spec.get("pca_dim"):
        from mmclust.features.reduce import pca_reduce

        train = (ds.split == "train") & fs.mask if ds.split is not None else None
        fs.X = pca_reduce(fs.X, fs.mask, int(spec["pca_dim"]), fit_rows=train, seed=0)
    return fs


def check_raw_views(ds: MultiViewDataset, spec: dict[str, Any], data_file: Any) -> None:
    """Before a plain input's transform: image files loaded as pixels when the input gives
    ``image_size`` (:mod:`.pixels`), no text view, and every present value of every view
    finite (a NaN would spread over its whole column under ``transform: standardize``)."""
    from mmclust.features.pixels import with_pixels
    from mmclust.validation import check_finite

    where = data_file or f"data set {ds.name!r}"
    missing = [v for v in spec["views"] if v not in ds.views]
    if missing:
        raise DatasetError(
            f"{where}: data set {ds.name!r} has no view(s) {missing}; its views are "
            f"{sorted(ds.views)}"
        )
    for v in spec["views"]:
        if ds.kinds.get(v) == "text":
            raise DatasetError(
                f"{where}: view {v!r} holds text (captions), which cannot be used as raw "
                "numbers; give the input a text extractor (extractor: doc2vec, bow or minilm)"
            )
    with_pixels(ds, spec["views"], spec, where=str(where))
    for v in spec["views"]:
        check_finite(
            ds.views[v],
            f"{where}: view {v!r}",
            rows=ds.masks[v],
            fix="clustering needs finite numbers: fix or remove those values in the files "
            "the data set was prepared from, then prepare it again",
        )


def check_view_present(ds: MultiViewDataset, spec: dict[str, Any], data_file: Any) -> None:
    """An extractor input's view must be present in some sample (a caption-only input of a
    data set whose captions are all empty has nothing to extract)."""
    for v in spec.get("views", []):
        if v in ds.masks and not ds.masks[v].any():
            raise DatasetError(
                f"{data_file or ds.name}: no sample of data set {ds.name!r} has view {v!r} "
                f"(all {ds.n} are missing, e.g. every caption is empty), so this input has "
                "nothing to extract: fill the view (the captions column of captions.tsv) or "
                "drop this input and the runs that use it"
            )


def check_input_file(fs: FeatureSet, path: Any) -> None:
    """An input read from a file (a composite's part) is finite where present."""
    from mmclust.validation import check_finite

    check_finite(
        fs.X, str(path), rows=fs.mask, fix="rebuild that input, or fix the values it was made from"
    )


def check_output(fs: FeatureSet, settings: dict[str, Any], files: dict[str, Any]) -> None:
    """Every present row of a built input (and of its parts) is finite."""
    from mmclust.validation import check_finite

    source = files.get("data") or files.get("embedding") or files.get("base_features")
    if files.get("parts"):
        source = ", ".join(map(str, files["parts"]))
    what = f"the {settings['kind']} input" + (f" built from {source}" if source else "")
    fix = "its source holds or produced non-finite values; fix the source and rebuild"
    check_finite(fs.X, what, rows=fs.mask, fix=fix)
    for name, part in fs.parts.items():
        check_finite(part, f"{what} (part {name!r})", rows=fs.part_masks[name], fix=fix)


def transfer_input(
    ds: MultiViewDataset,
    model_file: str,
    source: dict[str, Any],
    source_spec: dict[str, Any],
    device: str,
) -> FeatureSet:
    """A data set's images represented by another run's network (inputs with from_model).

    The image view is the one the source input was built from when this data
    set has it, else this data set's only image view.  It is prepared with the
    source input's transform (so the network sees images scaled as in its
    training) and passed through the network up to ``source["layer"]``;
    images of another size or channel count are converted to the network's
    input shape first (:func:`mmclust.methods.jule.to_image_shape`).
    """
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
        x, ds.masks[view], input_transform(source_spec), source_spec.get("factor")
    )
    chw = flat.reshape(x.shape)
    chw = chw[:, None] if chw.ndim == 3 else chw.transpose(0, 3, 1, 2)
    X = extract_layer(model_file, chw, source["layer"], device=device)
    return FeatureSet(X=np.ascontiguousarray(X, dtype=np.float32), mask=ds.masks[view].copy())
