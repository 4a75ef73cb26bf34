"""Bad input never gives a wrong result or a finished-looking corrupt output.

Each case feeds one kind of bad input a new user could give (a data file, a
captions table, a config, an input matrix, a training setting) and asserts a
clear error that names what is wrong, where, and the fix, or correct
handling.  Most run in-process (builders, the plan, the feature build, the
estimators, the command line's ``main``); the ``slow`` ones go through
Snakemake to show that a failed job leaves no output a later run takes as
finished.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from mmclust.cli import main
from mmclust.data.builders import build
from mmclust.data.builders.captioned_folder import captioned_folder
from mmclust.data.dataset import DatasetError, MultiViewDataset
from mmclust.features.build import build_feature_set
from mmclust.features.inputs import FeatureSet
from mmclust.plan import ConfigError, Plan
from mmclust.validation import NonFiniteError, TrainingDivergedError
from tests.helpers import REPO, TINY, snakemake

# -- helpers ---------------------------------------------------------------------------------


def _png(path: Path, colour: tuple[int, int, int] = (255, 0, 0), size=(12, 9)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def _folder(root: Path, table: str | bytes, images=("a.png", "b.png", "c.png", "d.png")) -> Path:
    """``root`` with ``images/<names>`` (red, green, red, green) and ``captions.tsv``."""
    for i, name in enumerate(images):
        _png(root / "images" / name, (255, 0, 0) if i % 2 == 0 else (0, 255, 0))
    data = table if isinstance(table, bytes) else table.encode("utf-8")
    (root / "captions.tsv").write_bytes(data)
    return root


GOOD = "image\tcaption\tlabel\na.png\ta red one\tred\nb.png\ta green one\tgreen\n"


def _mine(root: Path, table: str | bytes = GOOD, **options) -> MultiViewDataset:
    _folder(root, table)
    return captioned_folder("mine", root, image_dir="images", **options)


def _vectors(tmp: Path, x: np.ndarray, mask: np.ndarray | None = None) -> Path:
    """A saved data set with one vector view ``v`` (and labels 0, 1, 0, 1, ...)."""
    n = x.shape[0]
    ds = MultiViewDataset(
        name="vec",
        views={"v": x},
        labels=np.arange(n) % 2,
        kinds={"v": "vector"},
        masks={"v": np.ones(n, bool) if mask is None else mask},
        class_names=["a", "b"],
    )
    ds.save(tmp / "ds")
    return tmp / "ds" / "data.npz"


def _plain(views=("v",), transform="standardize", **extra) -> dict:
    return {"kind": "plain", "spec": {"views": list(views), "transform": transform, **extra}}


def _clean(n=40, d=5, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _tiny() -> dict:
    return yaml.safe_load(TINY.read_text())


def _config_fails(cfg: dict, pattern: str) -> str:
    with pytest.raises(ConfigError) as err:
        Plan(cfg)
    assert re.search(pattern, str(err.value)), str(err.value)
    assert len(str(err.value)) < 600  # a message, not a schema dump
    return str(err.value)


# -- NaN and inf where numbers enter -----------------------------------------------------------


@pytest.mark.parametrize("transform", ["standardize", "scale", "none"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_in_a_raw_view_names_file_row_and_column(tmp_path, transform, bad):
    x = _clean()
    x[7, 3] = bad
    data = _vectors(tmp_path, x)
    with pytest.raises(NonFiniteError) as err:
        build_feature_set(_plain(transform=transform), {"data": str(data)})
    msg = str(err.value)
    assert str(data) in msg and "view 'v'" in msg and "row 7, column 3" in msg
    assert "finite" in msg and "fix" in msg


def test_standardize_never_spreads_a_nan_it_is_caught_before(tmp_path):
    x = _clean()
    x[0, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"row 0, column 0 is nan"):
        build_feature_set(_plain(), {"data": str(_vectors(tmp_path, x))})


def test_many_bad_values_are_counted(tmp_path):
    x = _clean()
    x[[3, 3, 9], [1, 2, 4]] = np.nan
    with pytest.raises(NonFiniteError, match=r"row 3, column 1 is nan \(3 non-finite values in 2"):
        build_feature_set(_plain(), {"data": str(_vectors(tmp_path, x))})


def test_a_nan_in_a_row_without_the_view_is_never_read(tmp_path):
    x = _clean()
    x[5] = np.nan
    mask = np.ones(len(x), bool)
    mask[5] = False
    fs = build_feature_set(_plain(), {"data": str(_vectors(tmp_path, x, mask))})
    assert np.isfinite(fs.X).all() and not fs.mask[5]
    np.testing.assert_allclose(fs.X[fs.mask].mean(0), 0, atol=1e-5)


def test_the_features_command_leaves_no_file_on_a_nan(tmp_path, caplog):
    x = _clean()
    x[2, 1] = np.nan
    data = _vectors(tmp_path, x)
    out = tmp_path / "f.npz"
    args = ["features", "--settings", json.dumps(_plain()), "--data", str(data)]
    with caplog.at_level(logging.ERROR):
        assert main([*args, "--out", str(out)]) == 2
    assert not out.exists()
    assert f"building input {out}" in caplog.text and "row 2, column 1" in caplog.text


def test_prepare_warns_about_a_view_with_nan(tmp_path, caplog):
    x = _clean()
    x[12, 0] = np.nan
    _vectors(tmp_path, x)
    spec = {"derived_from": "vec", "per_class": 20, "seed": 0}  # every row kept
    args = ["prepare", "--name", "sub", "--spec", json.dumps(spec), "--base"]
    with caplog.at_level(logging.WARNING):
        assert main([*args, str(tmp_path / "ds"), "--out", str(tmp_path / "sub")]) == 0
    assert np.isnan(MultiViewDataset.load(tmp_path / "sub").views["v"]).sum() == 1
    assert re.search(r"sub: view 'v': row \d+, column 0 is nan; an input of this view", caplog.text)


def test_a_composite_input_checks_its_parts(tmp_path):
    good = FeatureSet(X=_clean(), mask=np.ones(40, bool))
    bad = FeatureSet(X=_clean(seed=1), mask=np.ones(40, bool))
    bad.X[11, 0] = np.inf
    good.save(tmp_path / "a.npz")
    bad.save(tmp_path / "b.npz")
    settings = {"kind": "combine", "spec": {"combine": ["a", "b"]}}
    with pytest.raises(NonFiniteError, match=r"b\.npz: row 11, column 0 is inf; rebuild"):
        build_feature_set(settings, {"parts": [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]})


def test_an_embedding_input_with_nan_names_its_file(tmp_path):
    emb = _clean()
    emb[4, 2] = np.nan
    np.save(tmp_path / "embedding.npy", emb)
    with pytest.raises(NonFiniteError, match=r"embedding\.npy: row 4, column 2 is nan"):
        build_feature_set(
            {"kind": "from_run", "spec": {"from_run": {"input": "pixels", "method": "dec"}}},
            {"embedding": str(tmp_path / "embedding.npy")},
        )


@pytest.mark.parametrize("command", ["cluster", "pretrain"])
def test_jobs_check_their_input_file_and_write_nothing(tmp_path, caplog, command):
    fs = FeatureSet(X=_clean(), mask=np.ones(40, bool))
    fs.X[6, 4] = np.nan
    fs.save(tmp_path / "in.npz")
    (tmp_path / "meta.json").write_text(json.dumps({"k": 2, "views": {}}))
    if command == "cluster":
        out = tmp_path / "run"
        args = ["cluster", "--params", '{"estimator": "kmeans"}', "--meta"]
        args += [str(tmp_path / "meta.json"), "--out", str(out)]
    else:
        out = tmp_path / "ae.pt"
        args = ["pretrain", "--params", '{"hidden_dims": [4, 2], "epochs": 1}', "--model"]
        args += [str(out), "--embedding", str(tmp_path / "emb.npy")]
    with caplog.at_level(logging.ERROR):
        code = main([*args, "--features", str(tmp_path / "in.npz"), "--seed", "0"])
    assert code == 2
    assert "in.npz (X): row 6, column 4 is nan" in caplog.text
    assert not out.exists() and not (tmp_path / "emb.npy").exists()


# -- every method's fit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("kmeans", {"n_init": 1}),
        ("dec", {"max_epochs": 1, "pretrain_params": {"hidden_dims": [4, 2], "epochs": 1}}),
        ("sc-njw", {}),
        ("ac-gdl", {}),
        ("nmf-lp", {}),
        ("jule", {}),
        ("dkm", {"pretrain_params": {"hidden_dims": [4, 2], "epochs": 1}}),
    ],
)
def test_every_single_input_fit_names_the_first_bad_value(estimator, params):
    from mmclust.methods.registry import load

    X = np.abs(_clean())
    X[13, 2] = np.nan
    model = load(estimator)(n_clusters=2, **params)
    with pytest.raises(NonFiniteError, match=r"row 13, column 2 is nan.*finite numbers"):
        model.fit(X)


@pytest.mark.parametrize("estimator", ["jecl", "dm2c", "bmvc", "pic"])
def test_every_multiview_fit_checks_present_rows(estimator):
    from mmclust.methods.registry import load

    views = [_clean(), _clean(seed=1)]
    views[1][9, 3] = np.inf
    views[1][8] = np.nan  # absent from view 1 (mask False): never read
    odd = np.arange(40) % 2 == 1
    masks = [~odd, odd] if estimator == "dm2c" else [np.ones(40, bool), odd | (np.arange(40) < 6)]
    with pytest.raises(NonFiniteError, match=r"view 1 given to fit: row 9, column 3 is inf"):
        load(estimator)(n_clusters=2).fit(views, masks=masks)


def test_a_multiview_fit_ignores_values_of_absent_rows():
    from mmclust.methods.base import check_views

    views = [_clean(), _clean(seed=1)]
    views[1][8] = np.nan
    mask = np.ones(40, bool)
    mask[8] = False
    _, masks = check_views(views, [np.ones(40, bool), mask])
    assert not masks[1][8]


@pytest.mark.parametrize(("k", "n"), [(0, 10), (11, 10)])
def test_k_below_one_or_above_n_is_an_estimator_error_naming_both(k, n):
    from mmclust.methods.classical.kmeans import KMeansBaseline

    with pytest.raises(ValueError, match=rf"n_clusters = {k}"):
        KMeansBaseline(n_clusters=k).fit(_clean(n=n))


@pytest.mark.parametrize(("k", "n"), [(1, 10), (11, 10)])
def test_the_clustering_job_needs_two_to_n_clusters(k, n):
    from mmclust.fitting import RunError, fit_run

    fs = FeatureSet(X=_clean(n=n), mask=np.ones(n, bool))
    with pytest.raises(RunError, match=rf"k = {k} clusters for {n} samples: .*2 <= k <= n"):
        fit_run(fs, {"estimator": "kmeans"}, {"k": k, "views": {}}, 0)


def test_fit_run_checks_k_against_the_training_rows():
    from mmclust.fitting import RunError, fit_run

    fs = FeatureSet(X=_clean(n=6), mask=np.ones(6, bool))
    train = np.zeros(6, bool)
    train[:2] = True
    with pytest.raises(RunError, match=r"k = 3 clusters for 2 samples \(the training split\)"):
        fit_run(fs, {"estimator": "kmeans"}, {"k": 3, "views": {}}, 0, train=train)


def test_more_clusters_than_samples_on_the_command_line_names_the_file(tmp_path):
    FeatureSet(X=_clean(n=8), mask=np.ones(8, bool)).save(tmp_path / "in.npz")
    (tmp_path / "meta.json").write_text(json.dumps({"k": 2, "views": {}}))
    args = ["cluster", "--features", str(tmp_path / "in.npz"), "--params"]
    args += ['{"estimator": "kmeans"}', "--meta", str(tmp_path / "meta.json"), "--seed", "0"]
    with pytest.raises(SystemExit, match=r"in\.npz: k = 50 clusters for 8 samples"):
        main([*args, "--n-clusters", "50", "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_a_single_view_method_on_an_incomplete_input_says_what_to_use():
    from mmclust.fitting import RunError, fit_run

    mask = np.ones(10, bool)
    mask[:3] = False
    fs = FeatureSet(X=_clean(n=10), mask=mask)
    with pytest.raises(RunError, match=r"3 samples lack a view .*multi-view method"):
        fit_run(fs, {"estimator": "kmeans"}, {"k": 2, "views": {}}, 0)


# -- training that diverges ----------------------------------------------------------------------


def test_a_pretraining_whose_loss_becomes_nan_fails_and_writes_nothing(tmp_path, caplog):
    FeatureSet(X=_clean(n=200, d=10), mask=np.ones(200, bool)).save(tmp_path / "in.npz")
    params = {"hidden_dims": [8, 4], "epochs": 4, "optimizer": "sgd", "lr": 1e30}
    args = ["pretrain", "--features", str(tmp_path / "in.npz"), "--params", json.dumps(params)]
    args += ["--seed", "0", "--model", str(tmp_path / "ae.pt"), "--device", "cpu"]
    with caplog.at_level(logging.ERROR):
        code = main([*args, "--embedding", str(tmp_path / "emb.npy")])
    assert code == 3
    assert re.search(
        r"training loss became (nan|inf) at epoch \d/4.*Lower the learning", caplog.text
    )
    assert not (tmp_path / "ae.pt").exists() and not (tmp_path / "emb.npy").exists()


def test_dec_whose_assignments_become_nan_stops():
    from mmclust.methods.deep.dec import DEC
    from mmclust.nn import DenoisingAutoencoder

    X = _clean(n=100, d=6)
    ae = DenoisingAutoencoder(hidden_dims=[4, 2], epochs=2, device="cpu", verbose=False).fit(X)
    dec = DEC(n_clusters=2, lr=1e30, update_interval=1, max_epochs=3, n_init=1, autoencoder=ae)
    with pytest.raises(TrainingDivergedError, match=r"DEC: the soft assignments became non-finite"):
        dec.set_params(device="cpu", verbose=False).fit(X)


class _Diverged:
    """A stand-in estimator whose fit 'succeeds' with a NaN embedding."""

    def __init__(self, n_clusters: int = 2, random_state: int = 0, labels_offset: int = 0):
        self.n_clusters, self.random_state, self.labels_offset = n_clusters, random_state, 0

    def fit(self, X):
        self.labels_ = np.arange(len(X)) % self.n_clusters
        self.embedding_ = np.full((len(X), 2), np.nan, np.float32)
        return self


class _OutOfRange(_Diverged):
    def fit(self, X):
        super().fit(X)
        self.embedding_ = np.zeros((len(X), 2), np.float32)
        self.labels_ = self.labels_ + 5
        return self


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_Diverged, r"non-finite value.*training diverged and nothing is written"),
        (_OutOfRange, r"cluster ids outside 0\.\.1"),
    ],
)
def test_a_fit_with_an_invalid_result_is_never_written(monkeypatch, tmp_path, cls, message):
    import mmclust.methods.registry as registry
    from mmclust.fitting import RunError, fit_run

    monkeypatch.setattr(registry, "load", lambda name: cls)
    fs = FeatureSet(X=_clean(n=10), mask=np.ones(10, bool))
    with pytest.raises(RunError, match=message):
        fit_run(fs, {"estimator": "kmeans"}, {"k": 2, "views": {}}, 0)


# -- captions.tsv ------------------------------------------------------------------------------


def test_a_good_folder_builds(tmp_path):
    ds = _mine(tmp_path)
    assert ds.n == 2 and ds.k == 2 and ds.class_names == ["green", "red"]
    assert ds.meta["image_root"] == str(tmp_path / "images")


def test_a_tab_inside_a_caption_is_an_error_naming_the_line(tmp_path):
    table = GOOD + "c.png\ta red\tone\tred\n"
    with pytest.raises(DatasetError, match=r"captions\.tsv:4: 4 tab-separated fields, expected 3"):
        _mine(tmp_path, table)
    with pytest.raises(DatasetError, match=r"A caption cannot contain a tab"):
        _mine(tmp_path, table)


def test_a_trailing_tab_is_an_extra_field(tmp_path):
    with pytest.raises(DatasetError, match=r":4: 4 tab-separated fields"):
        _mine(tmp_path, GOOD + "c.png\tx\tred\t\n")


def test_quotes_are_ordinary_characters(tmp_path):
    ds = _mine(tmp_path, GOOD + 'c.png\t"a red, one"\tred\n')
    assert ds.views["text"][2] == '"a red, one"'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("a.png\tagain\tred\n", r":4: image 'a.png' is already listed on line 2; list each"),
        ("a.png\tagain\tgreen\n", r"line 2 with another label \('red' there, 'green' here\)"),
        ("./a.png\tagain\tred\n", r"'\./a\.png' is already listed on line 2"),
    ],
)
def test_duplicate_images_are_errors(tmp_path, extra, message):
    with pytest.raises(DatasetError, match=message):
        _mine(tmp_path, GOOD + extra)


@pytest.mark.parametrize("path", ["../../../etc/passwd", "/etc/passwd", "sub/../../x.png"])
def test_paths_that_leave_the_folder_are_errors(tmp_path, path):
    with pytest.raises(DatasetError, match=r":4: the image path .* leaves the image folder"):
        _mine(tmp_path, GOOD + f"{path}\tx\tred\n")


def test_one_label_for_every_row_is_an_error(tmp_path):
    table = "a.png\tx\tall\nb.png\ty\tall\n"
    with pytest.raises(DatasetError, match=r"every image has the label 'all'.*at least two"):
        _mine(tmp_path, table)


def test_the_missing_label_message_does_not_suggest_one_label(tmp_path):
    with pytest.raises(DatasetError) as err:
        _mine(tmp_path, "a.png\ta red one\n")
    assert "no label column" in str(err.value) and "true class" in str(err.value)
    assert "any string" not in str(err.value) and "folder name" not in str(err.value)


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # with its byte-order mark
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: t.encode("utf-32"),
    ],
    ids=["utf8-bom", "utf16", "utf16-be", "utf32"],
)
def test_encodings_with_a_byte_order_mark_are_read(tmp_path, encode):
    ds = _mine(tmp_path, encode(GOOD.replace("a red one", "un café rouge")))
    assert ds.views["text"].tolist() == ["un café rouge", "a green one"]
    assert ds.class_names == ["green", "red"]


def test_utf16_without_a_mark_is_named(tmp_path):
    with pytest.raises(DatasetError, match=r"looks like UTF-16 without a byte-order mark"):
        _mine(tmp_path, GOOD.encode("utf-16-le"))
    ds = _mine(tmp_path, GOOD.encode("utf-16-le"), encoding="utf-16-le")
    assert ds.n == 2


def test_latin1_is_read_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        ds = _mine(tmp_path, GOOD.replace("a red one", "un café").encode("latin-1"))
    assert ds.views["text"][0] == "un café"
    assert "is not UTF-8" in caplog.text and "Latin-1" in caplog.text


@pytest.mark.parametrize(
    ("encoding", "message"),
    [("klingon", r"unknown encoding 'klingon'"), ("ascii", r"is not valid ascii")],
)
def test_a_wrong_encoding_option_is_named(tmp_path, encoding, message):
    with pytest.raises(DatasetError, match=message):
        _mine(tmp_path, GOOD.replace("red one", "rouge é"), encoding=encoding)


def test_a_header_in_another_order_is_recognised(tmp_path):
    ds = _mine(tmp_path, "Label\tCaption\tImage\nred\ta red one\ta.png\ngreen\t\tb.png\n")
    assert ds.views["image"].tolist() == ["a.png", "b.png"] and ds.class_names == ["green", "red"]
    assert ds.masks["text"].tolist() == [True, False]


def test_windows_line_endings_are_fine(tmp_path):
    ds = _mine(tmp_path, GOOD.replace("\n", "\r\n"))
    assert ds.views["text"].tolist() == ["a red one", "a green one"]


def test_every_caption_missing_warns_at_prepare(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        ds = _mine(tmp_path, "image\tcaption\tlabel\na.png\t\tred\nb.png\t\tgreen\n")
    assert not ds.masks["text"].any()
    assert "no image has a caption" in caplog.text


def test_a_header_without_captions_gives_an_image_only_table(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        ds = _mine(tmp_path, "image\tlabel\na.png\tred\nb.png\tgreen\n")
    assert ds.k == 2 and not ds.masks["text"].any() and "no image has a caption" in caplog.text


def test_a_text_input_of_a_data_set_without_captions_names_the_input(tmp_path, caplog):
    _mine(tmp_path, "image\tcaption\tlabel\na.png\t\tred\nb.png\t\tgreen\n").save(tmp_path / "ds")
    settings = {"kind": "extractor", "spec": {"views": ["text"], "extractor": "bow"}}
    out = tmp_path / "captions.npz"
    args = ["features", "--settings", json.dumps(settings), "--data"]
    with caplog.at_level(logging.ERROR):
        assert main([*args, str(tmp_path / "ds" / "data.npz"), "--out", str(out)]) == 2
    assert f"building input {out}" in caplog.text
    assert "no sample of data set 'mine' has view 'text'" in caplog.text
    assert not out.exists()


def test_captions_beside_the_image_folder(tmp_path):
    """The README's second layout: bare names in the table, raw_dir = the image folder."""
    _folder(tmp_path, GOOD)
    ds = captioned_folder("mine", tmp_path / "images", captions="../captions.tsv")
    assert ds.n == 2 and ds.meta["image_root"] == str(tmp_path / "images")


