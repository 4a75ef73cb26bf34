"""Image + text builders, end to end on tiny fixtures written in each source's real format."""

from __future__ import annotations

import json
import re
import shutil
import sys
import types

import h5py
import numpy as np
import pytest
from PIL import Image

from mmclust.data import DatasetError, MultiViewDataset
from mmclust.data.builders import BUILDERS
from mmclust.data.builders.captioned_folder import captioned_folder
from mmclust.data.builders.coco import COCO_CROSS, coco
from mmclust.data.builders.nus_wide import nus_wide_10k
from mmclust.data.builders.nyu_rgbd import NYU_SCENES_12, nyu_rgbd
from mmclust.data.builders.pascal import pascal_sentences
from mmclust.data.builders.synthetic_captions import COLOURS, DIGIT_WORDS, synthetic_captions
from mmclust.data.builders.wikipedia import wikipedia


def _image(path, size=(8, 6), value=0, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.full((size[1], size[0], 3), value % 256, dtype=np.uint8)
    Image.fromarray(rgb).save(path, format=fmt)


def _round_trip(ds: MultiViewDataset, tmp_path) -> MultiViewDataset:
    ds.save(tmp_path / "out" / ds.name)
    return MultiViewDataset.load(tmp_path / "out" / ds.name)


# -- COCO ------------------------------------------------------------------------------

COCO_IDS = {
    "person": 1, "airplane": 5, "stop sign": 13, "cat": 17, "dog": 18, "giraffe": 25,
    "suitcase": 33, "kite": 38, "pizza": 59, "toilet": 70, "cell phone": 77, "clock": 85,
}  # fmt: skip

# split -> image id -> (category names of its instance annotations, captions)
COCO_IMAGES = {
    "train2014": {
        1: (["person", "person"], ["A man  walks.", "Two people"]),  # one category, 2 instances
        2: (["person", "dog"], ["a man and a dog"]),  # two categories: out
        3: (["dog"], ["a dog"]),
        4: ([], ["an empty street"]),  # no instance annotation: out
        5: (["airplane"], ["a plane\nin the sky"]),
        6: (["stop sign", "stop sign"], ["a red sign"]),  # second one is a crowd region
    },
    "val2014": {
        7: (["pizza"], []),  # no caption: text missing
        8: (["cat"], ["a cat"]),
        9: (["cat"], ["another cat"]),
        10: (["dog"], ["a small dog"]),
    },
}


def _write_coco(root):
    ann = root / "annotations"
    ann.mkdir(parents=True)
    cats = [{"id": i, "name": n, "supercategory": "x"} for n, i in COCO_IDS.items()]
    aid = 1000
    for split, images in COCO_IMAGES.items():
        imgs, inst, caps = [], [], []
        for img_id, (names, captions) in images.items():
            fname = f"COCO_{split}_{img_id:012d}.jpg"
            imgs.append({"id": img_id, "file_name": fname, "height": 6, "width": 8})
            _image(root / split / fname, value=img_id)
            for j, nm in enumerate(names):
                aid += 1
                inst.append(
                    {"id": aid, "image_id": img_id, "category_id": COCO_IDS[nm],
                     "iscrowd": int(j == 1 and nm == "stop sign"), "bbox": [0, 0, 1, 1]}
                )  # fmt: skip
            # caption ids in reverse order: the join must follow the annotation id
            for j, c in enumerate(captions):
                caps.append({"id": 500 - 10 * img_id - j, "image_id": img_id, "caption": c})
        common = {"info": {}, "licenses": [], "images": imgs}
        (ann / f"instances_{split}.json").write_text(
            json.dumps({**common, "annotations": inst, "categories": cats})
        )
        (ann / f"captions_{split}.json").write_text(json.dumps({**common, "annotations": caps}))


def test_coco_cross_keeps_single_category_images_of_both_splits(tmp_path):
    _write_coco(tmp_path)
    ds = coco("coco_cross", tmp_path, categories="cross")
    # the fixture has images of 4 of the 10 categories: the others are left out
    assert ds.class_names == [
        c for c in COCO_CROSS if c in {"person", "airplane", "stop sign", "pizza"}
    ]
    assert ds.views["image"].tolist() == [
        "train2014/COCO_train2014_000000000001.jpg",
        "train2014/COCO_train2014_000000000005.jpg",
        "train2014/COCO_train2014_000000000006.jpg",
        "val2014/COCO_val2014_000000000007.jpg",
    ]
    names = [ds.class_names[i] for i in ds.labels]
    assert names == ["person", "airplane", "stop sign", "pizza"]
    # captions in annotation-id order (the file lists them reversed), whitespace cleaned
    assert ds.views["text"][0] == "Two people A man walks."
    assert ds.views["text"][1] == "a plane in the sky"
    assert ds.masks["text"].tolist() == [True, True, True, False]
    assert ds.views["text"][3] == ""
    assert ds.kinds == {"image": "image_file", "text": "text"}
    assert ds.meta["image_root"] == str(tmp_path)
    assert ds.meta["reference_counts"] == {
        "n": 7429, "k": 10, "largest_class_share": 0.232, "smallest_class_share": 0.016,
        "words_per_item": 50.5,
    }  # fmt: skip
    assert ds.meta["obtained_counts"] == {
        "n": 4, "k": 4, "largest_class_share": 0.25, "smallest_class_share": 0.25,
        "words_per_item": 4.3,
    }  # fmt: skip
    assert ds.meta["coco_split_counts"] == {"train2014": 3, "val2014": 1}
    for p in ds.views["image"]:
        assert (tmp_path / p).is_file()
    back = _round_trip(ds, tmp_path)
    assert back.kinds["image"] == "image_file"
    assert back.meta["reference_counts"] == ds.meta["reference_counts"]


def test_coco_all_applies_min_per_class(tmp_path):
    _write_coco(tmp_path)
    ds = coco("coco_all", tmp_path, categories="all", min_per_class=2)
    # single-category counts: person 1, dog 2, airplane 1, stop sign 1, pizza 1, cat 2
    assert ds.class_names == ["cat", "dog"]  # COCO category-id order
    assert ds.n == 4
    assert sorted(ds.class_names[i] for i in ds.labels) == ["cat", "cat", "dog", "dog"]
    assert ds.meta["reference_counts"] == {
        "n": 23189, "k": 43, "largest_class_share": 0.074, "smallest_class_share": 0.004,
        "words_per_item": 50.4,
    }  # fmt: skip
    everything = coco("coco_all1", tmp_path, categories="all", min_per_class=1)
    assert everything.n == 8 and len(everything.class_names) == 6


def test_coco_split_option_and_category_list(tmp_path):
    _write_coco(tmp_path)
    ds = coco("c", tmp_path, split="train2014", categories=["dog", "person"])
    assert ds.class_names == ["dog", "person"]
    assert [ds.class_names[i] for i in ds.labels] == ["person", "dog"]
    assert ds.meta["coco_splits"] == ["train2014"]
    assert ds.meta["reference_counts"] is None
    with pytest.raises(DatasetError, match="not COCO category names"):
        coco("c", tmp_path, categories=["unicorn"])


def test_coco_missing_files_name_the_file_and_the_fix(tmp_path):
    _write_coco(tmp_path)
    (tmp_path / "annotations" / "captions_val2014.json").unlink()
    with pytest.raises(
        DatasetError, match=r"captions_val2014\.json is missing.*annotations_trainval2014"
    ):
        coco("c", tmp_path)
    ds = coco("c", tmp_path, split="train2014")  # the other split still works
    assert ds.n == 3
    (tmp_path / "train2014" / "COCO_train2014_000000000005.jpg").unlink()
    with pytest.raises(DatasetError, match=r"1 image file\(s\) are missing.*train2014\.zip"):
        coco("c", tmp_path, split="train2014")
    (tmp_path / "annotations" / "instances_train2014.json").write_text('{"images": [')
    with pytest.raises(DatasetError, match="not valid JSON"):
        coco("c", tmp_path, split="train2014")


# -- Pascal Sentences ------------------------------------------------------------------


def _write_pascal(root, cats=("aeroplane", "bird", "cat"), per=2, skip_text=("cat", 1)):
    for cat in cats:
        for j in range(per):
            stem = f"2008_{cats.index(cat) * 10 + j:06d}"
            _image(root / "dataset" / cat / f"{stem}.jpg", value=j)
            if (cat, j) == skip_text:
                continue
            txt = root / "sentence" / cat / f"{stem}.txt"
            txt.parent.mkdir(parents=True, exist_ok=True)
            txt.write_text("".join(f" {cat} sentence {s}.\n" for s in range(5)))


def test_pascal_sentences_layout(tmp_path):
    _write_pascal(tmp_path)
    ds = pascal_sentences("pascal", tmp_path)
    assert ds.class_names == ["aeroplane", "bird", "cat"]
    assert ds.n == 6 and ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.views["image"][2] == "dataset/bird/2008_000010.jpg"
    assert ds.views["text"][0] == " ".join(f"aeroplane sentence {s}." for s in range(5))
    assert ds.masks["text"].tolist() == [True] * 5 + [False]
    assert ds.meta["sentences_per_image"] == {0: 1, 5: 5}
    assert ds.meta["reference_counts"]["n"] == 1000
    _round_trip(ds, tmp_path)


def _write_pascal_page(root, cats=("bird", "aeroplane"), per=2):
    """The UIUC page as mirrored: each row an <img> and a nested table of 5 sentences."""
    rows = []
    for c, cat in enumerate(cats):
        for j in range(per):
            src = f"{cat}/2008_{c * 10 + j:06d}.jpg"
            _image(root / src, value=j)
            cells = "".join(
                f"<tr><td> {cat} &amp; sentence {s}.</td></tr>\n" for s in range(5 if j else 4)
            )
            img = f'<img src="{src}" width="200">'
            rows.append(f"<tr><td>{img}</td>\n<td><table>\n{cells}</table></td></tr>")
    (root / "index.html").write_text(
        '<html><head><title>Pascal Sentences</title></head><body>\n<img src="logo.gif">\n'
        "<table>\n" + "\n".join(rows) + "\n</table></body></html>\n"
    )


def test_pascal_sentences_saved_page(tmp_path):
    _write_pascal_page(tmp_path)
    ds = pascal_sentences("pascal", tmp_path)
    assert ds.class_names == ["aeroplane", "bird"]
    assert ds.views["image"].tolist() == [
        "aeroplane/2008_000010.jpg",
        "aeroplane/2008_000011.jpg",
        "bird/2008_000000.jpg",
        "bird/2008_000001.jpg",
    ]
    assert ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.views["text"][1] == " ".join(f"aeroplane & sentence {s}." for s in range(5))
    assert ds.meta["sentences_per_image"] == {4: 2, 5: 2}
    assert ds.meta["raw_layout"] == "index.html"
    (tmp_path / "bird" / "2008_000001.jpg").unlink()
    with pytest.raises(DatasetError, match=r"2008_000001\.jpg.*index\.html"):
        pascal_sentences("pascal", tmp_path)


def test_pascal_missing_folders(tmp_path):
    with pytest.raises(DatasetError, match=r"index\.html.*dataset.*images.*pascal-sentences"):
        pascal_sentences("p", tmp_path)
    _write_pascal(tmp_path)
    shutil.rmtree(tmp_path / "sentence")
    with pytest.raises(DatasetError, match=r"sentence.*sentences.*one sentence per line"):
        pascal_sentences("p", tmp_path)


# -- NYU Depth v2 ----------------------------------------------------------------------

NYU_SCENES = [*NYU_SCENES_12, "cafe", "excercise_room"]  # 14 images, 13 classes


def _write_nyu_mat(path, rgb, scenes):
    """A MATLAB v7.3 file as MATLAB writes it: 512-byte header, arrays transposed, cell
    strings as object references to uint16 char arrays under #refs#."""
    with h5py.File(path, "w", userblock_size=512) as f:
        # MATLAB's H x W x 3 x N uint8 array appears to HDF5 as (N, 3, W, H)
        d = f.create_dataset("images", data=rgb.transpose(0, 3, 2, 1))
        d.attrs["MATLAB_class"] = np.bytes_("uint8")
        refs = f.create_group("#refs#")
        ref_array = np.empty((1, len(scenes)), dtype=h5py.ref_dtype)
        for i, s in enumerate(scenes):
            codes = np.array([[ord(ch)] for ch in s], dtype=np.uint16)  # (len, 1)
            c = refs.create_dataset(f"s{i}", data=codes)
            c.attrs["MATLAB_class"] = np.bytes_("char")
            c.attrs["MATLAB_int_decode"] = np.int32(2)
            ref_array[0, i] = c.ref
        cell = f.create_dataset("sceneTypes", data=ref_array, dtype=h5py.ref_dtype)
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
        b"HDF5 schema 1.00 ."
    )
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")


