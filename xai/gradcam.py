"""Class activation maps from the grad-cam package, at a selectable layer."""

from __future__ import annotations

import numpy as np
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM, XGradCAM
from torch import nn

from xai.base import FAKE, Explainer, gradients_only_for, model_lock, to_input
from xai.settings import Setting

CAM_METHODS = {
    "Grad-CAM": GradCAM,
    "Grad-CAM++": GradCAMPlusPlus,
    "HiResCAM": HiResCAM,
    "LayerCAM": LayerCAM,
    "EigenCAM (slow at early layers)": EigenCAM,
    "XGradCAM": XGradCAM,
    "ScoreCAM (slow: 10-40 s on a CPU)": ScoreCAM,
}
FAST_CAM_METHODS = [name for name in CAM_METHODS if not name.startswith("ScoreCAM")]
# grad-cam's EigenCAM runs a full SVD (full_matrices=True) over every spatial position: ~40 s at
# the 112x112 stem on a CPU, well under a second from block 3 on.


class BinaryTarget:
    """grad-cam target for a one-logit model: the logit for 'fake', its negative for 'real'."""

    def __init__(self, target: int) -> None:
        self.sign = 1.0 if target == FAKE else -1.0

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return output[..., 0] * self.sign if output.ndim else output * self.sign


def layer_choices(model: nn.Module) -> dict[str, nn.Module]:
    """Named layers, shallow to deep; falls back to the model's last block for foreign models."""
    if hasattr(model, "layer_choices"):
        return model.layer_choices()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return {"last conv": convs[-1]}


def default_layer(model: nn.Module) -> str:
    return list(layer_choices(model))[-1]


class GradCamExplainer(Explainer):
    name = "Grad-CAM"
    how_to_read = ("Red and yellow areas are the parts of the face that weighed most in the model's answer; blue ones barely "
                   "counted. It shows where the model looked, not what it saw there.")
    release_memory_after = False  # one forward and one short backward pass
    settings = (
        Setting("method", "Grad-CAM method", "choice", "Grad-CAM", choices=tuple(FAST_CAM_METHODS),
                help="Variants of the same idea (where the model looked); they differ in detail, rarely in the overall picture."),
        Setting("layer", "Grad-CAM layer", "layer",
                help="Which stage of the model to look into: early stages see edges and texture, the last one (default) whole regions of the face."),
    )

    def __init__(self, method: str = "Grad-CAM", layer: str | None = None) -> None:
        if method not in CAM_METHODS:
            raise ValueError(f"unknown CAM method {method!r}; choose from {list(CAM_METHODS)}")
        super().__init__(method=method, layer=layer)
        self.name = method.split(" (")[0]

    def attribute(self, model: nn.Module, face: np.ndarray, target: int) -> tuple[np.ndarray, dict]:
        layers = layer_choices(model)
        layer_name = self.params["layer"] or default_layer(model)
        if layer_name not in layers:
            raise ValueError(f"unknown layer {layer_name!r}; choose from {list(layers)}")
        self.params["layer"] = layer_name
        cam_class = CAM_METHODS[self.params["method"]]
        pixels = to_input(face, model)
        # Hooks live only inside this call, under the model lock; the context manager removes them.
        layer = layers[layer_name]
        with (
            model_lock(model),
            torch.enable_grad(),
            gradients_only_for(model, keep=layer),
            cam_class(model=model, target_layers=[layer]) as cam,
        ):
            heat = cam(input_tensor=pixels, targets=[BinaryTarget(target)])[0]
            logit = float(cam.outputs[0, 0].detach())
        return heat, {"logit": logit}