def test_a_raw_dir_that_is_not_a_folder_names_the_working_directory(tmp_path):
    with pytest.raises(DatasetError, match=r"raw_dir .*nowhere is not a folder.*working directory"):
        captioned_folder("mine", tmp_path / "nowhere")


def test_a_missing_image_file_is_named_at_prepare(tmp_path):
    with pytest.raises(DatasetError, match=r"1 image file\(s\) are missing, e\.g\. .*zzz\.png"):
        _mine(tmp_path, GOOD + "zzz.png\tx\tred\n")


def test_build_rejects_a_one_class_data_set_from_any_builder(tmp_path):
    _folder(tmp_path, "a.png\tx\tsame\nb.png\ty\tsame\n")
    with pytest.raises(DatasetError, match=r"at least two classes"):
        build("captioned_folder", "mine", {"raw_dir": str(tmp_path), "image_dir": "images"})


# -- raw pixels of image files -------------------------------------------------------------------


def test_raw_pixels_of_image_files_load_convert_and_resize(tmp_path):
    _mine(tmp_path).save(tmp_path / "ds")
    data = str(tmp_path / "ds" / "data.npz")
    grey = build_feature_set(
        _plain(["image"], "scale", image_size=[4, 6], image_mode="grey"), {"data": data}
    )
    assert grey.X.shape == (2, 24)
    # pure red and pure green in ITU-R 601-2 luma: 0.299 and 0.587 of 255
    np.testing.assert_allclose(grey.X[:, 0], [76 / 255, 150 / 255], atol=1 / 255)
    rgb = build_feature_set(_plain(["image"], "scale", image_size=3), {"data": data})
    assert rgb.X.shape == (2, 27)
    np.testing.assert_allclose(rgb.X[0, :3], [1, 0, 0])