def _write_nyu(root, scenes=NYU_SCENES, h=6, w=8):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(len(scenes), h, w, 3), dtype=np.uint8)
    _write_nyu_mat(root / "nyu_depth_v2_labeled.mat", rgb, scenes)
    desc = root / "descriptions"
    desc.mkdir()
    for i, s in enumerate(scenes):
        if i == 3:
            continue  # no description for image 4
        (desc / f"{i + 1:04d}.txt").write_text(f"This is a {s}.\nIt has a table.\n")
    return rgb


def test_nyu_reads_matlab_v73_and_maps_to_13_classes(tmp_path):
    rgb = _write_nyu(tmp_path)
    ds = nyu_rgbd("rgbd", tmp_path)
    assert ds.n == 14
    assert ds.class_names == [*NYU_SCENES_12, "other"] and len(ds.class_names) == 13
    assert ds.labels.tolist() == [*range(12), 12, 12]
    assert ds.views["image"][0] == "images/0001.png"
    for i in (0, 13):  # the PNG is the MATLAB image, not its transpose
        png = np.asarray(Image.open(tmp_path / ds.views["image"][i]))
        assert png.shape == (6, 8, 3)
        assert np.array_equal(png, rgb[i])
    assert ds.views["text"][0] == "This is a bedroom. It has a table."
    assert ds.masks["text"].tolist() == [True] * 3 + [False] + [True] * 10
    assert ds.meta["scene_type_counts"]["cafe"] == 1
    assert ds.meta["reference_counts"] == {
        "n": 1449, "k": 13, "largest_class_share": 0.264, "smallest_class_share": 0.017,
        "words_per_item": 38.5,
    }  # fmt: skip
    assert "choice" in ds.meta["notes"]
    # PNGs are written once and reused
    stamp = (tmp_path / "images" / "0001.png").stat().st_mtime_ns
    again = nyu_rgbd("rgbd", tmp_path)
    assert (tmp_path / "images" / "0001.png").stat().st_mtime_ns == stamp
    assert np.array_equal(again.labels, ds.labels)
    assert not list((tmp_path / "images").glob(".*part*"))
    _round_trip(ds, tmp_path)


