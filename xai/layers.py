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
    "stem": "The first convolution: edge, colour and brightness detectors at half resolution. Blending seams and "
            "compression blocks show up here, but nothing here knows what a face is.",
    "early": "Early blocks respond to edges and fine texture at high resolution (1/2 to 1/4): the outlines of eyes, "
             "mouth, nose and hair are still easy to recognise, and so are skin texture and JPEG grids.",
    "middle": "Middle blocks (1/8 to 1/16 resolution) mix those edges into parts. A single channel here looks patchy, "
              "almost like noise, because each one answers to a combination of patterns; Grad-CAM at this depth "
              "is the better view: on most faces it points at the eyes, nose and mouth.",
    "late": "The last layers are coarse (7x7) but semantic: whole regions that the classifier weighs to decide. "
            "Grad-CAM is usually computed here, which is why its maps are blurry.",
}

# The layer explorer opens here: chosen by looking at every layer's strongest channels on the bundled faces
# (issue 19: the middle block, block 3, opened on 14x14 channel maps that look like noise). Block 0's maps at
# 112x112 show the eyes, mouth and hairline as edges, which is what a first look should show.
EXPLORER_DEFAULT_LAYER = "block 0"


def explorer_default(layers: list[str]) -> str:
    return EXPLORER_DEFAULT_LAYER if EXPLORER_DEFAULT_LAYER in layers else layers[min(1, len(layers) - 1)]


def depth_note(layer: str, layers: list[str]) -> str:
    position = layers.index(layer) / max(1, len(layers) - 1)
    if layer.startswith("stem"):
        return DEPTH_NOTES["stem"]
    if position < 0.35:
        return DEPTH_NOTES["early"]
    if position < 0.75:
        return DEPTH_NOTES["middle"]
    return DEPTH_NOTES["late"]
