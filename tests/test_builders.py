"""The builder registry: lazy imports, one module per data set, options and declared views."""

from __future__ import annotations

import hashlib
import inspect
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

from mmclust.data import DatasetError, build, declared_views
from mmclust.data.builders import BUILDERS, accepted_options, check_options, load

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted({target.split(":")[0] for target in BUILDERS.values()})
HEAVY = ("torch", "h5py", "PIL", "scipy", "sklearn", "mlxtend")


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (this source tree first on the path); its stdout."""
    env_path = str(ROOT / "src")
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r})\n{code}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("module", [*MODULES, "mmclust.data.builders._common"])
def test_each_builder_module_imports_alone(module):
    """No import cycle: every module imports first, in a fresh interpreter."""
    _python(f"import {module}")


def test_builder_modules_import_no_heavy_reader():
    """Importing every builder and reading its options and views stays light."""
    got = _python(
        "import sys\n"
        "from mmclust.data.builders import BUILDERS, accepted_options, declared_views\n"
        "for s in BUILDERS:\n"
        "    accepted_options(s)\n"
        "    declared_views(s)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert got.strip() == "[]"


def test_building_mfeat_imports_only_its_module():
    got = _python(
        "import sys\n"
        "from mmclust.data import build\n"
        "ds = build('mfeat', 'mfeat', {'views': ['mor']})\n"
        "print(ds.n, sorted(m for m in sys.modules if m.startswith('mmclust.data.builders.')),"
        f" sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert got.split(" ", 1) == [
        "2000",
        "['mmclust.data.builders._common', 'mmclust.data.builders.mfeat'] []\n",
    ]


def test_registry_matches_the_config_schema():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    entry = schema["properties"]["datasets"]["additionalProperties"]["properties"]["source"]
    assert sorted(entry["enum"]) == sorted(BUILDERS)


@pytest.mark.parametrize("source", sorted(BUILDERS))
def test_every_source_resolves_declares_views_and_lists_its_options(source):
    fn = load(source)
    assert callable(fn) and "name" in inspect.signature(fn).parameters
    options = accepted_options(source)
    assert "name" not in options
    assert list(options) == [p for p in inspect.signature(fn).parameters if p != "name"]
    views = declared_views(source)
    assert views in {("image",), ("image", "text")} or source == "mfeat"


def test_declared_views_of_mfeat_follow_its_options():
    assert declared_views("mfeat") == ("fou", "fac", "kar", "pix", "zer", "mor")
    assert declared_views("mfeat", {"views": ["pix", "fou"]}) == ("pix", "fou")
    with pytest.raises(DatasetError, match=r"mfeat has no views \['colour'\]"):
        declared_views("mfeat", {"views": ["pix", "colour"]})


@pytest.mark.parametrize(
    ("source", "options"),
    [
        ("mfeat", {"views": ["kar", "fou"]}),
        ("digits", {}),
        ("synthetic_captions", {"source": "digits", "sentences": 1}),
    ],
)
def test_declared_views_are_the_views_built(source, options):
    assert tuple(build(source, "d", options).views) == declared_views(source, options)


def test_declared_views_and_options_reject_what_the_builder_would():
    with pytest.raises(DatasetError, match=r"unknown data source 'nope'"):
        declared_views("nope")
    with pytest.raises(
        DatasetError, match=r"no option\(s\) \['colour'\]; its options are \['caption_join'"
    ):
        declared_views("coco", {"colour": True})
    check_options("coco", {"raw_dir": "x", "split": "val2014"})
    assert list(accepted_options("coco")) == [
        "raw_dir", "split", "categories", "min_per_class", "caption_join",
    ]  # fmt: skip


def test_a_module_without_a_views_declaration_gives_none(monkeypatch):
    module = types.ModuleType("undeclared_builder")
    module.build = lambda name: None
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(BUILDERS, "undeclared", "undeclared_builder:build")
    assert declared_views("undeclared") is None


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def test_offline_builds_keep_their_bytes():
    """Digests recorded before the builders were split into modules: same seed, same data."""
    ds = build(
        "synthetic_captions",
        "c",
        {"source": "digits", "seed": 3, "colour": False, "missing_rate": 0.2, "sentences": 2},
    )
    got = {k: _sha256(x) for k, x in ds.views.items()}
    got.update(labels=_sha256(ds.labels), text_mask=_sha256(ds.masks["text"]))
    assert got == {
        "image": "7adc52337d116ecc",
        "text": "514d913dcd462614",
        "labels": "a3c91c262eddcf7b",
        "text_mask": "26420af613bf873c",
    }
    assert ds.views["text"].dtype == "<U91"
    digits = build("digits", "digits")
    assert _sha256(digits.views["image"]) == "b41ca9fd335466ee"
