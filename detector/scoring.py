"""The model's boundary, in one place: face crops -> input tensor -> batched forward pass -> logits
-> calibrated P(fake) -> verdict.

Inference (Detector), training and calibration, evaluation, the stability check and every
explainer go through these functions, so the pixel scaling, the batching and the calibration
sigmoid(logit / T) are written once.

The model itself normalises (DeepfakeClassifier.forward), so its input is plain RGB in [0, 1].
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

_FALLBACK_LOCK = threading.RLock()
# model object -> weak references to cheaper stand-ins that compute the same function, registered by its
# owner (the Detector): `folded` (batch norm folded into the convolutions; input gradients through it need
# fewer saved activations) and `logits` (raw logits with no autograd at all: ONNX Runtime on a CPU, for an
# (N, H, W, 3) crop array). Keyed by the object, so a copy (the sanity check's randomised model) never
# borrows the original's stand-ins; weak both ways, so this table keeps neither the model nor its owner alive.
_STAND_INS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_lock(model: nn.Module) -> threading.RLock:
    """The lock that serialises every use of a shared model (see DeepfakeClassifier.lock)."""
    return getattr(model, "lock", _FALLBACK_LOCK)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def to_input(crops: Sequence[Image.Image] | np.ndarray, device: torch.device | str = "cpu", channels_last: bool = False) -> torch.Tensor:
    """Face crops -> (N, 3, H, W) float tensor in [0, 1] on `device`.

    `crops` is a list of RGB images, or an (N, H, W, 3) / (H, W, 3) array: uint8 is scaled by 1/255,
    float is taken as already in [0, 1]. channels_last is ~1.7x faster for this network's depthwise
    convolutions on CPU at training batch sizes; the explainers measured plain layout faster for
    their small batches. Both give the model the same numbers.
    """
    if isinstance(crops, np.ndarray):
        array = crops[None] if crops.ndim == 3 else crops
    else:
        array = np.stack([np.asarray(c, dtype=np.uint8) for c in crops])
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:  # e.g. np.asarray(PIL image) or a memmap; torch warns about read-only memory
        array = array.copy()
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2).float()
    if array.dtype == np.uint8:
        tensor = tensor.div_(255.0)
    tensor = tensor.to(device)
    return tensor.contiguous(memory_format=torch.channels_last) if channels_last else tensor.contiguous()


def crop_pixels(crop: Image.Image) -> np.ndarray:
    """One RGB crop -> (1, 3, H, W) float32 array in [0, 1], the numbers to_input([crop]) gives (uint8 / 255, each
    value correctly rounded in float32) in one numpy pass and without torch, so threads building and scoring crops
    side by side (OnnxScorer.logits_as_built) do not share torch's thread pool."""
    array = np.asarray(crop, dtype=np.uint8)
    out = np.empty((1, 3, *array.shape[:2]), dtype=np.float32)
    np.divide(array.transpose(2, 0, 1)[None], np.float32(255.0), out=out, dtype=np.float32)
    return out


def batched_logits(model: nn.Module, crops: Sequence[Image.Image] | np.ndarray, batch_size: int | None = None,
           channels_last: bool = False) -> np.ndarray:
    """Raw 'fake' logits (N,) float32 for face crops: batched forward passes under the model lock.

    batch_size None means one pass for all crops (the faces of one picture).
    """
    count = len(crops)
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    step = batch_size or count
    device = model_device(model)
    out = []
    for start in range(0, count, step):
        with model_lock(model), torch.inference_mode():
            batch = to_input(crops[start : start + step], device, channels_last)
            out.append(model(batch).squeeze(1).float().cpu().numpy())
    return np.concatenate(out)


def calibrated_probability(values: torch.Tensor | np.ndarray | float, temperature: float = 1.0) -> np.ndarray:
    """P(fake) = sigmoid(logit / T); T = 1 gives the uncalibrated probability.

    Keeps the input's precision: the app's float32 logits give float32 scores, float64 stays float64.
    """
    tensor = values if torch.is_tensor(values) else torch.from_numpy(np.asarray(values))
    if not tensor.is_floating_point():
        tensor = tensor.double()
    return torch.sigmoid(tensor / temperature).cpu().numpy()


def model_temperature(model: nn.Module) -> float:
    """The checkpoint's calibration temperature (1.0 for a model without a config)."""
    return float(getattr(getattr(model, "config", None), "temperature", 1.0))


def p_fake_of_crops(model: nn.Module, crops: Sequence[Image.Image] | np.ndarray, batch_size: int | None = None,
                  channels_last: bool = False) -> np.ndarray:
    """Calibrated P(fake) for face crops, batched."""
    return calibrated_probability(batched_logits(model, crops, batch_size, channels_last), model_temperature(model))


def register_stand_ins(model: nn.Module, folded: nn.Module | None = None,
                       logits: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
    """Let computations on `model` that need no weight gradients use cheaper equivalents (held weakly):
    `folded`, a module with the same function (to float precision) for input gradients, and `logits`
    (a bound method) giving `model`'s raw logits for an (N, H, W, 3) crop array where no gradient is needed."""
    _STAND_INS[model] = (weakref.ref(folded) if folded is not None else _none,
                         weakref.WeakMethod(logits) if logits is not None else _none)


def _none() -> None:
    return None


def input_gradient_model(model: nn.Module) -> nn.Module:
    """The module to take input gradients (saliency, SHAP) through: the folded stand-in registered for this
    very model while its owner is alive, else the model itself."""
    folded = _STAND_INS[model][0]() if model in _STAND_INS else None
    return folded if folded is not None else model


def forward_only_logits(model: nn.Module, crops: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Raw logits (N,) where no gradient is needed (LIME's perturbed faces, deletion curves): through the
    `logits` stand-in registered for this very model (register_stand_ins) while its owner is alive, else
    `batched_logits` (torch, inference mode). Chunks of `batch_size` crops bound the input held at once."""
    logits = _STAND_INS[model][1]() if model in _STAND_INS else None
    if logits is None:
        return batched_logits(model, crops, batch_size)
    if len(crops) == 0:
        return np.zeros(0, dtype=np.float32)
    step = batch_size or len(crops)
    return np.concatenate([logits(crops[start : start + step]) for start in range(0, len(crops), step)]).astype(np.float32)
