"""What a layer sees: the strongest channels' activation maps for one face."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xai.base import face_array, model_lock, normalize, to_input
from xai.gradcam import layer_choices


def activation_maps(model: nn.Module, face, layer: str, k: int = 16) -> tuple[np.ndarray, list[int], tuple[int, int]]:
    """(k maps in [0, 1] at the face's size, their channel numbers, the layer's own H x W),
    strongest channels (mean activation) first. The hook lives only inside this call."""
    module = layer_choices(model)[layer]
    array = face_array(face)
    captured = {}

    def hook(_module, _inputs, output):
        captured["out"] = output.detach().float().cpu()

    with model_lock(model), torch.inference_mode():
        handle = module.register_forward_hook(hook)
        try:
            model(to_input(array, model))
        finally:
            handle.remove()
    activations = captured["out"][0]  # (C, h, w)
    strength = activations.mean(dim=(1, 2))
    channels = torch.argsort(strength, descending=True)[:k].tolist()
    size = array.shape[:2]
    maps = np.stack([normalize(activations[c].numpy(), size, clip_percentile=100) for c in channels])
    return maps, channels, tuple(activations.shape[1:])


DEPTH_NOTES = {
    "stem": "The first convolution: edge, colour and texture detectors at half resolution. Blending seams and "
            "compression blocks show up here, but nothing here knows what a face is.",
    "early": "Early blocks combine edges into textures and small patterns (skin pores, hair strands, JPEG grids).",
    "middle": "Middle blocks respond to parts: eyes, mouth corners, the face's outline, at 1/8 to 1/16 resolution.",
    "late": "The last layers are coarse (7x7) but semantic: whole regions that the classifier weighs to decide. "
            "Grad-CAM is usually computed here, which is why its maps are blurry.",
}


def depth_note(layer: str, layers: list[str]) -> str:
    position = layers.index(layer) / max(1, len(layers) - 1)
    if layer.startswith("stem"):
        return DEPTH_NOTES["stem"]
    if position < 0.35:
        return DEPTH_NOTES["early"]
    if position < 0.75:
        return DEPTH_NOTES["middle"]
    return DEPTH_NOTES["late"]