def test_nyu_scene_map_and_tsv_descriptions(tmp_path):
    _write_nyu(tmp_path, scenes=["kitchen", "bedroom", "cafe", "kitchen"])
    shutil.rmtree(tmp_path / "descriptions")
    (tmp_path / "descriptions.tsv").write_text("index\ttext\n1\ta kitchen\n3\ta cafe\n")
    assert nyu_rgbd("r", tmp_path).views["text"].tolist() == ["a kitchen", "", "a cafe", ""]
    # a release with its own top-level folder inside descriptions/
    (tmp_path / "descriptions" / "release").mkdir(parents=True)
    (tmp_path / "descriptions" / "release" / "2.txt").write_text("a bedroom")
    assert nyu_rgbd("r", tmp_path).views["text"].tolist() == ["", "a bedroom", "", ""]
    shutil.rmtree(tmp_path / "descriptions")
    ds = nyu_rgbd("r", tmp_path, scene_map={"kitchen": "food", "cafe": "food", "*": "rest"})
    assert ds.class_names == ["food", "rest"]
    assert ds.labels.tolist() == [0, 1, 0, 0]
    assert ds.masks["text"].tolist() == [True, False, True, False]
    with pytest.raises(DatasetError, match=r"\['bedroom'\].*'\*'"):
        nyu_rgbd("r", tmp_path, scene_map={"kitchen": "k", "cafe": "c"})


