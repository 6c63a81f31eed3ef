"""Gradient saliency from captum: vanilla gradient, SmoothGrad and Integrated Gradients."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from xai.base import (
    BACKWARD_CHUNK,
    Explainer,
    SignedLogit,
    gradients_only_for,
    input_gradient_model,
    model_lock,
    to_input,
)
from xai.settings import Setting

SALIENCY_METHODS = ["Vanilla gradient", "SmoothGrad", "Integrated Gradients"]


class SaliencyExplainer(Explainer):
    name = "Saliency"
    how_to_read = ("Red and yellow spots are pixels where a tiny change would move the score most. It is speckled by nature: look for "
                   "clusters (an eye, a hairline, a blended edge), not single dots.")
    settings = (Setting("method", "Saliency method", "choice", "SmoothGrad", choices=tuple(SALIENCY_METHODS),
                        help="SmoothGrad (default) averages over slightly noisy copies, so single-pixel speckle fades."),)

    def __init__(self, method: str = "SmoothGrad", samples: int = 12, noise: float = 0.1, steps: int = 24, seed: int = 0) -> None:
        if method not in SALIENCY_METHODS:
            raise ValueError(f"unknown saliency method {method!r}; choose from {SALIENCY_METHODS}")
        super().__init__(method=method, samples=samples, noise=noise, steps=steps, seed=seed)
        self.name = method

    def attribute(self, model: nn.Module, face: np.ndarray, target: int) -> tuple[np.ndarray, dict]:
        model = input_gradient_model(model)  # same function, cheaper backward pass (see xai.base)
        pixels = to_input(face, model).contiguous()
        forward = SignedLogit(model, target)
        method, p = self.params["method"], self.params
        with model_lock(model), torch.enable_grad(), gradients_only_for(model):
            torch.manual_seed(p["seed"])  # SmoothGrad's noise is drawn from torch's generator
            if method == "Vanilla gradient":
                attributions = Saliency(forward).attribute(pixels, target=0, abs=True)
            elif method == "SmoothGrad":
                tunnel = NoiseTunnel(Saliency(forward))
                attributions = tunnel.attribute(
                    pixels, target=0, nt_type="smoothgrad", nt_samples=p["samples"],
                    nt_samples_batch_size=BACKWARD_CHUNK, stdevs=p["noise"], abs=True,
                )
            else:
                attributions = IntegratedGradients(forward).attribute(
                    pixels, baselines=torch.zeros_like(pixels), target=0, n_steps=p["steps"], internal_batch_size=BACKWARD_CHUNK
                )
        heat = attributions.detach().abs().sum(dim=1)[0].cpu().numpy()
        # Raw gradients are speckled at pixel level; a small blur shows the regions a person can read.
        return cv2.GaussianBlur(heat, (0, 0), 2.0), {}
