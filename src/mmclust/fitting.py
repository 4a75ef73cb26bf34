"""One clustering run: fit a method on an input with a seed and write its folder.

:func:`fit_run` is what the workflow's ``cluster`` job does (the command line
only parses arguments): it builds the estimator from its registry name and
settings, gives it the pretrained autoencoder(s) it fine-tunes, fits it on the
training split when the data set has one (predicting every sample) and
returns the labels, the learned representation and a record of the fit.
:func:`write_run` writes the run folder; ``labels.npy`` comes last, so its
presence marks a finished run.

``fit.json`` records the fit: estimator, seed, seconds, the rows it was
fitted on, for an estimator with a ``precision`` parameter the precision the
fit really used (``precision``: tf32 off CUDA is fp32; ``precision_requested``
beside it when that differs from the configured one, see
:mod:`mmclust.nn.precision`) and, for an iterative estimator that keeps one, its
label-free convergence record (``convergence_``: ``converged``, the ``rule`` that
decides, the method's signals), which the evaluation copies into
``metrics.json`` and the tables footnote.

Every run folder holds ``params.json``: the estimator's parameters as fitted
(``get_params()``), the run's settings with where each came from (the plan's
provenance), the package versions and the sha256 of every file the run read —
enough to say which settings and which inputs produced a table cell.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmclust.io import atomic_path, read_json, save_npy, write_json

log = logging.getLogger(__name__)

#: packages whose versions every params.json records
VERSIONED = ("mmclust", "numpy", "scipy", "scikit-learn", "torch", "torchvision", "gensim")


@dataclass
class RunResult:
    """What a fitted run leaves: predictions for every sample, the representation
    the method clustered, the fitted estimator and a record of the fit."""

    labels: np.ndarray
    embedding: np.ndarray
    model: Any
    info: dict[str, Any] = field(default_factory=dict)


class RunError(ValueError):
    """A run that cannot be made as configured (the message says why and how to fix it)."""


def train_rows(data_file: str | Path | None, n: int) -> np.ndarray | None:
    """The training rows of a data set with a train/test split (None without one).

    Only the ``split`` array of ``data.npz`` is read, never the classes.
    """
    if not data_file:
        return None
    with np.load(data_file, allow_pickle=False) as z:
        if "split" not in z.files:
            return None
        split = z["split"]
    if split.shape != (n,):
        raise RunError(f"{data_file}: split has {split.shape[0]} rows, the input {n}")
    return split == "train"


def as_images(X: np.ndarray, meta: dict[str, Any]) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Rows of flattened images in channel-first order, and their (C, H, W).

    The input must be the raw pixels of the data set's one image view (stored
    (H, W) or (H, W, C), flattened in that order).
    """
    shapes = [v["shape"] for v in meta["views"].values() if v["kind"] == "image"]
    match = [s for s in shapes if int(np.prod(s)) == X.shape[1]]
    if len(match) != 1:
        raise RunError(
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


def loaded_pixels_meta(meta: dict[str, Any], input_spec: dict[str, Any] | None) -> dict[str, Any]:
    """``meta`` as the input sees it: an image view the input loaded or resized with
    ``image_size`` (:mod:`mmclust.features.pixels`) becomes an image view of that shape,
    so that methods that learn from images find their (C, H, W)."""
    from mmclust.features.pixels import pixel_shape

    shape = pixel_shape(input_spec or {})
    if shape is None:
        return meta
    views = dict(meta.get("views", {}))
    for v in (input_spec or {}).get("views", []):
        if v in views and views[v].get("kind") in ("image", "image_file"):
            views[v] = {**views[v], "kind": "image", "shape": shape, "dim": int(np.prod(shape))}
    return {**meta, "views": views}


def fit_run(
    features: Any,
    settings: dict[str, Any],
    meta: dict[str, Any],
    seed: int,
    *,
    autoencoders: list[Any] | None = None,
    train: np.ndarray | None = None,
    n_clusters: int | None = None,
    device: str = "auto",
    precision: str = "fp32",
) -> RunResult:
    """Fit the method of ``settings`` (its config entry: ``estimator`` and parameters)
    on ``features`` (a :class:`~mmclust.features.FeatureSet`) with ``seed``.

    ``meta`` is the data set's meta.json (k, views); ``autoencoders`` the
    pretrained autoencoder(s) of methods that fine-tune one (one per part for
    multi-view methods); ``train`` the training rows of a data set with a
    split (the method is fitted on them and predicts every sample); ``device``
    and ``precision`` the run-level settings, given to estimators that take them.
    """
    from mmclust.methods.registry import MULTIVIEW, PRETRAINED, load, parameters

    params = dict(settings)
    name = params.pop("estimator")
    cls = load(name)
    kwargs: dict[str, Any] = {"n_clusters": n_clusters or int(meta["k"]), "random_state": seed}
    multiview = name in MULTIVIEW
    if name in PRETRAINED:
        if not autoencoders:
            raise RunError(f"method {name!r} needs a pretrained autoencoder (--autoencoder)")
        if multiview:
            kwargs["autoencoders"] = list(autoencoders)
        elif len(autoencoders) != 1:
            raise RunError(f"method {name!r} takes one autoencoder, got {len(autoencoders)}")
        else:
            kwargs["autoencoder"] = autoencoders[0]
    accepted = parameters(name)
    if "device" in accepted:
        kwargs["device"] = device
    used_precision = None
    if "precision" in accepted:
        from mmclust.nn.precision import effective_precision
        from mmclust.nn.utils import resolve_device

        kwargs["precision"] = precision
        used_precision = effective_precision(precision, resolve_device(device))
    elif precision != "fp32":
        log.info("%s has no reduced-precision mode: precision %s does not apply", name, precision)
    X = features.X
    if "image_shape" in accepted:
        X, kwargs["image_shape"] = as_images(X, meta)
    if train is not None and not hasattr(cls, "predict"):
        raise RunError(
            f"the data set has a train/test split but {name!r} cannot assign samples it was "
            "not fitted on (no predict): run it on a data set without a split"
        )
    n_fit = int(train.sum()) if train is not None else X.shape[0]
    if not 2 <= kwargs["n_clusters"] <= n_fit:
        raise RunError(
            f"k = {kwargs['n_clusters']} clusters for {n_fit} samples"
            + (" (the training split)" if train is not None else "")
            + ": clustering needs 2 <= k <= n (k is the number of classes of the data set, "
            "from its meta.json, or --n-clusters)"
        )
    model = cls(**params, **kwargs)
    t0 = time.perf_counter()
    if multiview:
        if not features.parts:
            raise RunError(
                f"method {name!r} is multi-view: give it a composite input "
                "(inputs.<data set>.<name>: {combine: [image input, text input]})"
            )
        views, masks = list(features.parts.values()), list(features.part_masks.values())
        if train is None:
            model.fit(views, masks=masks)
            labels, embedding = model.labels_, model.embedding_
        else:
            model.fit([v[train] for v in views], masks=[m[train] for m in masks])
            labels = model.predict(views, masks=masks)
            embedding = model.transform(views, masks=masks)
    else:
        if not features.mask.all():
            raise RunError(
                f"{int((~features.mask).sum())} samples lack a view of this input; {name!r} "
                "needs complete data (use a multi-view method, or an input whose views every "
                "sample has)"
            )
        if train is None:
            model.fit(X)
            labels, embedding = model.labels_, model.embedding_
        else:
            model.fit(X[train])
            labels = model.predict(X)
            embedding = model.transform(X) if hasattr(model, "transform") else X
    info: dict[str, Any] = {
        "estimator": name,
        "seed": seed,
        "fit_seconds": time.perf_counter() - t0,
    }
    if train is not None:
        info["fitted_on"] = {"split": "train", "n": int(train.sum())}
    if used_precision is not None:
        info["precision"] = used_precision
        if used_precision != precision:
            info["precision_requested"] = precision
    for attr in ("n_iter_", "stopped_early_", "inertia_"):
        if hasattr(model, attr):
            info[attr.rstrip("_")] = getattr(model, attr)
    # an iterative estimator's label-free convergence record (converged, rule, signals)
    convergence = getattr(model, "convergence_", None)
    if convergence is not None:
        info["convergence"] = plain(convergence)
    # an approximation the estimator chose by itself (e.g. MultiViewLRSSC's landmarks)
    approximation = getattr(model, "approximation_", None)
    if approximation:
        info["approximation"] = str(approximation)
    result = RunResult(
        labels=np.asarray(labels, dtype=np.int64),
        embedding=np.asarray(embedding, dtype=np.float32),
        model=model,
        info=info,
    )
    check_result(result, X.shape[0], kwargs["n_clusters"])
    return result


def check_result(result: RunResult, n: int, k: int) -> None:
    """A RunError unless the fit gave one label in 0..k-1 per sample and a finite embedding.

    Nothing is written before this check passes, so a diverged fit never leaves a
    run folder that looks finished.
    """
    from mmclust.validation import first_nonfinite

    name = result.info.get("estimator", "the method")
    labels = result.labels
    if labels.shape != (n,):
        raise RunError(f"{name} returned {labels.shape} labels for {n} samples")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise RunError(
            f"{name} returned cluster ids outside 0..{k - 1} "
            f"(min {labels.min()}, max {labels.max()}); nothing is written"
        )
    hit = first_nonfinite(result.embedding)
    if hit is not None:
        r, c, value, n_values, _ = hit
        raise RunError(
            f"{name}: its learned representation holds {n_values} non-finite value(s) "
            f"(first: row {r}, column {c} is {value}): the training diverged and nothing is "
            "written. Lower the learning rate (lr) or check the input for extreme values"
        )


def plain(value: Any) -> Any:
    """A parameter value as plain data (numbers, strings, lists, dicts); objects by type name."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return f"<{type(value).__name__}>"


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in VERSIONED:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


#: the first bytes of a zip archive: torch.save's container
_ZIP_MAGIC = b"PK\x03\x04"


def save_model(path: Path, name: str, model: Any) -> None:
    """Write a run's ``model.pt`` (atomically): the dictionary :func:`read_model` returns.

    ``format`` (1), ``estimator`` (the registry name), ``params``
    (``get_params()``, objects such as a pretrained autoencoder given by their
    type name) and ``network``: what rebuilds and runs the trained network
    (constructor settings, input shape, ``state_dict`` on the CPU) for
    estimators that provide it through a ``network_state()`` method (JULE:
    :func:`mmclust.methods.jule.load_network` reads it), else None.

    With a network the file is ``torch.save``'s (read with
    ``weights_only=True``); without one, every other estimator, it is the same
    dictionary as JSON, so that a run of a method that does not compute with
    torch never imports it.
    """
    network = model.network_state() if hasattr(model, "network_state") else None
    state = {
        "format": 1,
        "estimator": name,
        "params": plain(model.get_params(deep=False) if hasattr(model, "get_params") else {}),
        "network": network,
    }
    if network is None:
        write_json(path, state)
        return
    import torch

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_model(path: str | Path) -> dict[str, Any]:
    """A run's ``model.pt`` as :func:`save_model` writes it, JSON or ``torch.save``'s.

    Files written by ``torch.save`` (those with a network, and every run's
    before the JSON form) are read with ``weights_only=True`` (only then is
    torch imported).
    """
    with open(path, "rb") as fh:
        head = fh.read(len(_ZIP_MAGIC))
    if head != _ZIP_MAGIC:
        return read_json(path)
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def write_run(
    out: str | Path,
    result: RunResult,
    provenance: dict[str, Any] | None = None,
    read: dict[str, Any] | None = None,
) -> None:
    """The run folder: embedding.npy, fit.json, params.json, model.pt, then labels.npy.

    ``provenance`` is the plan's record of the run (settings and their
    sources, input spec, data-set lineage); ``read`` maps a role to the
    file(s) the run read, hashed into params.json.
    """
    out = Path(out)
    name = result.info["estimator"]
    save_npy(out / "embedding.npy", result.embedding)
    write_json(out / "fit.json", result.info)
    hashes = {
        role: [
            {"path": str(p), "sha256": sha256(p)}
            for p in (paths if isinstance(paths, list) else [paths])
        ]
        for role, paths in (read or {}).items()
        if paths
    }
    model = result.model
    write_json(
        out / "params.json",
        {
            "estimator": name,
            "params": plain(model.get_params(deep=False) if hasattr(model, "get_params") else {}),
            "run": provenance or {},
            "versions": versions(),
            "inputs": hashes,
        },
    )
    save_model(out / "model.pt", name, model)
    # labels last: their presence marks a finished fit
    save_npy(out / "labels.npy", result.labels)
