"""SHAP values with captum's GradientShap, averaged over the LIME superpixels.

GradientShap (expected gradients) attributes the logit to pixels against a set of baselines
(here: a black face and a heavily blurred copy of the face); averaging the signed pixel
attributions within the same SLIC superpixels that LIME uses makes the two maps comparable.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from captum.attr import GradientShap
from torch import nn

from xai.base import (
    BACKWARD_CHUNK,
    Explainer,
    SignedLogit,
    gradients_only_for,
    input_gradient_model,
    model_lock,
    signed_map,
    to_input,
)
from xai.segments import region_means, superpixels
from xai.settings import Setting


class ShapExplainer(Explainer):
    name = "SHAP"
    how_to_read = ("Red patches add to the 'fake' score, green ones to 'real'. Measured by fading each patch in from a blank or "
                   "blurred face and adding up how the score changed on the way.")
    # Superpixels: one widget with LIME's (the page has always passed LIME's count to SHAP too).
    settings = (
        Setting("samples", "SHAP samples", "int", 16, low=4, high=64, step=4,
                help="How many steps SHAP takes from a blank face to this one. More is steadier but slower."),
        Setting("segments", "LIME / SHAP patches", "int", 50, low=10, high=150, step=5, shared="superpixels"),
    )

    def __init__(self, samples: int = 16, segments: int = 50, noise: float = 0.05, seed: int = 0) -> None:
        super().__init__(samples=samples, segments=segments, noise=noise, seed=seed, variant="captum GradientShap")

    def attribute(self, model: nn.Module, face: np.ndarray, target: int) -> tuple[np.ndarray, dict]:
        model = input_gradient_model(model)  # same function, cheaper backward pass (see xai.base)
        p = self.params
        pixels = to_input(face, model).contiguous()
        blurred = to_input(cv2.GaussianBlur(face, (0, 0), 8.0), model).contiguous()
        baselines = torch.cat([torch.zeros_like(pixels), blurred])
        with model_lock(model), torch.enable_grad(), gradients_only_for(model):
            # captum draws the noise from torch and the baseline mix from numpy's global generator:
            # seed both, and give numpy its state back afterwards.
            numpy_state = np.random.get_state()
            torch.manual_seed(p["seed"])
            np.random.seed(p["seed"])
            try:
                shap = GradientShap(SignedLogit(model, 1))
                # The mean of equal-sized chunks is the same estimator as one big batch, but the
                # backward pass holds activations for BACKWARD_CHUNK faces only (peak memory ~4x lower).
                chunks = [min(BACKWARD_CHUNK, p["samples"] - start) for start in range(0, p["samples"], BACKWARD_CHUNK)]
                attributions = sum(
                    shap.attribute(pixels, baselines=baselines, n_samples=n, stdevs=p["noise"], target=0) * n for n in chunks
                ) / p["samples"]
            finally:
                np.random.set_state(numpy_state)
        pixel_values = attributions.detach().sum(dim=1)[0].cpu().numpy().astype(np.float64)
        segments = superpixels(face, n_segments=p["segments"])
        signed = signed_map(region_means(pixel_values, segments))  # + = evidence for "fake"
        return signed, {"signed": signed, "segments": segments}