def test_image_files_without_image_size_say_how_to_load_them(tmp_path):
    _mine(tmp_path).save(tmp_path / "ds")
    with pytest.raises(
        DatasetError, match=r"holds image files, not pixels: give the input image_size"
    ):
        build_feature_set(_plain(["image"], "scale"), {"data": str(tmp_path / "ds/data.npz")})


def test_a_caption_view_as_raw_numbers_names_the_real_cause(tmp_path):
    _mine(tmp_path).save(tmp_path / "ds")
    with pytest.raises(DatasetError, match=r"view 'text' holds text \(captions\).*doc2vec"):
        build_feature_set(_plain(["text"], "scale"), {"data": str(tmp_path / "ds/data.npz")})


@pytest.mark.parametrize("damage", ["delete", "garble"])
def test_an_unreadable_image_is_named_at_the_feature_step(tmp_path, damage):
    _mine(tmp_path).save(tmp_path / "ds")
    img = tmp_path / "images" / "b.png"
    if damage == "delete":
        img.unlink()
    else:
        img.write_bytes(b"not a picture")
    with pytest.raises(DatasetError, match=r"row 1: .*b\.png (does not exist|cannot be read)"):
        build_feature_set(
            _plain(["image"], "scale", image_size=4), {"data": str(tmp_path / "ds/data.npz")}
        )