def test_nyu_missing_or_wrong_files(tmp_path):
    with pytest.raises(DatasetError, match=r"nyu_depth_v2_labeled\.mat is missing.*horatio"):
        nyu_rgbd("r", tmp_path)
    (tmp_path / "nyu_depth_v2_labeled.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 200)
    (tmp_path / "descriptions").mkdir()
    with pytest.raises(DatasetError, match=r"no <index>\.txt description"):
        nyu_rgbd("r", tmp_path)
    (tmp_path / "descriptions" / "1.txt").write_text("a room")
    with pytest.raises(DatasetError, match=r"not a MATLAB v7\.3"):
        nyu_rgbd("r", tmp_path)
    shutil.rmtree(tmp_path / "descriptions")
    with pytest.raises(DatasetError, match=r"descriptions\.tsv.*Kong"):
        nyu_rgbd("r", tmp_path)


# -- Wikipedia -------------------------------------------------------------------------

WIKI_CATS = ["art", "biology", "geography", "history", "literature",
             "media", "music", "royalty", "sport", "warfare"]  # fmt: skip
WIKI_ROWS = {
    "train": [("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-1", "img0001", 1),
              ("b1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-2", "img0002", 10),
              ("c1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-3", "img0003", 4)],
    "test": [("d1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-4", "img0004", 10),
             ("e1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-5", "img0005", 2)],
}  # fmt: skip


def _write_wiki(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "categories.list").write_text("\n".join(WIKI_CATS) + "\n")
    (root / "texts_xml").mkdir(parents=True)
    for part, rows in WIKI_ROWS.items():
        (root / f"{part}set_txt_img_cat.list").write_text(
            "".join(f"{t}\t{i}\t{c}\n" for t, i, c in rows)
        )
        for t, i, c in rows:
            (root / "texts_xml" / f"{t}.xml").write_text(
                f'<?xml version="1.0" encoding="UTF-8"?>\n<document>\n<docno>{t}</docno>\n'
                f"<title>Title {i}</title>\n<text>\nSection about {WIKI_CATS[c - 1]} &amp; "
                f"more.\n\nSecond   paragraph.\n</text>\n</document>\n"
            )
            _image(root / "images" / WIKI_CATS[c - 1] / f"{i}.jpg", value=c)


def test_wikipedia_layout_and_split(tmp_path):
    _write_wiki(tmp_path)
    ds = wikipedia("wiki", tmp_path)
    # categories 1, 2, 4, 10 have pairs in the fixture
    assert ds.class_names == ["art", "biology", "history", "warfare"]
    assert ds.labels.tolist() == [0, 3, 2, 3, 1]
    assert ds.split.tolist() == ["train", "train", "train", "test", "test"]
    assert ds.views["image"][1] == "images/warfare/img0002.jpg"
    assert ds.views["text"][0] == "Section about art & more. Second paragraph."
    assert ds.masks["text"].all()
    assert ds.meta["obtained_counts"] == {
        "n": 5, "k": 4, "largest_class_share": 0.4, "smallest_class_share": 0.2,
        "words_per_item": 7.0, "train": 3, "test": 2,
    }  # fmt: skip
    assert ds.meta["count_differences"]["n"] == {"obtained": 5, "paper": 2866}
    assert ds.meta["reference_counts"]["n"] == 2866
    back = _round_trip(ds, tmp_path)
    assert back.split.tolist() == ds.split.tolist()


def test_wikipedia_inside_the_archive_folder(tmp_path):
    _write_wiki(tmp_path / "wikipedia_dataset")
    (tmp_path / "wikipedia_dataset" / "texts_xml").rename(tmp_path / "wikipedia_dataset" / "texts")
    ds = wikipedia("wiki", tmp_path)
    assert ds.n == 5 and ds.meta["image_root"] == str(tmp_path)
    assert ds.views["image"][0] == "wikipedia_dataset/images/art/img0001.jpg"
    assert (tmp_path / ds.views["image"][0]).is_file()


def test_wikipedia_missing_files(tmp_path):
    _write_wiki(tmp_path)
    (tmp_path / "images" / "art" / "img0001.jpg").unlink()
    with pytest.raises(DatasetError, match=r"img0001\.jpg.*svcl"):
        wikipedia("w", tmp_path)
    (tmp_path / "testset_txt_img_cat.list").unlink()
    with pytest.raises(DatasetError, match=r"testset_txt_img_cat\.list is missing.*svcl"):
        wikipedia("w", tmp_path)
    (tmp_path / "trainset_txt_img_cat.list").write_text("only two\tfields\n")
    (tmp_path / "testset_txt_img_cat.list").write_text("")
    with pytest.raises(DatasetError, match=r"trainset_txt_img_cat\.list:1"):
        wikipedia("w", tmp_path)


# -- NUS-WIDE-10K ----------------------------------------------------------------------

NUS_CONCEPTS = ["animal", "clouds", "food", "sky", "toy"]
NUS_VOCAB = ["sky", "blue", "cat", "dog", "pizza", "cloud"]


def _nus_labels():
    """40 images: label sets chosen so every selection rule is visible."""
    sets = (
        [{"sky"}] * 10  # 0-9
        + [{"animal"}] * 7  # 10-16
        + [{"food"}] * 4  # 17-20
        + [{"sky", "clouds"}] * 5  # 21-25: two labels
        + [{"toy"}] * 3  # 26-28: no tags
        + [{"clouds"}] * 9  # 29-37: image 29 is missing
        + [set()] * 2  # 38-39
    )
    return sets


def _write_nus(root):
    sets = _nus_labels()
    n = len(sets)
    entries = [f"C:\\ImageData\\Flickr\\folder{i % 3}\\{i:04d}_{1000 + i}.jpg" for i in range(n)]
    (root / "ImageList").mkdir(parents=True)
    (root / "ImageList" / "Imagelist.txt").write_text("\n".join(entries) + "\n")
    tags = root / "NUS_WID_Tags"
    tags.mkdir()
    (tags / "TagList1k.txt").write_text("\n".join(NUS_VOCAB) + "\n")
    rows = []
    for i in range(n):
        on = set() if 26 <= i <= 28 else {i % 6, (i + 2) % 6}
        rows.append(" ".join("1" if j in on else "0" for j in range(len(NUS_VOCAB))) + " ")
    (tags / "AllTags1k.txt").write_text("\n".join(rows) + "\n")
    lab = root / "Groundtruth" / "AllLabels"
    lab.mkdir(parents=True)
    for c in NUS_CONCEPTS:
        (lab / f"Labels_{c}.txt").write_text("".join(f"{int(c in s)}\n" for s in sets))
    for i, e in enumerate(entries):
        if i != 29:
            _image(root / "Flickr" / e.split("\\")[-2] / e.split("\\")[-1], value=i)


def test_nus_auto_selects_largest_single_label_concepts(tmp_path):
    _write_nus(tmp_path)
    ds = nus_wide_10k("nus", tmp_path, concepts=None, n_classes=2, per_class=5, seed=0)
    # usable single-label images: sky 10, clouds 8 (one image missing), animal 7, food 4
    assert ds.class_names == ["clouds", "sky"]
    assert ds.n == 10 and np.bincount(ds.labels).tolist() == [5, 5]
    sel = ds.meta["selection"]
    assert sel["usable_per_class"] == {"clouds": 8, "sky": 10}
    assert sel["missing_images_skipped"] == 1
    idx = [int(re.search(r"/(\d{4})_", p).group(1)) for p in ds.views["image"]]
    assert idx == sorted(idx)
    for i, y in zip(idx, ds.labels, strict=True):
        assert (0 <= i <= 9) if ds.class_names[y] == "sky" else (30 <= i <= 37)
    assert ds.views["image"][0].startswith("Flickr/folder")
    i0 = idx[0]
    assert ds.views["text"][0] == " ".join(NUS_VOCAB[j] for j in sorted({i0 % 6, (i0 + 2) % 6}))
    assert ds.masks["text"].all()
    assert ds.meta["reference_counts"] == {
        "n": 10000, "k": 10, "largest_class_share": 0.1, "smallest_class_share": 0.1,
        "per_class": 1000,
    }  # fmt: skip
    same = nus_wide_10k("nus", tmp_path, concepts=None, n_classes=2, per_class=5, seed=0)
    assert same.views["image"].tolist() == ds.views["image"].tolist()
    other = nus_wide_10k("nus", tmp_path, concepts=None, n_classes=2, per_class=5, seed=3)
    assert other.views["image"].tolist() != ds.views["image"].tolist()
    _round_trip(ds, tmp_path)


def test_nus_explicit_concepts_and_exclusivity(tmp_path):
    _write_nus(tmp_path)
    ds = nus_wide_10k("nus", tmp_path, concepts=["food", "animal"], per_class=4)
    assert ds.class_names == ["animal", "food"]
    assert np.bincount(ds.labels).tolist() == [4, 4]
    # exactly one of the chosen concepts: sky+clouds images now count for sky
    ds = nus_wide_10k("n", tmp_path, concepts=["sky", "animal"], exclusive_among="chosen",
                      per_class=100)  # fmt: skip
    assert ds.meta["selection"]["usable_per_class"] == {"animal": 7, "sky": 15}
    assert ds.n == 22  # fewer than per_class: all of them, with a warning
    with pytest.raises(DatasetError, match="unknown NUS-WIDE concepts"):
        nus_wide_10k("n", tmp_path, concepts=["unicorn"])
    # toy images have no tags: never selected
    with pytest.raises(DatasetError, match="no sample was selected"):
        nus_wide_10k("n", tmp_path, concepts=["toy"], per_class=3)
    ds = nus_wide_10k("n", tmp_path, concepts=["toy", "food"], per_class=3)
    assert ds.class_names == ["food"] and ds.n == 3


def test_nus_missing_files(tmp_path):
    with pytest.raises(DatasetError, match=r"Imagelist\.txt is missing.*cannot be downloaded"):
        nus_wide_10k("n", tmp_path)
    _write_nus(tmp_path)
    (tmp_path / "NUS_WID_Tags" / "TagList1k.txt").unlink()
    with pytest.raises(DatasetError, match=r"TagList1k\.txt"):
        nus_wide_10k("n", tmp_path)
    _write_nus_rows = tmp_path / "Groundtruth" / "AllLabels" / "Labels_sky.txt"
    (tmp_path / "NUS_WID_Tags" / "TagList1k.txt").write_text("\n".join(NUS_VOCAB))
    _write_nus_rows.write_text("0\n1\n")
    with pytest.raises(DatasetError, match=r"Labels_sky\.txt has 2 rows"):
        nus_wide_10k("n", tmp_path)


# -- bring your own --------------------------------------------------------------------


def _write_byo(root, tsv):
    for name in ("a.png", "b.png", "sub/c.jpg", "d.png"):
        _image(root / "imgs" / name)
    (root / "captions.tsv").write_text(tsv)


def test_captioned_folder_with_header_and_string_labels(tmp_path):
    _write_byo(
        tmp_path,
        "image\tcaption\tlabel\n"
        "imgs/a.png\ta  cat on a mat\tcat\n"
        "imgs/b.png\t\tdog\n"
        "\n"
        "imgs/sub/c.jpg\ta dog\tdog\n"
        "imgs/d.png\tanother cat\tcat\n",
    )
    ds = captioned_folder("mine", tmp_path)
    assert ds.class_names == ["cat", "dog"]
    assert ds.labels.tolist() == [0, 1, 1, 0]
    assert ds.views["image"].tolist() == [
        "imgs/a.png",
        "imgs/b.png",
        "imgs/sub/c.jpg",
        "imgs/d.png",
    ]
    assert ds.views["text"].tolist() == ["a cat on a mat", "", "a dog", "another cat"]
    assert ds.masks["text"].tolist() == [True, False, True, True]
    assert ds.meta["image_root"] == str(tmp_path)
    _round_trip(ds, tmp_path)


def test_captioned_folder_reordered_header_and_numeric_labels(tmp_path):
    _write_byo(tmp_path, "label\tx\n")  # placeholder, rewritten below
    (tmp_path / "caps.tsv").write_text("file\tclass\ttext\nimgs/a.png\t10\thi\nimgs/b.png\t2\tho\n")
    ds = captioned_folder("m", tmp_path, captions="caps.tsv")
    assert ds.class_names == ["2", "10"] and ds.labels.tolist() == [1, 0]
    assert ds.views["text"].tolist() == ["hi", "ho"]
    (tmp_path / "caps.tsv").write_text("imgs/a.png\thello\t7\nimgs/d.png\tbye\t3\n")  # no header
    ds = captioned_folder("m", tmp_path, captions="caps.tsv")
    assert ds.class_names == ["3", "7"] and ds.labels.tolist() == [1, 0]


def test_captioned_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"captions\.tsv is missing.*<label>"):
        captioned_folder("m", tmp_path)
    _write_byo(tmp_path, "imgs/a.png\ta cat\n")
    with pytest.raises(DatasetError, match=r"captions\.tsv:1: no label column.*required"):
        captioned_folder("m", tmp_path)
    (tmp_path / "captions.tsv").write_text("image\tcaption\nimgs/a.png\ta cat\n")
    with pytest.raises(DatasetError, match="no label column"):
        captioned_folder("m", tmp_path)
    (tmp_path / "captions.tsv").write_text("imgs/a.png\ta cat\t\n")
    with pytest.raises(DatasetError, match="empty label"):
        captioned_folder("m", tmp_path)
    (tmp_path / "captions.tsv").write_text("imgs/zzz.png\ta cat\tcat\n")
    with pytest.raises(DatasetError, match=r"zzz\.png"):
        captioned_folder("m", tmp_path)


