"""Which estimator a config ``estimator:`` name means, and what it accepts.

The workflow validates every method entry of the config before any job runs.
The accepted keys and their types come from the estimator's own ``__init__``
signature, read from the source with :mod:`ast` (nothing is imported, so the
check costs no torch start-up): the signature is the one source of truth for
a method's parameters.  Parameters the workflow sets itself (``n_clusters``,
``random_state``, ``device``, ``precision``, ``verbose``, and the pretrained
autoencoders) cannot be set in the config: ``device`` and ``precision`` come
from the top-level keys of the same names, for every method and the
pretraining alike.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path
from typing import Any

# estimator name -> "module:Class"
ESTIMATORS: dict[str, str] = {
    "kmeans": "mmclust.methods.classical.kmeans:KMeansBaseline",
    "dec": "mmclust.methods.deep.dec:DEC",
    "idec": "mmclust.methods.deep.dec:IDEC",
    "jecl": "mmclust.methods.jecl:JECL",
    # the multi-view and incomplete-view baselines of the JECL table
    "vse": "mmclust.methods.deep.vse:VSE",
    "dcca": "mmclust.methods.deep.dcca:DCCA",
    "ccal": "mmclust.methods.deep.ccal:CCAL",
    "bmvc": "mmclust.methods.multiview.bmvc:BMVC",
    "mlrssc": "mmclust.methods.multiview.lrssc:MultiViewLRSSC",
    "dmf-mvc": "mmclust.methods.multiview.dmf_mvc:DMFMVC",
    "pic": "mmclust.methods.multiview.pic:PIC",
    "daimc": "mmclust.methods.multiview.daimc:DAIMC",
    # DM2C and the deep baselines of its tables
    "dm2c": "mmclust.methods.dm2c:DM2C",
    "dkm": "mmclust.methods.deep.dkm:DKM",
    "dcn": "mmclust.methods.deep.dcn:DCN",
    "imsat": "mmclust.methods.deep.imsat:IMSAT",
    # JULE and the graph-degree-linkage agglomerative clustering it builds on
    "jule": "mmclust.methods.jule:JULE",
    "ac-gdl": "mmclust.methods.classical.gdl:ACGDL",
    # the classical baselines of the JULE tables
    "sc-njw": "mmclust.methods.classical.spectral:SCNJW",
    "sc-st": "mmclust.methods.classical.spectral:SCST",
    "sc-ls": "mmclust.methods.classical.spectral:SCLS",
    "n-cuts": "mmclust.methods.classical.spectral:NCuts",
    "ac-link": "mmclust.methods.classical.agglomerative:ACLink",
    "ac-zell": "mmclust.methods.classical.agglomerative:ACZell",
    "ac-pic": "mmclust.methods.classical.agglomerative:ACPIC",
    "nmf-lp": "mmclust.methods.classical.nmf:NMFLP",
    "nmf-d": "mmclust.methods.classical.nmf:NMFD",
}
# fine-tune the shared pretrained autoencoder(s) of their input (or its parts)
PRETRAINED = frozenset({"dec", "idec", "jecl", "dkm", "dcn"})
# fit takes the parts of a composite input, one per view, with their masks
MULTIVIEW = frozenset(
    {"jecl", "dm2c", "vse", "dcca", "ccal", "bmvc", "mlrssc", "dmf-mvc", "pic", "daimc"}
)
# estimators whose fit never imports torch (NumPy, SciPy and scikit-learn only): their
# cluster jobs skip torch's start-up and its thread setting (tests/test_lazy_imports.py
# fits each of them in a fresh interpreter to check)
TORCH_FREE = frozenset(
    {"kmeans", "sc-njw", "sc-st", "sc-ls", "n-cuts", "ac-link", "ac-zell", "ac-pic",
     "bmvc", "pic", "daimc"}
)  # fmt: skip
# estimators whose model.pt holds a network that represents other images (an input's
# from_model), and the layers features can be taken from (top: the output; top-1, top-2:
# the last and second-to-last conv blocks)
NETWORK_LAYERS: dict[str, tuple[str, ...]] = {"jule": ("top", "top-1", "top-2")}
# set by the workflow, never by the config
RESERVED = frozenset(
    {"n_clusters", "random_state", "device", "precision", "verbose", "autoencoder",
     "autoencoders", "pretrain_params", "image_shape"}
)  # fmt: skip
# reserved parameters that a top-level config key sets for every method
TOP_LEVEL = frozenset({"device", "precision"})


class MethodConfigError(ValueError):
    """A method entry of the config does not fit its estimator."""


def load(name: str) -> type:
    """The estimator class of a config name."""
    if name not in ESTIMATORS:
        raise MethodConfigError(f"unknown estimator {name!r}; known: {sorted(ESTIMATORS)}")
    module, cls = ESTIMATORS[name].split(":")
    return getattr(importlib.import_module(module), cls)


@functools.cache
def parameters(name: str) -> dict[str, Any]:
    """``{parameter: default}`` of an estimator's ``__init__``, read from its source."""
    if name not in ESTIMATORS:
        raise MethodConfigError(f"unknown estimator {name!r}; known: {sorted(ESTIMATORS)}")
    module, cls = ESTIMATORS[name].split(":")
    path = Path(__file__).resolve().parents[2] / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(), str(path))
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
    if node is None:
        raise MethodConfigError(f"{path} has no class {cls}")
    init = next(
        (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
    )
    if init is None:
        raise MethodConfigError(f"{cls} has no __init__ of its own")
    args = init.args.args[1:]
    defaults = [None] * (len(args) - len(init.args.defaults)) + list(init.args.defaults)
    out: dict[str, Any] = {}
    for arg, default in zip(args, defaults, strict=True):
        try:
            out[arg.arg] = ast.literal_eval(default) if default is not None else None
        except ValueError:
            out[arg.arg] = None  # a default that is an expression: any type
    for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True):
        try:
            out[arg.arg] = ast.literal_eval(default) if default is not None else None
        except ValueError:
            out[arg.arg] = None
    return out


def _type_ok(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def check_params(name: str, params: dict[str, Any], where: str) -> None:
    """Raise :class:`MethodConfigError` naming the key when ``params`` do not fit."""
    accepted = parameters(name)
    for key, value in params.items():
        if key == "estimator":
            continue
        if key in TOP_LEVEL:
            raise MethodConfigError(
                f"{where}.{key}: set for every method by the top-level key {key!r}, not per method"
            )
        if key in RESERVED:
            raise MethodConfigError(f"{where}.{key}: set by the workflow, not in the config")
        if key not in accepted:
            options = ", ".join(sorted(k for k in accepted if k not in RESERVED))
            raise MethodConfigError(
                f"{where}.{key}: estimator {name!r} has no parameter {key!r} (it takes: {options})"
            )
        if not _type_ok(value, accepted[key]):
            raise MethodConfigError(
                f"{where}.{key}: {value!r} does not match the type of the default {accepted[key]!r}"
            )