def test_stored_images_can_be_resized_too():
    from mmclust.features.pixels import load_pixels

    images = np.zeros((2, 8, 8), np.uint8)
    images[1] = 255
    out = load_pixels(images, np.array([True, False]), (4, 4), "rgb")
    assert out.shape == (2, 4, 4, 3) and out[0].max() == 0 and out[1].max() == 0


def test_jule_finds_the_shape_of_loaded_pixels():
    from mmclust.fitting import as_images, loaded_pixels_meta

    meta = {"views": {"image": {"kind": "image_file", "shape": []}}}
    spec = {"views": ["image"], "image_size": [4, 6], "image_mode": "grey"}
    _, shape = as_images(np.zeros((3, 24), np.float32), loaded_pixels_meta(meta, spec))
    assert shape == (1, 4, 6)
    _, shape = as_images(
        np.zeros((3, 72), np.float32), loaded_pixels_meta(meta, {**spec, "image_mode": "rgb"})
    )
    assert shape == (3, 4, 6)


# -- the config, before any job ---------------------------------------------------------------


def _own(cfg: dict, **inputs) -> dict:
    cfg["datasets"]["mine"] = {"source": "captioned_folder", "options": {"raw_dir": "my-data"}}
    cfg["inputs"]["mine"] = inputs
    return cfg


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda c: c.update(device="gpu"), r"^device: 'gpu' is not allowed here"),
        (lambda c: c.update(seeds=[0]), r"^seeds: unknown key; the keys allowed here are"),
        (
            lambda c: _own(c, p={"views": ["image"], "transform": "scale"}),
            r"inputs\.mine\.p: view 'image' .* holds image files, not pixels: add image_size",
        ),
        (
            lambda c: _own(c, p={"views": ["text"], "transform": "standardize"}),
            r"inputs\.mine\.p\.views: view 'text' .* holds text \(captions\)",
        ),
        (
            lambda c: _own(c, p={"views": ["caption"], "extractor": "bow"}),
            r"inputs\.mine\.p\.views: data set 'mine' has no view 'caption'; its views are "
            r"\['image', 'text'\]",
        ),
        (
            lambda c: _own(c) and c["datasets"]["mine"]["options"].update(captions_file="x"),
            r"datasets\.mine\.options: data source 'captioned_folder' has no option\(s\) "
            r"\['captions_file'\]; its options are "
            r"\['captions', 'encoding', 'image_dir', 'raw_dir'\]",
        ),
    ],
)
def test_config_mistakes_are_named_before_any_job(edit, pattern):
    cfg = _tiny()
    edit(cfg)
    _config_fails(cfg, pattern)