# -- synthetic captions ----------------------------------------------------------------


def _digits(n=5000, seed=1):
    rng = np.random.default_rng(seed)
    return MultiViewDataset(
        name="digits_src",
        views={"image": rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)},
        labels=np.arange(n) % 10,
        kinds={"image": "image"},
        class_names=[str(i) for i in range(10)],
        meta={"source": "test digits", "licence": "CC0"},
    )


def _named_digits(caption):
    out = []
    for tok in re.findall(r"[a-z0-9]+", caption.lower()):
        if tok in DIGIT_WORDS:
            out.append(DIGIT_WORDS.index(tok))
        elif tok.isdigit():
            out.append(int(tok))
    return out


@pytest.mark.parametrize(("wrong", "uninformative", "missing"), [(0.1, 0.1, 0.1), (0.3, 0.05, 0.2)])
def test_synthetic_captions_rates_and_kinds(wrong, uninformative, missing):
    src = _digits()
    ds = synthetic_captions(
        "demo", src, seed=0, wrong_rate=wrong, uninformative_rate=uninformative,
        missing_rate=missing,
    )  # fmt: skip
    n = ds.n
    kinds = np.array(list(ds.meta["caption_kinds"]))
    text, mask = ds.views["text"], ds.masks["text"]
    for letter, rate in (("w", wrong), ("u", uninformative), ("m", missing)):
        assert abs((kinds == letter).mean() - rate) <= 0.02
    assert np.array_equal(mask, kinds != "m")
    assert (text[~mask] == "").all()
    for i in range(n):
        named = _named_digits(text[i])
        if kinds[i] == "c":
            assert named == [ds.labels[i]], text[i]
        elif kinds[i] == "w":
            assert len(named) == 1 and named[0] != ds.labels[i], text[i]
        else:
            assert named == [], text[i]
    assert ds.meta["synthetic_captions"] is True
    assert "synthetic" in ds.meta["display_name"].lower()
    assert "SYNTHETIC" in ds.meta["notes"]
    assert len({t for t in text if t}) > 200  # a grammar, not a handful of strings


