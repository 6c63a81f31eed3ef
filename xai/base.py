"""The one interface every explanation method shares (after pytorch-grad-cam's BaseCAM).

An explainer is built with its parameters and called as `explainer.explain(model, face,
target)`. It returns an `Explanation` whose `heatmap` is in [0, 1] at the face crop's size
(1 = most important for the target class), so a page never cares which method made a map.
Subclasses override one method, `attribute`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from detector import scoring
from detector.memory import release_free_memory
from detector.scoring import model_device, model_lock  # noqa: F401  (model_lock: re-exported for the explainers)
from xai.settings import Setting

FAKE, REAL = 1, 0
# Faces per backward pass in the gradient methods (SmoothGrad, Integrated Gradients, SHAP): it bounds
# the activations autograd holds. 1 keeps the app's peak RSS ~270 MB lower than 4 at the same speed
# on CPU (benchmarks/bench_memory_server.py).
BACKWARD_CHUNK = 1


@dataclass
class Explanation:
    method: str
    heatmap: np.ndarray  # (H, W) float32 in [0, 1] at the face's size; importance for `target`
    target: int  # 1 = explains "fake", 0 = explains "real"
    params: dict
    seconds: float
    how_to_read: str
    # For methods with a sign (LIME, SHAP): (H, W) in [-1, 1], + = evidence for "fake".
    signed: np.ndarray | None = None
    segments: np.ndarray | None = None  # superpixels, for methods that use them
    extra: dict = field(default_factory=dict)

    @property
    def target_name(self) -> str:
        return "fake" if self.target == FAKE else "real"


def face_array(face: Image.Image | np.ndarray) -> np.ndarray:
    """A face crop as (H, W, 3) uint8 RGB."""
    array = np.asarray(face.convert("RGB") if isinstance(face, Image.Image) else face)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError("a face must be an RGB image")
    return np.ascontiguousarray(array.astype(np.uint8))


def to_input(array: np.ndarray, model: nn.Module) -> torch.Tensor:
    """(N, H, W, 3) or (H, W, 3) uint8/float -> (N, 3, H, W) float in [0, 1] on the model's device."""
    # Plain contiguous input: measured faster than channels_last for small CPU batches here.
    return scoring.to_input(array, model_device(model), channels_last=False)


class SignedLogit(nn.Module):
    """The model's logit for the target: +logit for 'fake', -logit for 'real'."""

    def __init__(self, model: nn.Module, target: int) -> None:
        super().__init__()
        self.model = model
        self.sign = 1.0 if target == FAKE else -1.0

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixels) * self.sign


@contextmanager
def gradients_only_for(model: nn.Module, keep: nn.Module | None = None):
    """Switch off weight gradients (all of them, or all outside `keep`) for one explanation.

    Explanations need gradients of activations or inputs, never of weights; skipping the weight
    gradients makes the backward pass far cheaper (Grad-CAM at the last layer stops right there).
    Call it under the model lock: the flags are shared model state, restored on exit.
    """
    saved = [(p, p.requires_grad) for p in model.parameters()]
    kept = {id(p) for p in keep.parameters()} if keep is not None else set()
    try:
        for parameter, _ in saved:
            parameter.requires_grad_(id(parameter) in kept)
        yield
    finally:
        for parameter, flag in saved:
            parameter.requires_grad_(flag)


def input_gradient_model(model: nn.Module) -> nn.Module:
    """What the input-gradient methods (saliency, SHAP) differentiate: a Detector's model with batch norm
    folded into its convolutions, the same function to float precision, when the Detector registered it
    (detector.scoring.register_stand_ins); else the model itself. At 288 px the folded copy's backward pass
    held ~100 MB instead of ~155 MB and took about half the time (benchmarks/bench_memory_steps.py).
    Grad-CAM never uses it: its layers are the model's own."""
    return scoring.input_gradient_model(model)


def p_fake_of_crops(model: nn.Module, batch: np.ndarray, batch_size: int = 10) -> np.ndarray:
    """P(fake) for (N, H, W, 3) images (uint8, or float in [0, 1]), batched, under the model lock.

    No gradient is needed here, so a Detector's model is scored by its ONNX Runtime graph (the same
    logits to ~1e-5): at a 288 px input torch's batches of 10 added ~300-500 MB to the app's peak RSS,
    the graph's runs of 2 crops ~30 MB, in about half the time (detector.scoring.forward_only_logits)."""
    logits = scoring.forward_only_logits(model, batch, batch_size)
    return scoring.calibrated_probability(logits, scoring.model_temperature(model))


def normalize(raw: np.ndarray, size: tuple[int, int], clip_percentile: float = 99.5) -> np.ndarray:
    """Resize to (H, W) and scale to [0, 1], clipping the top outliers so one pixel can't dominate."""
    heat = np.nan_to_num(np.asarray(raw, dtype=np.float32))
    if heat.shape != size:
        heat = cv2.resize(heat, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    low = float(heat.min())
    high = float(np.percentile(heat, clip_percentile))
    if high - low < 1e-12:
        return np.zeros(size, dtype=np.float32)
    return np.clip((heat - low) / (high - low), 0.0, 1.0).astype(np.float32)


class Explainer:
    """Base class: holds parameters, times the call, returns a normalised Explanation."""

    name = "explainer"
    how_to_read = ""
    # What a user may change, with ranges and defaults: pages build their widgets from this.
    settings: tuple[Setting, ...] = ()
    # Methods that run many forward/backward passes hand their freed buffers back to the OS
    # afterwards (keeps a long-running app's RSS flat); one-pass methods skip the ~5 ms this costs.
    release_memory_after = True

    def __init__(self, **params) -> None:
        self.params = params

    def attribute(self, model: nn.Module, face: np.ndarray, target: int) -> tuple[np.ndarray, dict]:
        """Return (raw map at any size, extras: signed / segments / anything else)."""
        raise NotImplementedError

    def explain(self, model: nn.Module, face: Image.Image | np.ndarray, target: int = FAKE) -> Explanation:
        array = face_array(face)
        start = time.perf_counter()
        was_training = model.training
        model.eval()
        try:
            raw, extra = self.attribute(model, array, int(target))
        finally:
            model.train(was_training)
            if self.release_memory_after:
                release_free_memory()
        seconds = time.perf_counter() - start
        signed = extra.pop("signed", None)
        segments = compact_labels(extra.pop("segments", None))
        if signed is not None:
            heatmap = (signed + 1.0) / 2.0 if target == FAKE else (1.0 - signed) / 2.0
            heatmap = heatmap.astype(np.float32)
        else:
            heatmap = normalize(raw, array.shape[:2])
        return Explanation(
            method=self.name,
            heatmap=heatmap,
            target=int(target),
            params=dict(self.params),
            seconds=seconds,
            how_to_read=self.how_to_read,
            signed=signed,
            segments=segments,
            extra=extra,
        )


def compact_labels(segments: np.ndarray | None) -> np.ndarray | None:
    """Superpixel labels in the smallest unsigned type that holds them: the app caches up to 128 maps,
    and SLIC's int64 labels were 0.66 MB per LIME or SHAP map at 288 px (uint8: 0.08 MB), same values."""
    if segments is None or segments.size == 0 or segments.min() < 0:
        return segments
    return segments.astype(np.min_scalar_type(int(segments.max())), copy=False)


def signed_map(values: np.ndarray) -> np.ndarray:
    """Scale a signed map to [-1, 1] keeping 0 at 0."""
    peak = float(np.abs(values).max())
    return (values / peak).astype(np.float32) if peak > 0 else np.zeros_like(values, dtype=np.float32)