def test_kmeans_on_captions_some_images_lack_is_an_error_before_any_job():
    cfg = _own(_tiny(), captions={"views": ["text"], "extractor": "bow"})
    cfg["datasets"]["mine-30"] = {"derived_from": "mine", "missing": {"view": "text", "rate": 0.3}}
    cfg["experiments"] = {
        "mine": {
            "description": "captions with some missing",
            "seeds": [0],
            "runs": [{"dataset": "mine-30", "input": "captions", "methods": ["kmeans"]}],
        }
    }
    _config_fails(cfg, r"method 'kmeans' reads one matrix .* removes view 'text'.*jecl")


def test_cuda_without_a_gpu_is_an_error_before_any_job(monkeypatch):
    from mmclust.plan import checks

    monkeypatch.setattr(checks, "cuda_devices", lambda: 0)
    cfg = _tiny()
    cfg["device"] = "cuda"
    _config_fails(cfg, r"^device: 'cuda' asks for a CUDA GPU.*Use device: auto")


def test_the_readme_recipe_is_a_valid_plan():
    text = (REPO / "README.md").read_text()
    section = text[text.index("**5. A config and a table.**") :]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    plan = Plan(yaml.safe_load(block))
    runs = {(r.input, r.method) for r in plan.experiment_runs("mine")}
    assert runs == {("pixels", "kmeans"), ("pixels", "dec"), ("captions", "kmeans"),
                    ("pair", "jecl")}  # fmt: skip