def test_synthetic_captions_images_and_determinism(tmp_path):
    src = _digits(n=300)
    ds = synthetic_captions("demo", src, seed=5)
    img = ds.views["image"]
    assert img.shape == (300, 28, 28, 3) and img.dtype == np.uint8
    assert ds.kinds == {"image": "image", "text": "text"}
    assert np.array_equal(ds.labels, src.labels) and ds.class_names == src.class_names
    # the colour word of a caption is the colour of the strokes
    i = int(np.flatnonzero(np.array(list(ds.meta["caption_kinds"])) == "c")[0])
    colour = next(c for c in COLOURS if c in ds.views["text"][i].split())
    brightest = np.unravel_index(np.argmax(src.views["image"][i]), (28, 28))
    assert np.abs(img[i][brightest].astype(int) - COLOURS[colour]).max() <= 1
    same = synthetic_captions("demo", src, seed=5)
    assert np.array_equal(same.views["image"], img)
    assert same.views["text"].tolist() == ds.views["text"].tolist()
    other = synthetic_captions("demo", src, seed=6)
    assert other.views["text"].tolist() != ds.views["text"].tolist()
    grey = synthetic_captions("demo", src, seed=5, colour=False).views["image"]
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    back = _round_trip(ds, tmp_path)
    assert back.meta["synthetic_captions"] is True
    with pytest.raises(DatasetError, match="exceed 1"):
        synthetic_captions("d", src, wrong_rate=0.5, uninformative_rate=0.4, missing_rate=0.2)


def _register_fake(monkeypatch, source, builder):
    """Register ``builder`` as ``source`` through a stand-in module."""
    module = types.ModuleType("fake_builder_module")
    module.build = builder
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(BUILDERS, source, f"{module.__name__}:build")


def test_synthetic_captions_default_source_is_mnist5k(monkeypatch):
    calls = []

    def fake_mnist5k(name="mnist5k"):
        calls.append(name)
        return _digits(n=50)

    _register_fake(monkeypatch, "mnist5k", fake_mnist5k)
    ds = synthetic_captions("demo")
    assert calls == ["mnist5k"] and ds.n == 50


def test_synthetic_captions_from_a_named_offline_source(monkeypatch):
    _register_fake(monkeypatch, "tiny_digits", lambda name: _digits(n=40))
    ds = synthetic_captions("demo", source="tiny_digits", seed=0)
    assert ds.n == 40 and ds.views["image"].shape == (40, 28, 28, 3)
    assert ds.meta["source"] == "test digits images + synthetic captions"