# -- through Snakemake: nothing left behind that looks finished ---------------------------------


def _workflow_config(tmp_path: Path, table: str, pretrain: dict | None = None) -> Path:
    folder = tmp_path / "my-data"
    _folder(folder, table)
    cfg = {
        "device": "cpu",
        "datasets": {
            "mine": {
                "source": "captioned_folder",
                "options": {"raw_dir": str(folder), "image_dir": "images"},
            }
        },
        "inputs": {"mine": {"pixels": {"views": ["image"], "transform": "scale", "image_size": 6}}},
        "pretrain": {"default": {"hidden_dims": [4, 2], "epochs": 2, **(pretrain or {})}},
        "methods": {"dec": {"estimator": "dec", "max_epochs": 1, "n_init": 1}},
        "experiments": {
            "mine": {
                "description": "bad input",
                "seeds": [0],
                "runs": [{"dataset": "mine", "input": "pixels", "methods": ["dec"]}],
            }
        },
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


FOUR = "a.png\tx\tred\nb.png\ty\tgreen\nc.png\tz\tred\nd.png\tw\tgreen\n"


@pytest.mark.slow
def test_workflow_a_tab_in_a_caption_fails_at_prepare_and_leaves_nothing(tmp_path):
    cfg = _workflow_config(tmp_path, FOUR + "d.png\tw\tw\tgreen\n")
    work = tmp_path / "work"
    work.mkdir()
    res = snakemake(work, "--cores", "1", "--configfile", str(cfg))
    assert res.returncode != 0
    log = (work / "logs/prepare_dataset/mine.log").read_text()
    assert "captions.tsv:5: 4 tab-separated fields" in log
    assert not (work / "resources/datasets/mine/data.npz").exists()
    again = snakemake(work, "-n", "--configfile", str(cfg))
    assert again.returncode == 0 and "prepare_dataset" in again.stdout
    assert "Incomplete" not in again.stdout + again.stderr


@pytest.mark.slow
def test_workflow_a_diverging_pretraining_records_nothing_as_finished(tmp_path):
    cfg = _workflow_config(tmp_path, FOUR, {"optimizer": "sgd", "lr": 1e30, "epochs": 4})
    work = tmp_path / "work"
    work.mkdir()
    res = snakemake(work, "--cores", "1", "--configfile", str(cfg))
    assert res.returncode != 0
    log = (work / "logs/pretrain_autoencoder/mine/pixels/seed0.log").read_text()
    assert "training loss became" in log
    assert not (work / "results/pretrain/mine/pixels/seed0/autoencoder.pt").exists()
    assert not (work / "results/pretrain/mine/pixels/seed0/embedding.npy").exists()
    assert not (work / "results/runs").exists()
    again = snakemake(work, "-n", "--configfile", str(cfg))
    assert again.returncode == 0 and "pretrain_autoencoder" in again.stdout


@pytest.mark.slow
def test_workflow_a_config_mistake_stops_before_any_job(tmp_path):
    cfg = _workflow_config(tmp_path, FOUR)
    data = yaml.safe_load(cfg.read_text())
    del data["inputs"]["mine"]["pixels"]["image_size"]
    cfg.write_text(yaml.safe_dump(data))
    work = tmp_path / "work"
    work.mkdir()
    res = snakemake(work, "--cores", "1", "--configfile", str(cfg))
    assert res.returncode != 0
    assert "inputs.mine.pixels: view 'image'" in res.stdout + res.stderr
    assert not (work / "resources").exists() and not (work / "logs").exists()
